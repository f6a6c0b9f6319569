// Copyright netman authors.
//
// FakeClock: a Clock that moves only when a test tells it to.
//
// Example:
//   FakeClock clock;
//   EventLoop loop(..., &clock);
//   loop.RunAfter(absl::Seconds(5), [&] { fired = true; });
//   clock.Advance(absl::Seconds(5));
//   loop.RunOnce(absl::ZeroDuration());  // fires the timer
//
// Threading: Now() and Advance() are safe from any thread.
#ifndef NETMAN_BASE_TESTING_FAKE_CLOCK_H_
#define NETMAN_BASE_TESTING_FAKE_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "netman/base/clock.h"
#include "netman/base/sync.h"

namespace netman {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::UnixEpoch() + absl::Hours(1))
      : now_(start) {}

  absl::Time Now() const override {
    MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace netman

#endif  // NETMAN_BASE_TESTING_FAKE_CLOCK_H_
