// Copyright netman authors.
#include "netman/base/log_rate_limiter.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace netman {
namespace {

constexpr absl::Duration kMinInterval = absl::Milliseconds(1);

// The interval `now` falls in, modulo 2^32 (only compared for equality and
// adjacency, so wrapping is harmless).
uint32_t IntervalNumber(absl::Time now, int64_t interval_ns) {
  return static_cast<uint32_t>(absl::ToInt64Nanoseconds(now - absl::UnixEpoch()) / interval_ns);
}

}  // namespace

LogRateLimiter::LogRateLimiter(Options options)
    : burst_(std::max(options.burst, 1)),
      interval_(std::max(options.interval, kMinInterval)),
      interval_ns_(absl::ToInt64Nanoseconds(interval_)),
      clock_(options.clock != nullptr ? options.clock : &RealClock::Instance()) {
  // Start in the current interval with nothing permitted yet.
  state_.store(uint64_t{IntervalNumber(clock_->Now(), interval_ns_)} << 32,
               std::memory_order_relaxed);
}

LogRateLimiter::Permit LogRateLimiter::Acquire(absl::Time now) {
  const uint32_t interval = IntervalNumber(now, interval_ns_);
  uint64_t state = state_.load(std::memory_order_relaxed);
  for (;;) {
    const uint32_t current = static_cast<uint32_t>(state >> 32);
    const uint32_t permitted = static_cast<uint32_t>(state);
    uint64_t next;
    if (interval != current && interval != current - 1) {
      // A later interval (or, after a long silence, any other one): start it.
      // One behind is a thread that read the clock just before another
      // started the current interval: it counts in the current one.
      next = (uint64_t{interval} << 32) | 1;
    } else if (permitted < static_cast<uint32_t>(burst_)) {
      next = state + 1;
    } else {
      unreported_.fetch_add(1, std::memory_order_relaxed);
      suppressed_total_.fetch_add(1, std::memory_order_relaxed);
      return Permit();
    }
    if (state_.compare_exchange_weak(state, next, std::memory_order_relaxed,
                                     std::memory_order_relaxed)) {
      Permit permit;
      permit.allowed_ = true;
      permit.last_in_interval_ = static_cast<uint32_t>(next) == static_cast<uint32_t>(burst_);
      permit.suppressed_ = unreported_.exchange(0, std::memory_order_relaxed);
      return permit;
    }
    // `state` was reloaded by the failed exchange: decide again.
  }
}

void LogRateLimiter::AppendNotes(const Permit& permit, std::string* line) const {
  if (permit.suppressed() > 0) {
    absl::StrAppend(line, " (", permit.suppressed(), " similar line",
                    permit.suppressed() == 1 ? "" : "s", " suppressed)");
  }
  if (permit.last_in_interval()) {
    absl::StrAppend(line, " (rate limited: similar lines suppressed for the rest of this ",
                    absl::FormatDuration(interval_), " interval)");
  }
}

}  // namespace netman
