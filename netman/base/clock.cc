// Copyright netman authors.
#include "netman/base/clock.h"

#include <time.h>

namespace netman {

absl::Time RealClock::Now() const {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return absl::UnixEpoch() + absl::DurationFromTimespec(ts);
}

RealClock& RealClock::Instance() {
  static RealClock* clock = new RealClock();  // immutable; never destroyed
  return *clock;
}

}  // namespace netman
