// Copyright netman authors.
#include "netman/base/log_rate_limiter.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "netman/base/log.h"
#include "netman/base/testing/capturing_log_sink.h"
#include "netman/base/testing/fake_clock.h"

namespace netman {
namespace {

// FakeClock starts at the Unix epoch + 1 h: a multiple of 10 s, so the test
// starts at the beginning of an interval.
constexpr absl::Duration kInterval = absl::Seconds(10);

LogRateLimiter::Options ThreePer10s(const Clock* clock) {
  LogRateLimiter::Options options;
  options.burst = 3;
  options.interval = kInterval;
  options.clock = clock;
  return options;
}

TEST(LogRateLimiterTest, BurstThenSuppressionThenSummaryInTheNextInterval) {
  FakeClock clock;
  auto sink = std::make_shared<CapturingLogSink>();
  Logger logger(sink, LogLevel::kInfo);
  LogRateLimiter limiter(ThreePer10s(&clock));

  for (int i = 0; i < 10; ++i) limiter.Warning(logger, "no route for message id %d", i);
  EXPECT_EQ(sink->Lines(),
            (std::vector<std::string>{
                "WARNING no route for message id 0", "WARNING no route for message id 1",
                "WARNING no route for message id 2 (rate limited: similar lines suppressed "
                "for the rest of this 10s interval)"}));
  EXPECT_EQ(limiter.suppressed_total(), 7);

  // Still the same interval just before its end.
  clock.Advance(kInterval - absl::Nanoseconds(1));
  limiter.Warning(logger, "no route for message id %d", 10);
  EXPECT_EQ(sink->Lines().size(), 3u);

  // The next interval: the first line reports what was suppressed, once.
  clock.Advance(absl::Nanoseconds(1));
  limiter.Warning(logger, "no route for message id %d", 11);
  limiter.Warning(logger, "no route for message id %d", 12);
  const std::vector<std::string> lines = sink->Lines();
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[3], "WARNING no route for message id 11 (8 similar lines suppressed)");
  EXPECT_EQ(lines[4], "WARNING no route for message id 12");
  EXPECT_EQ(limiter.suppressed_total(), 8);
}

TEST(LogRateLimiterTest, OneSuppressedLineIsSingular) {
  FakeClock clock;
  auto sink = std::make_shared<CapturingLogSink>();
  Logger logger(sink, LogLevel::kInfo);
  LogRateLimiter::Options options = ThreePer10s(&clock);
  options.burst = 1;
  LogRateLimiter limiter(options);
  limiter.Error(logger, "a");
  limiter.Error(logger, "b");
  clock.Advance(kInterval);
  limiter.Error(logger, "c");
  EXPECT_EQ(sink->Lines(),
            (std::vector<std::string>{
                "ERROR a (rate limited: similar lines suppressed for the rest of this 10s "
                "interval)",
                "ERROR c (1 similar line suppressed) (rate limited: similar lines suppressed "
                "for the rest of this 10s interval)"}));
}

TEST(LogRateLimiterTest, DisabledLevelsAreNeitherCountedNorLimited) {
  FakeClock clock;
  auto sink = std::make_shared<CapturingLogSink>();
  LogRateLimiter limiter(ThreePer10s(&clock));
  Logger quiet(sink, LogLevel::kError);
  for (int i = 0; i < 100; ++i) limiter.Warning(quiet, "hidden %d", i);
  EXPECT_EQ(limiter.suppressed_total(), 0);
  Logger loud(sink, LogLevel::kInfo);
  for (int i = 0; i < 3; ++i) limiter.Info(loud, "shown %d", i);
  EXPECT_EQ(sink->Lines().size(), 3u);
  EXPECT_EQ(limiter.suppressed_total(), 0);
}

// Counts how often it is formatted.
struct CountsFormatting {
  int* count;
  friend absl::FormatConvertResult<absl::FormatConversionCharSet::kString> AbslFormatConvert(
      const CountsFormatting& c, const absl::FormatConversionSpec&, absl::FormatSink* sink) {
    ++*c.count;
    sink->Append("formatted");
    return {true};
  }
};

TEST(LogRateLimiterTest, SuppressedLinesAreNotFormatted) {
  FakeClock clock;
  auto sink = std::make_shared<CapturingLogSink>();
  Logger logger(sink, LogLevel::kInfo);
  LogRateLimiter limiter(ThreePer10s(&clock));
  int formatted = 0;
  for (int i = 0; i < 1000; ++i) limiter.Warning(logger, "%s", CountsFormatting{&formatted});
  EXPECT_EQ(formatted, 3);
  EXPECT_EQ(limiter.suppressed_total(), 997);
}

TEST(LogRateLimiterTest, ThreadsShareOneBudget) {
  FakeClock clock;
  LogRateLimiter limiter(ThreePer10s(&clock));
  constexpr int kThreads = 4;
  constexpr int kCalls = 10000;
  std::atomic<int> permitted{0};
  std::atomic<int> last{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kCalls; ++i) {
        LogRateLimiter::Permit p = limiter.Acquire();
        if (p) permitted.fetch_add(1);
        if (p.last_in_interval()) last.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(permitted.load(), 3);
  EXPECT_EQ(last.load(), 1);
  EXPECT_EQ(limiter.suppressed_total(), kThreads * kCalls - 3);

  clock.Advance(kInterval);
  LogRateLimiter::Permit next = limiter.Acquire();
  EXPECT_TRUE(next.allowed());
  EXPECT_EQ(next.suppressed(), kThreads * kCalls - 3);
}

TEST(LogRateLimiterTest, AcquireWithAGivenTime) {
  FakeClock clock;
  LogRateLimiter limiter(ThreePer10s(&clock));
  const absl::Time start = clock.Now();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Acquire(start));
  EXPECT_FALSE(limiter.Acquire(start + absl::Seconds(5)));
  // A caller whose "now" is one interval old (it read the clock just before
  // another thread moved on) counts in the newest interval.
  EXPECT_TRUE(limiter.Acquire(start + kInterval));
  EXPECT_TRUE(limiter.Acquire(start));
  EXPECT_TRUE(limiter.Acquire(start));
  EXPECT_FALSE(limiter.Acquire(start + kInterval));
  // Long silences start a fresh interval.
  EXPECT_TRUE(limiter.Acquire(start + 1000 * kInterval));
  EXPECT_TRUE(limiter.Acquire(start + 1000000 * kInterval));
}

TEST(LogRateLimiterTest, TakeSuppressedReportsWhatNoLineReported) {
  FakeClock clock;
  LogRateLimiter limiter(ThreePer10s(&clock));
  for (int i = 0; i < 5; ++i) limiter.Acquire();
  EXPECT_EQ(limiter.TakeSuppressed(), 2);
  EXPECT_EQ(limiter.TakeSuppressed(), 0);
  clock.Advance(kInterval);
  EXPECT_EQ(limiter.Acquire().suppressed(), 0);  // already taken
}

TEST(LogRateLimiterTest, AppendNotesForCallersThatFormatThemselves) {
  FakeClock clock;
  LogRateLimiter::Options options = ThreePer10s(&clock);
  options.burst = 2;
  LogRateLimiter limiter(options);
  std::string first = "first";
  limiter.AppendNotes(limiter.Acquire(), &first);
  EXPECT_EQ(first, "first");
  std::string second = "second";
  limiter.AppendNotes(limiter.Acquire(), &second);
  EXPECT_EQ(second,
            "second (rate limited: similar lines suppressed for the rest of this 10s interval)");
}

TEST(LogRateLimiterTest, ClampsNonsenseOptions) {
  LogRateLimiter::Options options;
  options.burst = 0;
  options.interval = absl::ZeroDuration();
  LogRateLimiter limiter(options);  // RealClock
  EXPECT_EQ(limiter.burst(), 1);
  EXPECT_EQ(limiter.interval(), absl::Milliseconds(1));
  EXPECT_TRUE(limiter.Acquire(absl::UnixEpoch() + absl::Hours(100000)));
}

}  // namespace
}  // namespace netman
