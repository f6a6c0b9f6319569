// Copyright netman authors.
//
// EventLog: what hooks and handlers saw, per connection (or session) id,
// for tests that check the order of events ("open", "handle", "close:OK")
// and wait for them without sleeping.
//
// Threading: every method is safe from any thread (loop threads add, the
// test thread reads and waits).
#ifndef NETMAN_TESTING_EVENT_LOG_H_
#define NETMAN_TESTING_EVENT_LOG_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "netman/base/sync.h"

namespace netman::testing {

class EventLog {
 public:
  explicit EventLog(absl::Duration timeout = absl::Seconds(20)) : timeout_(timeout) {}

  void Add(uint64_t id, std::string event) {
    MutexLock lock(&mu_);
    events_[id].push_back(std::move(event));
  }
  // The events of `id`, in order.
  std::vector<std::string> For(uint64_t id) {
    MutexLock lock(&mu_);
    return events_[id];
  }
  // Waits (up to the timeout) until `id` has an event starting with `prefix`.
  bool WaitFor(uint64_t id, const std::string& prefix) {
    MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(
        [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
          for (const std::string& e : events_[id]) {
            if (e.rfind(prefix, 0) == 0) return true;
          }
          return false;
        },
        timeout_);
  }
  // Waits until `count` events of all ids start with `prefix`.
  bool WaitForCount(const std::string& prefix, size_t count) {
    MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(
        [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return CountLocked(prefix) >= count; },
        timeout_);
  }
  // Events of all ids starting with `prefix`.
  size_t Count(const std::string& prefix) {
    MutexLock lock(&mu_);
    return CountLocked(prefix);
  }

 private:
  size_t CountLocked(const std::string& prefix) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    size_t n = 0;
    for (auto& [id, list] : events_) {
      for (const std::string& e : list) n += e.rfind(prefix, 0) == 0;
    }
    return n;
  }

  const absl::Duration timeout_;
  Mutex mu_;
  std::map<uint64_t, std::vector<std::string>> events_ ABSL_GUARDED_BY(mu_);
};

}  // namespace netman::testing

#endif  // NETMAN_TESTING_EVENT_LOG_H_
