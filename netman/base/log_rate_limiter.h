// Copyright netman authors.
//
// LogRateLimiter: bounds a log line that can fire once per event (per bad
// message, per failed accept, per misbehaving peer) to at most `burst` lines
// per `interval`. Lines beyond that are counted, not formatted; the next line
// let through says how many were suppressed.
//
// Example: one limiter per kind of line, shared by every thread logging it.
//   // A member of whatever logs the line (e.g. the framed protocol):
//   netman::LogRateLimiter no_route_log_;  // 10 lines per 10 s
//   ...
//   no_route_log_.Warning(logger, "connection %d: no route for message id %d",
//                         id, message_id);
//   // A flood of 50,000 such messages logs 10 lines, the 10th ending
//   //   "(rate limited: similar lines suppressed for the rest of this 10s
//   //   interval)",
//   // and the first line of a later interval ends
//   //   "(49990 similar lines suppressed)".
//
// Intervals are aligned to multiples of `interval` on the clock (they do not
// start at the first line), so a burst straddling a boundary can show up to
// 2 * burst lines within less than one interval.
//
// Cost of a suppressed line: one clock reading (none with Acquire(now)), one
// atomic load and two relaxed atomic increments; no lock, no formatting, no
// allocation. A level the logger does not enable costs nothing and is not
// counted.
//
// Threading: every method is safe from any thread.
#ifndef NETMAN_BASE_LOG_RATE_LIMITER_H_
#define NETMAN_BASE_LOG_RATE_LIMITER_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "netman/base/clock.h"
#include "netman/base/log.h"

namespace netman {

class LogRateLimiter {
 public:
  static constexpr int kDefaultBurst = 10;
  static constexpr absl::Duration kDefaultInterval = absl::Seconds(10);

  struct Options {
    // Lines let through per interval (clamped to at least 1).
    int burst = kDefaultBurst;
    // Interval length (clamped to at least 1 ms).
    absl::Duration interval = kDefaultInterval;
    // Time source; null means RealClock. Not owned; must outlive the limiter.
    const Clock* clock = nullptr;
  };

  // The verdict on one line.
  class Permit {
   public:
    // Whether the line may be logged.
    bool allowed() const { return allowed_; }
    explicit operator bool() const { return allowed_; }
    // Lines suppressed since the previous permitted one, which this line
    // should report (0 if none; each suppressed line is reported once).
    int64_t suppressed() const { return suppressed_; }
    // This is the last line permitted in its interval.
    bool last_in_interval() const { return last_in_interval_; }

   private:
    friend class LogRateLimiter;
    bool allowed_ = false;
    bool last_in_interval_ = false;
    int64_t suppressed_ = 0;
  };

  LogRateLimiter() : LogRateLimiter(Options{}) {}
  explicit LogRateLimiter(Options options);

  LogRateLimiter(const LogRateLimiter&) = delete;
  LogRateLimiter& operator=(const LogRateLimiter&) = delete;

  // Decides on one line now (reads the clock).
  Permit Acquire() { return Acquire(clock_->Now()); }
  // The same with a "now" the caller already has from the same clock, e.g.
  // EventLoop::iteration_time().
  Permit Acquire(absl::Time now);

  // Appends the notes a permitted line carries: " (K similar lines
  // suppressed)" and, on the last line of an interval, " (rate limited:
  // ...)". For callers that format lines themselves after Acquire().
  void AppendNotes(const Permit& permit, std::string* line) const;

  // Formats and logs the line if `level` is enabled and a permit is granted.
  template <typename... Args>
  void Log(const Logger& logger, LogLevel level, const absl::FormatSpec<Args...>& format,
           const Args&... args) {
    if (!logger.Enabled(level)) return;
    const Permit permit = Acquire();
    if (!permit) return;
    std::string line = absl::StrFormat(format, args...);
    AppendNotes(permit, &line);
    logger.Write(level, line);
  }
  template <typename... Args>
  void Info(const Logger& logger, const absl::FormatSpec<Args...>& format,
            const Args&... args) {
    Log(logger, LogLevel::kInfo, format, args...);
  }
  template <typename... Args>
  void Warning(const Logger& logger, const absl::FormatSpec<Args...>& format,
               const Args&... args) {
    Log(logger, LogLevel::kWarning, format, args...);
  }
  template <typename... Args>
  void Error(const Logger& logger, const absl::FormatSpec<Args...>& format,
             const Args&... args) {
    Log(logger, LogLevel::kError, format, args...);
  }

  // Lines suppressed since the last permitted line, i.e. not yet reported by
  // any line; resets that count. E.g. to log a final summary at shutdown.
  int64_t TakeSuppressed() { return unreported_.exchange(0, std::memory_order_relaxed); }
  // All lines suppressed since construction.
  int64_t suppressed_total() const { return suppressed_total_.load(std::memory_order_relaxed); }
  int burst() const { return burst_; }
  absl::Duration interval() const { return interval_; }

 private:
  const int burst_;
  const absl::Duration interval_;
  const int64_t interval_ns_;
  const Clock* const clock_;
  // (interval number modulo 2^32) << 32 | lines permitted in that interval.
  std::atomic<uint64_t> state_{0};
  std::atomic<int64_t> unreported_{0};
  std::atomic<int64_t> suppressed_total_{0};
};

}  // namespace netman

#endif  // NETMAN_BASE_LOG_RATE_LIMITER_H_
