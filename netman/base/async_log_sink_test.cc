// Copyright netman authors.
#include "netman/base/async_log_sink.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "netman/base/log.h"
#include "netman/base/sync.h"
#include "netman/base/testing/capturing_log_sink.h"
#include "netman/base/unique_fd.h"

namespace netman {
namespace {

// Generous deadlines: they only bound how long a broken build hangs, no test
// waits for them to pass.
constexpr absl::Duration kDeadline = absl::Seconds(30);

// A log destination that is stuck (a collector that stopped reading) until
// the test releases it. Lines are recorded once released. Notifies
// `*destroyed` (if set) when it is destroyed, i.e. when the last reference,
// possibly held by a detached drain thread, goes away. (The notification is
// shared: Notify() may still be running on the drain thread when the test's
// wait returns.)
class GatedSink final : public LogSink {
 public:
  explicit GatedSink(std::shared_ptr<Notification> destroyed = nullptr)
      : destroyed_(std::move(destroyed)) {}
  ~GatedSink() override {
    if (destroyed_ != nullptr) destroyed_->Notify();
  }

  void Write(LogLevel level, std::string_view message) override {
    entered_.Notify();  // idempotent after the first line
    release_.WaitForNotification();
    lines_.Write(level, message);
  }
  // Waits until the drain is inside Write() (and so holds what it took).
  bool WaitUntilEntered() { return entered_.WaitForNotificationWithTimeout(kDeadline); }
  void Release() { release_.Notify(); }
  const CapturingLogSink& lines() const { return lines_; }

 private:
  const std::shared_ptr<Notification> destroyed_;
  Notification entered_;
  Notification release_;
  CapturingLogSink lines_;
};

// Runs `f` on another thread and returns whether it finished within the
// deadline (if not, the thread is left behind and the test fails).
template <typename F>
bool FinishesInTime(F f) {
  auto done = std::make_shared<Notification>();
  std::thread t([f = std::move(f), done]() mutable {
    f();
    done->Notify();
  });
  const bool finished = done->WaitForNotificationWithTimeout(kDeadline);
  if (finished) {
    t.join();
  } else {
    t.detach();
  }
  return finished;
}

TEST(AsyncLogSinkTest, DeliversLinesInOrderWhenTheSinkIsHealthy) {
  auto capture = std::make_shared<CapturingLogSink>();
  AsyncLogSink async(capture);
  std::vector<std::string> expected;
  for (int i = 0; i < 1000; ++i) {
    const LogLevel level = i % 3 == 0 ? LogLevel::kWarning : LogLevel::kInfo;
    async.Write(level, absl::StrCat("line ", i));
    expected.push_back(std::string(LogLevelName(level)) + absl::StrCat(" line ", i));
  }
  EXPECT_TRUE(async.Stop(kDeadline));
  EXPECT_EQ(capture->Lines(), expected);
  EXPECT_EQ(async.dropped(), 0u);
}

TEST(AsyncLogSinkTest, KeepsEachWritersOrderAcrossThreads) {
  auto capture = std::make_shared<CapturingLogSink>();
  AsyncLogSink async(capture);
  constexpr int kThreads = 4;
  constexpr int kLines = 500;  // 2000 in all: below the default bound
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&async, t] {
      for (int i = 0; i < kLines; ++i) async.Write(LogLevel::kInfo, absl::StrCat(t, " ", i));
    });
  }
  for (std::thread& w : writers) w.join();
  ASSERT_TRUE(async.Stop(kDeadline));
  EXPECT_EQ(async.dropped(), 0u);
  std::vector<int> next(kThreads, 0);
  const std::vector<std::string> lines = capture->Lines();
  ASSERT_EQ(lines.size(), size_t{kThreads * kLines});
  for (const std::string& line : lines) {
    int t = -1;
    int i = -1;
    ASSERT_EQ(std::sscanf(line.c_str(), "INFO %d %d", &t, &i), 2) << line;
    ASSERT_GE(t, 0);
    ASSERT_LT(t, kThreads);
    EXPECT_EQ(i, next[t]) << "thread " << t << " out of order";
    next[t] = i + 1;
  }
}

