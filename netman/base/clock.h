// Copyright netman authors.
//
// Clock: the source of "now" for timers, heartbeats and deadlines. Injected
// into event loops and servers so tests can drive time with FakeClock
// (netman/base/testing/fake_clock.h) instead of sleeping.
//
// Now() is monotonic: only differences between two readings are meaningful
// (it is not wall-clock time and never goes backwards).
//
// Threading: implementations must be safe to call from any thread.
#ifndef NETMAN_BASE_CLOCK_H_
#define NETMAN_BASE_CLOCK_H_

#include "absl/time/time.h"

namespace netman {

class Clock {
 public:
  virtual ~Clock() = default;
  // A monotonic time point.
  virtual absl::Time Now() const = 0;
};

// CLOCK_MONOTONIC, expressed as an absl::Time offset from the Unix epoch.
// Stateless; RealClock::Instance() is a shared immutable instance.
class RealClock final : public Clock {
 public:
  absl::Time Now() const override;
  static RealClock& Instance();
};

}  // namespace netman

#endif  // NETMAN_BASE_CLOCK_H_
