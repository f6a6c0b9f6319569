// Copyright netman authors.
//
// CapturingLogSink: a LogSink for tests that keeps every line and lets a test
// wait (with a deadline, not a sleep) until a line containing some text
// appears.
//
// Threading: all methods are safe from any thread.
#ifndef NETMAN_BASE_TESTING_CAPTURING_LOG_SINK_H_
#define NETMAN_BASE_TESTING_CAPTURING_LOG_SINK_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "netman/base/log.h"
#include "netman/base/sync.h"

namespace netman {

class CapturingLogSink final : public LogSink {
 public:
  void Write(LogLevel level, std::string_view message) override {
    MutexLock lock(&mu_);
    lines_.emplace_back(std::string(LogLevelName(level)) + " " +
                        std::string(message));
  }

  std::vector<std::string> Lines() const {
    MutexLock lock(&mu_);
    return lines_;
  }

  bool Contains(std::string_view needle) const {
    MutexLock lock(&mu_);
    return ContainsLocked(needle);
  }

  // Blocks until a line containing `needle` was written or `timeout` passed;
  // returns whether it was found.
  bool WaitFor(std::string_view needle, absl::Duration timeout) const {
    MutexLock lock(&mu_);
    auto found = [this, needle]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return ContainsLocked(needle);
    };
    return mu_.AwaitWithTimeout(found, timeout);
  }

 private:
  bool ContainsLocked(std::string_view needle) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const std::string& line : lines_) {
      if (absl::StrContains(line, absl::string_view(needle.data(), needle.size()))) return true;
    }
    return false;
  }

  mutable Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

}  // namespace netman

#endif  // NETMAN_BASE_TESTING_CAPTURING_LOG_SINK_H_
