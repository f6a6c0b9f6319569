// Copyright netman authors.
//
// Framework logging with a pluggable sink (the Go netman's WithLogOutput).
//
// netman never writes to a global logger: every component that logs receives
// a Logger (usually through its options), which is a cheap copyable handle to
// a LogSink plus a minimum level. By default logs go to stderr at kInfo.
//
// Example: send framework logs to your own code.
//   netman::ServerOptions options;
//   options.logger = netman::Logger(
//       std::make_shared<netman::CallbackLogSink>(
//           [](netman::LogLevel level, std::string_view line) {
//             my_log(line);
//           }),
//       netman::LogLevel::kDebug);
//
// Threading: Logger is immutable after construction and safe to use from any
// thread; every LogSink::Write implementation must be thread-safe.
//
// Related: AsyncLogSink (async_log_sink.h) keeps a slow sink from blocking
// the threads that log; LogRateLimiter (log_rate_limiter.h) bounds lines
// logged once per event (per bad message).
#ifndef NETMAN_BASE_LOG_H_
#define NETMAN_BASE_LOG_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_format.h"
#include "netman/base/sync.h"

namespace netman {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };

// "DEBUG", "INFO", "WARNING", "ERROR", "OFF".
std::string_view LogLevelName(LogLevel level);

// Where log lines go. Write() receives one complete line without a trailing
// newline. Called concurrently from every event loop thread.
class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void Write(LogLevel level, std::string_view message) = 0;
};

// Writes "netman <LEVEL> <message>\n" to stderr with a single write(2), so
// lines from different threads never interleave.
class StderrLogSink final : public LogSink {
 public:
  void Write(LogLevel level, std::string_view message) override;
};

// Writes lines to a std::ostream the caller keeps alive, serialised by a
// mutex.
class OstreamLogSink final : public LogSink {
 public:
  explicit OstreamLogSink(std::ostream& out) : out_(out) {}
  void Write(LogLevel level, std::string_view message) override;

 private:
  Mutex mu_;
  std::ostream& out_ ABSL_GUARDED_BY(mu_);
};

// Hands each line to a callback (which must be thread-safe).
class CallbackLogSink final : public LogSink {
 public:
  using Callback = std::function<void(LogLevel, std::string_view)>;
  explicit CallbackLogSink(Callback callback) : callback_(std::move(callback)) {}
  void Write(LogLevel level, std::string_view message) override {
    callback_(level, message);
  }

 private:
  const Callback callback_;
};

// A handle to a sink with a minimum level. Formatting happens only when the
// level is enabled.
class Logger {
 public:
  // stderr, kInfo.
  Logger();
  Logger(std::shared_ptr<LogSink> sink, LogLevel min_level);

  bool Enabled(LogLevel level) const {
    return level >= min_level_ && min_level_ != LogLevel::kOff;
  }
  LogLevel min_level() const { return min_level_; }
  // The sink lines go to (never null), e.g. to wrap it in an AsyncLogSink.
  const std::shared_ptr<LogSink>& sink() const { return sink_; }

  // Writes an already formatted line if `level` is enabled.
  void Write(LogLevel level, std::string_view line) const {
    if (Enabled(level)) sink_->Write(level, line);
  }

  template <typename... Args>
  void Log(LogLevel level, const absl::FormatSpec<Args...>& format,
           const Args&... args) const {
    if (!Enabled(level)) return;
    sink_->Write(level, absl::StrFormat(format, args...));
  }
  template <typename... Args>
  void Debug(const absl::FormatSpec<Args...>& format, const Args&... args) const {
    Log(LogLevel::kDebug, format, args...);
  }
  template <typename... Args>
  void Info(const absl::FormatSpec<Args...>& format, const Args&... args) const {
    Log(LogLevel::kInfo, format, args...);
  }
  template <typename... Args>
  void Warning(const absl::FormatSpec<Args...>& format, const Args&... args) const {
    Log(LogLevel::kWarning, format, args...);
  }
  template <typename... Args>
  void Error(const absl::FormatSpec<Args...>& format, const Args&... args) const {
    Log(LogLevel::kError, format, args...);
  }

 private:
  std::shared_ptr<LogSink> sink_;
  LogLevel min_level_;
};

}  // namespace netman

#endif  // NETMAN_BASE_LOG_H_