TEST(AsyncLogSinkTest, WritersNeverBlockOnAStuckSinkAndStopReturns) {
  auto sink_destroyed = std::make_shared<Notification>();
  auto stuck = std::make_shared<GatedSink>(sink_destroyed);
  AsyncLogSink::Options options;
  options.max_queued_lines = 100;
  auto async = std::make_unique<AsyncLogSink>(stuck, options);

  AsyncLogSink* sink = async.get();
  ASSERT_TRUE(FinishesInTime([sink] { sink->Write(LogLevel::kInfo, "first"); }));
  ASSERT_TRUE(stuck->WaitUntilEntered());  // the drain is stuck on "first"

  // Several loop threads log a flood meanwhile: every Write() returns.
  constexpr int kThreads = 4;
  constexpr int kLines = 2000;
  ASSERT_TRUE(FinishesInTime([sink] {
    std::vector<std::thread> writers;
    for (int t = 0; t < kThreads; ++t) {
      writers.emplace_back([sink, t] {
        for (int i = 0; i < kLines; ++i) {
          sink->Write(LogLevel::kWarning, absl::StrCat("no route for message id ", t, i));
        }
      });
    }
    for (std::thread& w : writers) w.join();
  })) << "Write() blocked on the stuck sink";
  // 100 queued, the rest dropped and counted.
  EXPECT_EQ(async->dropped(), uint64_t{kThreads * kLines - 100});

  // Stop() gives up after its timeout although the sink never returns...
  bool flushed = true;
  ASSERT_TRUE(FinishesInTime([&] { flushed = async->Stop(absl::Milliseconds(50)); }));
  EXPECT_FALSE(flushed);
  EXPECT_FALSE(async->Stop(kDeadline));  // same answer, at once
  // ...and lines after Stop() are dropped.
  async->Write(LogLevel::kError, "after stop");
  EXPECT_EQ(async->dropped(), uint64_t{kThreads * kLines - 100 + 1});
  ASSERT_TRUE(FinishesInTime([&] { async.reset(); }));  // so does the destructor

  // If the sink ever recovers, the detached drain writes what it had and the
  // dropped count, then lets go of the sink.
  stuck->Release();
  EXPECT_TRUE(stuck->lines().WaitFor(
      absl::StrCat(kThreads * kLines - 100, " log line(s) dropped"), kDeadline));
  const std::vector<std::string> lines = stuck->lines().Lines();
  ASSERT_EQ(lines.size(), 1u + 100u + 1u);
  EXPECT_EQ(lines.front(), "INFO first");
  stuck.reset();
  EXPECT_TRUE(sink_destroyed->WaitForNotificationWithTimeout(kDeadline));
}

// Like StderrLogSink, but on a pipe the test controls.
class PipeSink final : public LogSink {
 public:
  PipeSink(int fd, std::shared_ptr<Notification> destroyed)
      : fd_(fd), destroyed_(std::move(destroyed)) {}
  ~PipeSink() override { destroyed_->Notify(); }
  void Write(LogLevel level, std::string_view message) override {
    std::string line(LogLevelName(level));
    line.append(" ").append(message).append("\n");
    size_t done = 0;
    while (done < line.size()) {
      ssize_t n = ::write(fd_.get(), line.data() + done, line.size() - done);
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }

 private:
  const UniqueFd fd_;
  const std::shared_ptr<Notification> destroyed_;
};

TEST(AsyncLogSinkTest, APipeNobodyReadsDoesNotBlockWriters) {
  // The tester's scenario: stderr on a pipe whose reader is stuck.
  ::signal(SIGPIPE, SIG_IGN);
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]);
  auto sink_destroyed = std::make_shared<Notification>();
  AsyncLogSink::Options options;
  options.max_queued_lines = 1000;
  auto async = std::make_unique<AsyncLogSink>(
      std::make_shared<PipeSink>(fds[1], sink_destroyed), options);

  // 20 MB of log lines against a 64 KiB pipe and a 1000-line queue.
  constexpr int kLines = 200 * 1000;
  const std::string payload(100, 'x');
  AsyncLogSink* sink = async.get();
  ASSERT_TRUE(FinishesInTime([&] {
    for (int i = 0; i < kLines; ++i) sink->Write(LogLevel::kWarning, payload);
  })) << "Write() blocked on the full pipe";
  EXPECT_GT(async->dropped(), uint64_t{kLines / 2});
  EXPECT_LT(async->dropped(), uint64_t{kLines});
  bool flushed = true;
  ASSERT_TRUE(FinishesInTime([&] { flushed = async->Stop(absl::Milliseconds(50)); }));
  EXPECT_FALSE(flushed);
  async.reset();

  // The collector goes away: write(2) fails with EPIPE, the drain finishes.
  read_end.reset();
  EXPECT_TRUE(sink_destroyed->WaitForNotificationWithTimeout(kDeadline));
}

