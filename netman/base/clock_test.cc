// Copyright netman authors.
#include "netman/base/clock.h"

#include "gtest/gtest.h"
#include "netman/base/testing/fake_clock.h"

namespace netman {
namespace {

TEST(RealClockTest, IsMonotonic) {
  absl::Time a = RealClock::Instance().Now();
  absl::Time b = RealClock::Instance().Now();
  EXPECT_LE(a, b);
}

TEST(FakeClockTest, MovesOnlyWhenAdvanced) {
  FakeClock clock;
  absl::Time start = clock.Now();
  EXPECT_EQ(clock.Now(), start);
  clock.Advance(absl::Seconds(3));
  EXPECT_EQ(clock.Now() - start, absl::Seconds(3));
}

}  // namespace
}  // namespace netman
