// Copyright netman authors.
#include "netman/net/event_loop.h"

#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "netman/base/testing/fake_clock.h"
#include "netman/base/sync.h"

namespace netman {
namespace {

std::unique_ptr<EventLoop> NewLoop(const Clock* clock = nullptr) {
  EventLoop::Options options;
  options.poller_factory = CreateDefaultPoller;
  options.clock = clock;
  auto loop = EventLoop::Create(std::move(options));
  EXPECT_TRUE(loop.ok()) << loop.status();
  return std::move(*loop);
}

TEST(EventLoopTest, RequiresAPollerFactory) {
  auto loop = EventLoop::Create({});
  ASSERT_FALSE(loop.ok());
  EXPECT_EQ(loop.status().code(), absl::StatusCode::kInvalidArgument);
}

#ifndef NDEBUG
// Debug builds (the ASan and TSan stages) check the loop-thread contract.
TEST(EventLoopDeathTest, LoopThreadOnlyMethodsAbortOnAnotherThread) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto loop = NewLoop();
  loop->RunOnce(absl::ZeroDuration());  // binds the loop to this thread
  EXPECT_DEATH(
      {
        std::thread other([&] { loop->RunAfter(absl::Seconds(1), [] {}); });
        other.join();
      },
      "AddTimer is loop-thread only");
  // On the loop thread it is fine.
  EXPECT_NE(loop->RunAfter(absl::Seconds(1), [] {}), 0u);
}
#endif

TEST(EventLoopTest, PostFromOtherThreadsRunsOnLoopThreadInOrder) {
  auto loop = NewLoop();
  std::vector<int> seen;  // touched only on the loop thread
  std::atomic<bool> wrong_thread{false};
  Notification done;
  std::thread runner([&] { loop->Run(); });
  std::thread poster([&] {
    for (int i = 0; i < 1000; ++i) {
      loop->Post([&, i] {
        if (!loop->IsInLoopThread()) wrong_thread = true;
        seen.push_back(i);
        if (i == 999) done.Notify();
      });
    }
  });
  poster.join();
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  loop->Quit();
  runner.join();
  EXPECT_FALSE(wrong_thread);
  ASSERT_EQ(seen.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(seen[i], i);
}

TEST(EventLoopTest, QuitFromAnotherThreadUnblocksInfiniteWait) {
  auto loop = NewLoop();
  std::thread runner([&] { loop->Run(); });
  Notification running;
  loop->Post([&] { running.Notify(); });
  ASSERT_TRUE(running.WaitForNotificationWithTimeout(absl::Seconds(10)));
  loop->Quit();
  runner.join();  // would hang if Quit did not wake the poller
}

TEST(EventLoopTest, TasksPostedBeforeQuitStillRun) {
  auto loop = NewLoop();
  int ran = 0;
  loop->Post([&] {
    loop->Post([&] { ++ran; });  // posted from the loop while quitting
    loop->Quit();
  });
  loop->Run();
  EXPECT_EQ(ran, 1);
}

TEST(EventLoopTest, RunInLoopIsImmediateOnLoopThread) {
  auto loop = NewLoop();
  std::vector<int> order;
  loop->Post([&] {
    loop->RunInLoop([&] { order.push_back(1); });
    order.push_back(2);
    loop->Quit();
  });
  loop->Run();
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(EventLoopTest, TimersFireWhenFakeClockReachesDeadlineInOrder) {
  FakeClock clock;
  auto loop = NewLoop(&clock);
  std::vector<int> fired;
  loop->RunOnce(absl::ZeroDuration());  // bind the loop to this thread
  loop->RunAfter(absl::Seconds(2), [&] { fired.push_back(2); });
  loop->RunAfter(absl::Seconds(1), [&] { fired.push_back(1); });
  loop->RunAfter(absl::Seconds(1), [&] { fired.push_back(11); });
  loop->RunOnce(absl::ZeroDuration());
  EXPECT_TRUE(fired.empty());
  clock.Advance(absl::Seconds(1));
  loop->RunOnce(absl::ZeroDuration());
  EXPECT_EQ(fired, (std::vector<int>{1, 11}));
  clock.Advance(absl::Seconds(5));
  loop->RunOnce(absl::ZeroDuration());
  EXPECT_EQ(fired, (std::vector<int>{1, 11, 2}));
}

TEST(EventLoopTest, RunEveryRepeatsAndCancelStopsIt) {
  FakeClock clock;
  auto loop = NewLoop(&clock);
  loop->RunOnce(absl::ZeroDuration());
  int ticks = 0;
  TimerId id = loop->RunEvery(absl::Seconds(1), [&] { ++ticks; });
  for (int i = 0; i < 3; ++i) {
    clock.Advance(absl::Seconds(1));
    loop->RunOnce(absl::ZeroDuration());
  }
  EXPECT_EQ(ticks, 3);
  // Falling far behind fires once, not once per missed interval.
  clock.Advance(absl::Seconds(10));
  loop->RunOnce(absl::ZeroDuration());
  EXPECT_EQ(ticks, 4);
  loop->Cancel(id);
  clock.Advance(absl::Seconds(5));
  loop->RunOnce(absl::ZeroDuration());
  EXPECT_EQ(ticks, 4);
  loop->Cancel(id);  // harmless twice
}

TEST(EventLoopTest, TimerCanCancelItselfAndOthers) {
  FakeClock clock;
  auto loop = NewLoop(&clock);
  loop->RunOnce(absl::ZeroDuration());
  int a = 0, b = 0;
  TimerId tb = 0;
  TimerId ta = 0;
  ta = loop->RunEvery(absl::Seconds(1), [&] {
    ++a;
    loop->Cancel(ta);
    loop->Cancel(tb);
  });
  tb = loop->RunAfter(absl::Seconds(1), [&] { ++b; });
  clock.Advance(absl::Seconds(3));
  loop->RunOnce(absl::ZeroDuration());
  loop->RunOnce(absl::ZeroDuration());
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 0);
}

TEST(EventLoopTest, RealTimerWakesABlockingLoop) {
  auto loop = NewLoop();
  bool fired = false;
  loop->RunOnce(absl::ZeroDuration());
  loop->RunAfter(absl::Milliseconds(5), [&] {
    fired = true;
    loop->Quit();
  });
  loop->Run();  // returns only once the timer has fired
  EXPECT_TRUE(fired);
}

class PipeReader : public IoHandler {
 public:
  explicit PipeReader(int fd) : fd_(fd) {}
  void OnIoEvent(uint32_t events) override {
    char buf[16];
    ssize_t n = ::read(fd_, buf, sizeof(buf));
    if (n > 0) bytes += static_cast<int>(n);
  }
  int bytes = 0;

 private:
  int fd_;
};

TEST(EventLoopTest, DispatchesFdEventsToHandlers) {
  auto loop = NewLoop();
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  PipeReader reader(fds[0]);
  loop->RunOnce(absl::ZeroDuration());
  ASSERT_TRUE(loop->AddFd(fds[0], kPollReadable, &reader).ok());
  ASSERT_EQ(::write(fds[1], "abc", 3), 3);
  loop->RunOnce(absl::Seconds(5));
  EXPECT_EQ(reader.bytes, 3);
  ASSERT_TRUE(loop->RemoveFd(fds[0]).ok());
  ::close(fds[0]);
  ::close(fds[1]);
}

}  // namespace
}  // namespace netman