TEST(AsyncLogSinkTest, ReportsDropsOnceTheDrainCatchesUp) {
  auto gated = std::make_shared<GatedSink>();
  AsyncLogSink::Options options;
  options.max_queued_lines = 4;
  AsyncLogSink async(gated, options);
  async.Write(LogLevel::kInfo, "first");
  ASSERT_TRUE(gated->WaitUntilEntered());
  for (char c = 'a'; c < 'k'; ++c) async.Write(LogLevel::kInfo, std::string(1, c));
  EXPECT_EQ(async.dropped(), 6u);  // e..j

  gated->Release();
  ASSERT_TRUE(async.Stop(kDeadline));
  EXPECT_EQ(gated->lines().Lines(),
            (std::vector<std::string>{
                "INFO first", "INFO a", "INFO b", "INFO c", "INFO d",
                "WARNING 6 log line(s) dropped: the log output did not keep up (queue full)"}));
}

TEST(AsyncLogSinkTest, BoundsQueuedBytes) {
  auto gated = std::make_shared<GatedSink>();
  AsyncLogSink::Options options;
  options.max_queued_bytes = 10;
  AsyncLogSink async(gated, options);
  async.Write(LogLevel::kInfo, "first");
  ASSERT_TRUE(gated->WaitUntilEntered());  // "first" is out of the queue
  async.Write(LogLevel::kInfo, "12345");    // 5 bytes queued
  async.Write(LogLevel::kInfo, "123456");   // would make 11: dropped
  async.Write(LogLevel::kInfo, "abcde");    // 10
  async.Write(LogLevel::kInfo, "x");        // 11: dropped
  EXPECT_EQ(async.dropped(), 2u);

  gated->Release();
  ASSERT_TRUE(async.Stop(kDeadline));
  EXPECT_EQ(gated->lines().Lines(),
            (std::vector<std::string>{
                "INFO first", "INFO 12345", "INFO abcde",
                "WARNING 2 log line(s) dropped: the log output did not keep up (queue full)"}));
}

TEST(AsyncLogSinkTest, ALineLargerThanTheByteBoundIsDroppedAndReported) {
  auto capture = std::make_shared<CapturingLogSink>();
  AsyncLogSink::Options options;
  options.max_queued_bytes = 8;
  AsyncLogSink async(capture, options);
  async.Write(LogLevel::kError, "far too long for the queue");
  EXPECT_EQ(async.dropped(), 1u);
  EXPECT_TRUE(capture->WaitFor("1 log line(s) dropped", kDeadline));
  async.Write(LogLevel::kError, "fits");
  ASSERT_TRUE(async.Stop(kDeadline));
  EXPECT_EQ(capture->Lines().back(), "ERROR fits");
}

TEST(AsyncLogSinkTest, DestructorFlushesAHealthySink) {
  auto capture = std::make_shared<CapturingLogSink>();
  {
    AsyncLogSink async(capture);
    async.Write(LogLevel::kInfo, "one");
    async.Write(LogLevel::kInfo, "two");
  }
  EXPECT_EQ(capture->Lines(), (std::vector<std::string>{"INFO one", "INFO two"}));
}

TEST(AsyncLogSinkTest, NullSinkMeansStderr) {
  AsyncLogSink async(nullptr);
  ASSERT_NE(async.wrapped(), nullptr);
  EXPECT_NE(dynamic_cast<StderrLogSink*>(async.wrapped().get()), nullptr);
  EXPECT_TRUE(async.Stop(kDeadline));
}

TEST(AsyncLogSinkTest, WrapsALoggersSinkKeepingItsLevel) {
  auto capture = std::make_shared<CapturingLogSink>();
  Logger user(capture, LogLevel::kWarning);
  auto async = std::make_shared<AsyncLogSink>(user.sink());
  Logger logger(async, user.min_level());
  logger.Info("filtered %d", 1);
  logger.Warning("kept %d", 2);
  ASSERT_TRUE(async->Stop(kDeadline));
  EXPECT_EQ(capture->Lines(), std::vector<std::string>{"WARNING kept 2"});
}

}  // namespace
}  // namespace netman
