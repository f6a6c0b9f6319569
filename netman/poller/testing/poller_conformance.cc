// Copyright netman authors.
#include "netman/poller/testing/poller_conformance.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "netman/base/sync.h"
#include "netman/base/unique_fd.h"

namespace netman {

void PrintTo(const PollerFactoryParam& param, std::ostream* os) {
  *os << param.name;
}

std::string PollerFactoryParamName(
    const testing::TestParamInfo<PollerFactoryParam>& info) {
  return info.param.name;
}

void PollerConformanceTest::SetUp() {
  ASSERT_TRUE(GetParam().factory) << "no factory for " << GetParam().name;
  absl::StatusOr<std::unique_ptr<Poller>> poller = GetParam().factory();
  ASSERT_TRUE(poller.ok()) << poller.status();
  ASSERT_NE(*poller, nullptr);
  poller_ = std::move(*poller);
}

namespace {

// How long a test lets Wait() block for something that is already ready.
// Wait() returns as soon as an fd is ready, so this bound only matters when an
// implementation is broken: the test then fails instead of hanging.
constexpr absl::Duration kReadyTimeout = absl::Seconds(5);

// A marker a correct Wait() never returns: WaitOnce() seeds the output vector
// with it to check that Wait() replaces the contents rather than appending.
char kStaleTag;

using SteadyClock = std::chrono::steady_clock;

absl::Duration Since(SteadyClock::time_point start) {
  return absl::FromChrono(SteadyClock::now() - start);
}

void SetNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  ASSERT_NE(flags, -1) << std::strerror(errno);
  ASSERT_NE(::fcntl(fd, F_SETFL, flags | O_NONBLOCK), -1)
      << std::strerror(errno);
}

// Two connected descriptors, both non-blocking. For a pipe, `a` is the read
// end and `b` the write end.
struct FdPair {
  UniqueFd a;
  UniqueFd b;
  bool valid() const { return a.valid() && b.valid(); }
};

FdPair MakePair(int fds[2]) {
  FdPair pair{UniqueFd(fds[0]), UniqueFd(fds[1])};
  SetNonBlocking(pair.a.get());
  SetNonBlocking(pair.b.get());
  return pair;
}

// A connected AF_UNIX stream socketpair. Records a failure and returns invalid
// fds on error.
FdPair SocketPair() {
  int fds[2] = {-1, -1};
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
    ADD_FAILURE() << "socketpair: " << std::strerror(errno);
    return FdPair{};
  }
  return MakePair(fds);
}

FdPair Pipe() {
  int fds[2] = {-1, -1};
  if (::pipe(fds) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return FdPair{};
  }
  return MakePair(fds);
}

void WriteBytes(int fd, size_t n) {
  std::vector<char> data(n, 'x');
  ASSERT_EQ(::write(fd, data.data(), n), static_cast<ssize_t>(n))
      << std::strerror(errno);
}

// Reads until the fd would block or reports end of file; returns the count.
size_t Drain(int fd) {
  char buf[4096];
  size_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) {
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        ADD_FAILURE() << "read: " << std::strerror(errno);
      }
      return total;
    }
    total += static_cast<size_t>(n);
  }
}

// Writes until the kernel refuses more (EAGAIN): `fd` is then not writable.
void FillUntilWouldBlock(int fd) {
  std::vector<char> chunk(64 * 1024, 'x');
  for (int i = 0; i < 100000; ++i) {
    ssize_t n = ::write(fd, chunk.data(), chunk.size());
    if (n < 0) {
      ASSERT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK)
          << std::strerror(errno);
      return;
    }
  }
  FAIL() << "socket never filled up";
}

// One Wait(); checks that the returned count matches the vector and that the
// vector was replaced, not appended to.
std::vector<PollEvent> WaitOnce(Poller& poller, absl::Duration timeout) {
  std::vector<PollEvent> events = {PollEvent{&kStaleTag, kPollReadable}};
  absl::StatusOr<int> n = poller.Wait(timeout, events);
  EXPECT_TRUE(n.ok()) << n.status();
  if (n.ok()) {
    EXPECT_EQ(*n, static_cast<int>(events.size()));
  }
  for (const PollEvent& ev : events) {
    EXPECT_NE(ev.tag, &kStaleTag) << "Wait() appended to the events vector";
  }
  return events;
}

// The event carrying `tag`, or null. Fails if `tag` appears more than once:
// an fd is reported at most once per Wait().
const PollEvent* Find(const std::vector<PollEvent>& events, void* tag) {
  const PollEvent* found = nullptr;
  for (const PollEvent& ev : events) {
    if (ev.tag != tag) continue;
    EXPECT_EQ(found, nullptr) << "tag reported twice in one Wait()";
    found = &ev;
  }
  return found;
}

// How many fd pairs the process can open, raising RLIMIT_NOFILE towards what
// `wanted` pairs need (macOS starts processes at 256).
int FdPairBudget(int wanted) {
  constexpr rlim_t kSpare = 64;  // stdio, the poller's own fds, gtest
  const rlim_t needed = 2 * static_cast<rlim_t>(wanted) + kSpare;
  struct rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
    struct rlimit raised = limit;
    raised.rlim_cur =
        (limit.rlim_max == RLIM_INFINITY || limit.rlim_max > needed)
            ? needed
            : limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
    if (limit.rlim_cur < needed) {
      return limit.rlim_cur <= kSpare
                 ? 0
                 : static_cast<int>((limit.rlim_cur - kSpare) / 2);
    }
  }
  return wanted;
}

// --- Readability and tags ----------------------------------------------------

TEST_P(PollerConformanceTest, SocketReadableReportedWithTag) {
  FdPair pair = SocketPair();
  ASSERT_TRUE(pair.valid());
  int tag;
  ASSERT_TRUE(poller().Add(pair.a.get(), kPollReadable, &tag).ok());

  EXPECT_TRUE(WaitOnce(poller(), absl::ZeroDuration()).empty())
      << "reported readable before any data arrived";

  ASSERT_NO_FATAL_FAILURE(WriteBytes(pair.b.get(), 1));
  std::vector<PollEvent> events = WaitOnce(poller(), kReadyTimeout);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag, &tag);
  EXPECT_TRUE(events[0].events & kPollReadable);
  EXPECT_FALSE(events[0].events & kPollWritable) << "no write interest given";
}

TEST_P(PollerConformanceTest, PipeReadableReportedWithTag) {
  FdPair pipe = Pipe();
  ASSERT_TRUE(pipe.valid());
  int tag;
  ASSERT_TRUE(poller().Add(pipe.a.get(), kPollReadable, &tag).ok());
  EXPECT_TRUE(WaitOnce(poller(), absl::ZeroDuration()).empty());

  ASSERT_NO_FATAL_FAILURE(WriteBytes(pipe.b.get(), 3));
  std::vector<PollEvent> events = WaitOnce(poller(), kReadyTimeout);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag, &tag);
  EXPECT_TRUE(events[0].events & kPollReadable);
}

TEST_P(PollerConformanceTest, OnlyTheReadyFdIsReported) {
  FdPair idle = SocketPair();
  FdPair busy = SocketPair();
  ASSERT_TRUE(idle.valid() && busy.valid());
  int idle_tag, busy_tag;
  ASSERT_TRUE(poller().Add(idle.a.get(), kPollReadable, &idle_tag).ok());
  ASSERT_TRUE(poller().Add(busy.a.get(), kPollReadable, &busy_tag).ok());

  ASSERT_NO_FATAL_FAILURE(WriteBytes(busy.b.get(), 1));
  std::vector<PollEvent> events = WaitOnce(poller(), kReadyTimeout);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag, &busy_tag);
}

// --- Level triggering --------------------------------------------------------

TEST_P(PollerConformanceTest, LevelTriggeredReadableUntilDrained) {
  FdPair pair = SocketPair();
  ASSERT_TRUE(pair.valid());
  int tag;
  ASSERT_TRUE(poller().Add(pair.a.get(), kPollReadable, &tag).ok());
  ASSERT_NO_FATAL_FAILURE(WriteBytes(pair.b.get(), 2));

  // Not drained: reported by every Wait().
  for (int i = 0; i < 3; ++i) {
    std::vector<PollEvent> events = WaitOnce(poller(), kReadyTimeout);
    const PollEvent* ev = Find(events, &tag);
    ASSERT_NE(ev, nullptr) << "not reported again on Wait() #" << i;
    EXPECT_TRUE(ev->events & kPollReadable);
  }

  // Partly drained: still readable.
  char byte;
  ASSERT_EQ(::read(pair.a.get(), &byte, 1), 1);
  ASSERT_NE(Find(WaitOnce(poller(), kReadyTimeout), &tag), nullptr);

  // Drained: no longer reported.
  EXPECT_EQ(Drain(pair.a.get()), 1u);
  EXPECT_TRUE(WaitOnce(poller(), absl::ZeroDuration()).empty());

  // New data: reported again.
  ASSERT_NO_FATAL_FAILURE(WriteBytes(pair.b.get(), 1));
  EXPECT_NE(Find(WaitOnce(poller(), kReadyTimeout), &tag), nullptr);
}

// --- Write interest ----------------------------------------------------------

TEST_P(PollerConformanceTest, WritableReportedAndModifyRemovesIt) {
  FdPair pair = SocketPair();
  ASSERT_TRUE(pair.valid());
  int tag;
  ASSERT_TRUE(poller().Add(pair.a.get(), kPollWritable, &tag).ok());

  // An empty socket is writable, and stays so (level-triggered).
  for (int i = 0; i < 2; ++i) {
    std::vector<PollEvent> events = WaitOnce(poller(), kReadyTimeout);
    ASSERT_EQ(events.size(), 1u) << "Wait() #" << i;
    EXPECT_EQ(events[0].tag, &tag);
    EXPECT_TRUE(events[0].events & kPollWritable);
    EXPECT_FALSE(events[0].events & kPollReadable);
  }

  // Dropping write interest stops the reports.
  ASSERT_TRUE(poller().Modify(pair.a.get(), kPollReadable, &tag).ok());
  EXPECT_TRUE(WaitOnce(poller(), absl::ZeroDuration()).empty());

  // Asking again brings them back.
  ASSERT_TRUE(
      poller().Modify(pair.a.get(), kPollReadable | kPollWritable, &tag).ok());
  std::vector<PollEvent> events = WaitOnce(poller(), kReadyTimeout);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].events & kPollWritable);
  EXPECT_FALSE(events[0].events & kPollReadable);
}

TEST_P(PollerConformanceTest, ReadableAndWritableMergedIntoOneEvent) {
  FdPair pair = SocketPair();
  ASSERT_TRUE(pair.valid());
  int tag;
  ASSERT_TRUE(
      poller().Add(pair.a.get(), kPollReadable | kPollWritable, &tag).ok());
  ASSERT_NO_FATAL_FAILURE(WriteBytes(pair.b.get(), 1));

  std::vector<PollEvent> events = WaitOnce(poller(), kReadyTimeout);
  ASSERT_EQ(events.size(), 1u) << "one fd must yield one PollEvent";
  EXPECT_EQ(events[0].tag, &tag);
  EXPECT_EQ(events[0].events & (kPollReadable | kPollWritable),
            kPollReadable | kPollWritable);
}

TEST_P(PollerConformanceTest, WritableAgainOnceThePeerDrains) {
  FdPair pair = SocketPair();
  ASSERT_TRUE(pair.valid());
  ASSERT_NO_FATAL_FAILURE(FillUntilWouldBlock(pair.a.get()));
  int tag;
  ASSERT_TRUE(poller().Add(pair.a.get(), kPollWritable, &tag).ok());

  EXPECT_TRUE(WaitOnce(poller(), absl::ZeroDuration()).empty())
      << "a full socket was reported writable";

  EXPECT_GT(Drain(pair.b.get()), 0u);
  std::vector<PollEvent> events = WaitOnce(poller(), kReadyTimeout);
  const PollEvent* ev = Find(events, &tag);
  ASSERT_NE(ev, nullptr) << "not writable after the peer drained";
  EXPECT_TRUE(ev->events & kPollWritable);
}

// --- Modify and Remove -------------------------------------------------------

TEST_P(PollerConformanceTest, ModifyChangesTag) {
  FdPair pair = SocketPair();
  ASSERT_TRUE(pair.valid());
  int old_tag, new_tag;
  ASSERT_TRUE(poller().Add(pair.a.get(), kPollReadable, &old_tag).ok());
  ASSERT_NO_FATAL_FAILURE(WriteBytes(pair.b.get(), 1));
  ASSERT_NE(Find(WaitOnce(poller(), kReadyTimeout), &old_tag), nullptr);

  ASSERT_TRUE(poller().Modify(pair.a.get(), kPollReadable, &new_tag).ok());
  std::vector<PollEvent> events = WaitOnce(poller(), kReadyTimeout);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag, &new_tag);

  // Both filters of a read+write registration carry the new tag.
  int both_tag;
  ASSERT_TRUE(
      poller()
          .Modify(pair.a.get(), kPollReadable | kPollWritable, &both_tag)
          .ok());
  events = WaitOnce(poller(), kReadyTimeout);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag, &both_tag);
  EXPECT_EQ(events[0].events & (kPollReadable | kPollWritable),
            kPollReadable | kPollWritable);
}

TEST_P(PollerConformanceTest, AddWithoutInterestReportsNothingUntilModified) {
  FdPair pair = SocketPair();
  ASSERT_TRUE(pair.valid());
  ASSERT_NO_FATAL_FAILURE(WriteBytes(pair.b.get(), 1));
  int tag;
  ASSERT_TRUE(poller().Add(pair.a.get(), 0, &tag).ok());
  EXPECT_TRUE(WaitOnce(poller(), absl::ZeroDuration()).empty());

  ASSERT_TRUE(poller().Modify(pair.a.get(), kPollReadable, &tag).ok());
  EXPECT_NE(Find(WaitOnce(poller(), kReadyTimeout), &tag), nullptr);

  ASSERT_TRUE(poller().Modify(pair.a.get(), 0, &tag).ok());
  EXPECT_TRUE(WaitOnce(poller(), absl::ZeroDuration()).empty());
}

TEST_P(PollerConformanceTest, RemoveStopsEventsAndAllowsAddAgain) {
  FdPair pair = SocketPair();
  ASSERT_TRUE(pair.valid());
  int tag;
  ASSERT_TRUE(
      poller().Add(pair.a.get(), kPollReadable | kPollWritable, &tag).ok());
  ASSERT_NO_FATAL_FAILURE(WriteBytes(pair.b.get(), 1));
  ASSERT_NE(Find(WaitOnce(poller(), kReadyTimeout), &tag), nullptr);

  ASSERT_TRUE(poller().Remove(pair.a.get()).ok());
  EXPECT_TRUE(WaitOnce(poller(), absl::ZeroDuration()).empty());

  int new_tag;
  ASSERT_TRUE(poller().Add(pair.a.get(), kPollReadable, &new_tag).ok());
  std::vector<PollEvent> events = WaitOnce(poller(), kReadyTimeout);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag, &new_tag);
  EXPECT_FALSE(events[0].events & kPollWritable)
      << "write interest survived Remove()";
}

TEST_P(PollerConformanceTest, RemoveLeavesOtherFdsRegistered) {
  FdPair first = SocketPair();
  FdPair second = SocketPair();
  ASSERT_TRUE(first.valid() && second.valid());
  int first_tag, second_tag;
  ASSERT_TRUE(poller().Add(first.a.get(), kPollReadable, &first_tag).ok());
  ASSERT_TRUE(poller().Add(second.a.get(), kPollReadable, &second_tag).ok());
  ASSERT_NO_FATAL_FAILURE(WriteBytes(first.b.get(), 1));
  ASSERT_NO_FATAL_FAILURE(WriteBytes(second.b.get(), 1));

  ASSERT_TRUE(poller().Remove(first.a.get()).ok());
  std::vector<PollEvent> events = WaitOnce(poller(), kReadyTimeout);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag, &second_tag);
}

// --- Registration errors -----------------------------------------------------

TEST_P(PollerConformanceTest, AddOfRegisteredFdFails) {
  FdPair pair = SocketPair();
  ASSERT_TRUE(pair.valid());
  int tag, other_tag;
  ASSERT_TRUE(poller().Add(pair.a.get(), kPollReadable, &tag).ok());
  absl::Status again = poller().Add(pair.a.get(), kPollWritable, &other_tag);
  EXPECT_FALSE(again.ok());
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;

  // The original registration is untouched.
  ASSERT_NO_FATAL_FAILURE(WriteBytes(pair.b.get(), 1));
  std::vector<PollEvent> events = WaitOnce(poller(), kReadyTimeout);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag, &tag);
  EXPECT_EQ(events[0].events & (kPollReadable | kPollWritable), kPollReadable);
}

TEST_P(PollerConformanceTest, RemoveOfUnregisteredFdFails) {
  FdPair pair = SocketPair();
  ASSERT_TRUE(pair.valid());
  absl::Status never_added = poller().Remove(pair.a.get());
  EXPECT_FALSE(never_added.ok());
  EXPECT_EQ(never_added.code(), absl::StatusCode::kNotFound) << never_added;

  int tag;
  ASSERT_TRUE(poller().Add(pair.a.get(), kPollReadable, &tag).ok());
  ASSERT_TRUE(poller().Remove(pair.a.get()).ok());
  absl::Status twice = poller().Remove(pair.a.get());
  EXPECT_FALSE(twice.ok());
  EXPECT_EQ(twice.code(), absl::StatusCode::kNotFound) << twice;
}

TEST_P(PollerConformanceTest, ModifyOfUnregisteredFdFails) {
  FdPair pair = SocketPair();
  ASSERT_TRUE(pair.valid());
  int tag;
  absl::Status status = poller().Modify(pair.a.get(), kPollReadable, &tag);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;

  // The failed Modify did not register it.
  ASSERT_NO_FATAL_FAILURE(WriteBytes(pair.b.get(), 1));
  EXPECT_TRUE(WaitOnce(poller(), absl::ZeroDuration()).empty());
}

// --- Timeouts ----------------------------------------------------------------

TEST_P(PollerConformanceTest, ZeroTimeoutReturnsImmediately) {
  FdPair pair = SocketPair();
  ASSERT_TRUE(pair.valid());
  int tag;
  ASSERT_TRUE(poller().Add(pair.a.get(), kPollReadable, &tag).ok());

  SteadyClock::time_point start = SteadyClock::now();
  std::vector<PollEvent> events = WaitOnce(poller(), absl::ZeroDuration());
  absl::Duration elapsed = Since(start);
  EXPECT_TRUE(events.empty());
  EXPECT_LT(elapsed, absl::Seconds(1)) << "Wait(0) blocked";
}

TEST_P(PollerConformanceTest, FiniteTimeoutWaitsAboutThatLong) {
  FdPair pair = SocketPair();
  ASSERT_TRUE(pair.valid());
  int tag;
  ASSERT_TRUE(poller().Add(pair.a.get(), kPollReadable, &tag).ok());

  constexpr absl::Duration kTimeout = absl::Milliseconds(100);
  SteadyClock::time_point start = SteadyClock::now();
  std::vector<PollEvent> events = WaitOnce(poller(), kTimeout);
  absl::Duration elapsed = Since(start);
  EXPECT_TRUE(events.empty());
  EXPECT_GE(elapsed, kTimeout - absl::Milliseconds(1));
  EXPECT_LT(elapsed, kReadyTimeout);
}

// A sub-millisecond timeout must not be truncated to zero, or a loop whose
// next timer is 0.4 ms away would spin.
TEST_P(PollerConformanceTest, SubMillisecondTimeoutIsNotTruncatedToZero) {
  constexpr absl::Duration kTimeout = absl::Microseconds(500);
  SteadyClock::time_point start = SteadyClock::now();
  std::vector<PollEvent> events = WaitOnce(poller(), kTimeout);
  absl::Duration elapsed = Since(start);
  EXPECT_TRUE(events.empty());
  EXPECT_GE(elapsed, absl::Microseconds(250));
  EXPECT_LT(elapsed, kReadyTimeout);
}

// --- Wakeup ------------------------------------------------------------------

TEST_P(PollerConformanceTest, WakeupFromAnotherThreadUnblocksInfiniteWait) {
  // If Wakeup() is broken the waiter would block forever; the test then fails
  // and makes this pipe readable so that the waiter returns and can be joined.
  FdPair rescue = Pipe();
  ASSERT_TRUE(rescue.valid());
  int rescue_tag;
  ASSERT_TRUE(poller().Add(rescue.a.get(), kPollReadable, &rescue_tag).ok());

  Notification waiting;
  Notification returned;
  absl::StatusOr<int> result = 0;
  std::vector<PollEvent> events;
  std::thread waiter([&] {
    waiting.Notify();
    result = poller().Wait(absl::InfiniteDuration(), events);
    returned.Notify();
  });

  waiting.WaitForNotification();
  poller().Wakeup();
  const bool woke = returned.WaitForNotificationWithTimeout(kReadyTimeout);
  if (!woke) {
    const char byte = 'x';
    EXPECT_EQ(::write(rescue.b.get(), &byte, 1), 1) << std::strerror(errno);
  }
  waiter.join();

  EXPECT_TRUE(woke) << "Wait(InfiniteDuration()) ignored Wakeup()";
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, 0) << "the wakeup was reported as an event";
  EXPECT_TRUE(events.empty());
}

TEST_P(PollerConformanceTest, WakeupBeforeWaitMakesNextWaitReturn) {
  poller().Wakeup();
  SteadyClock::time_point start = SteadyClock::now();
  std::vector<PollEvent> events = WaitOnce(poller(), kReadyTimeout);
  EXPECT_LT(Since(start), kReadyTimeout / 2) << "pending Wakeup() was lost";
  EXPECT_TRUE(events.empty()) << "the wakeup was reported as an event";
}

TEST_P(PollerConformanceTest, WakeupsCoalesce) {
  for (int i = 0; i < 100; ++i) poller().Wakeup();

  // One Wait() absorbs all of them...
  SteadyClock::time_point start = SteadyClock::now();
  EXPECT_TRUE(WaitOnce(poller(), kReadyTimeout).empty());
  EXPECT_LT(Since(start), kReadyTimeout / 2);

  // ...so the next one runs to its timeout.
  constexpr absl::Duration kTimeout = absl::Milliseconds(50);
  start = SteadyClock::now();
  EXPECT_TRUE(WaitOnce(poller(), kTimeout).empty());
  EXPECT_GE(Since(start), kTimeout - absl::Milliseconds(1))
      << "a Wakeup() survived the Wait() that consumed it";
}

TEST_P(PollerConformanceTest, WakeupIsNotReportedAlongsideFdEvents) {
  FdPair pair = SocketPair();
  ASSERT_TRUE(pair.valid());
  int tag;
  ASSERT_TRUE(poller().Add(pair.a.get(), kPollReadable, &tag).ok());
  ASSERT_NO_FATAL_FAILURE(WriteBytes(pair.b.get(), 1));
  poller().Wakeup();

  for (int i = 0; i < 2; ++i) {
    std::vector<PollEvent> events = WaitOnce(poller(), kReadyTimeout);
    ASSERT_EQ(events.size(), 1u) << "Wait() #" << i;
    EXPECT_EQ(events[0].tag, &tag);
  }
}

// Wakeup() racing with Wait() from several threads is never lost: each
// Wait() below returns because of some Wakeup(), and the last Wakeup() comes
// after the flag the loop checks, so the loop always terminates.
TEST_P(PollerConformanceTest, ConcurrentWakeupsAreNeverLost) {
  constexpr int kThreads = 4;
  constexpr int kWakeupsPerThread = 500;
  std::atomic<int> finished{0};
  std::vector<std::thread> wakers;
  for (int t = 0; t < kThreads; ++t) {
    wakers.emplace_back([&] {
      for (int i = 0; i < kWakeupsPerThread; ++i) poller().Wakeup();
      finished.fetch_add(1);
      poller().Wakeup();
    });
  }

  int waits = 0;
  while (finished.load() < kThreads) {
    SteadyClock::time_point start = SteadyClock::now();
    std::vector<PollEvent> events = WaitOnce(poller(), kReadyTimeout);
    ++waits;
    EXPECT_TRUE(events.empty());
    if (Since(start) >= kReadyTimeout) {
      ADD_FAILURE() << "Wait() timed out: a Wakeup() was lost";
      break;
    }
  }
  for (std::thread& waker : wakers) waker.join();
  EXPECT_LE(waits, kThreads * (kWakeupsPerThread + 1));
}

// --- Peer close --------------------------------------------------------------

TEST_P(PollerConformanceTest, SocketPeerCloseReported) {
  FdPair pair = SocketPair();
  ASSERT_TRUE(pair.valid());
  int tag;
  ASSERT_TRUE(poller().Add(pair.a.get(), kPollReadable, &tag).ok());
  pair.b.reset();

  // Level-triggered: reported until the owner removes the fd.
  for (int i = 0; i < 2; ++i) {
    std::vector<PollEvent> events = WaitOnce(poller(), kReadyTimeout);
    ASSERT_EQ(events.size(), 1u) << "Wait() #" << i;
    EXPECT_EQ(events[0].tag, &tag);
    EXPECT_TRUE(events[0].events & (kPollReadable | kPollHangup))
        << "events=" << events[0].events;
  }
  char byte;
  EXPECT_EQ(::read(pair.a.get(), &byte, 1), 0) << "expected end of file";
}

TEST_P(PollerConformanceTest, SocketPeerCloseReportedWithPendingData) {
  FdPair pair = SocketPair();
  ASSERT_TRUE(pair.valid());
  int tag;
  ASSERT_TRUE(poller().Add(pair.a.get(), kPollReadable, &tag).ok());
  ASSERT_NO_FATAL_FAILURE(WriteBytes(pair.b.get(), 5));
  pair.b.reset();

  std::vector<PollEvent> events = WaitOnce(poller(), kReadyTimeout);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].events & kPollReadable);
  EXPECT_EQ(Drain(pair.a.get()), 5u) << "data before the close was lost";
  EXPECT_NE(Find(WaitOnce(poller(), kReadyTimeout), &tag), nullptr)
      << "end of file must stay reported after draining";
}

TEST_P(PollerConformanceTest, PipeWriterCloseReported) {
  FdPair pipe = Pipe();
  ASSERT_TRUE(pipe.valid());
  int tag;
  ASSERT_TRUE(poller().Add(pipe.a.get(), kPollReadable, &tag).ok());
  pipe.b.reset();

  std::vector<PollEvent> events = WaitOnce(poller(), kReadyTimeout);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag, &tag);
  EXPECT_TRUE(events[0].events & (kPollReadable | kPollHangup))
      << "events=" << events[0].events;
}

TEST_P(PollerConformanceTest, SocketPeerCloseReportedToWriteInterest) {
  FdPair pair = SocketPair();
  ASSERT_TRUE(pair.valid());
  ASSERT_NO_FATAL_FAILURE(FillUntilWouldBlock(pair.a.get()));
  int tag;
  ASSERT_TRUE(poller().Add(pair.a.get(), kPollWritable, &tag).ok());
  EXPECT_TRUE(WaitOnce(poller(), absl::ZeroDuration()).empty());

  // A writer blocked on a full socket must learn that the reader went away.
  pair.b.reset();
  std::vector<PollEvent> events = WaitOnce(poller(), kReadyTimeout);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag, &tag);
  EXPECT_TRUE(events[0].events & (kPollWritable | kPollHangup | kPollError))
      << "events=" << events[0].events;
}

// --- Many fds ----------------------------------------------------------------

TEST_P(PollerConformanceTest, ManyReadyFdsAreAllReported) {
  const int count = FdPairBudget(1000);
  ASSERT_GE(count, 300) << "RLIMIT_NOFILE too low for this test";
  std::vector<FdPair> pairs(count);
  std::vector<char> tags(count);  // &tags[i] tags pairs[i]
  for (int i = 0; i < count; ++i) {
    pairs[i] = SocketPair();
    ASSERT_TRUE(pairs[i].valid()) << "pair " << i;
    ASSERT_TRUE(poller().Add(pairs[i].a.get(), kPollReadable, &tags[i]).ok());
    ASSERT_NO_FATAL_FAILURE(WriteBytes(pairs[i].b.get(), 1));
  }
  const uintptr_t first_tag = reinterpret_cast<uintptr_t>(tags.data());

  // All are ready, possibly more than one Wait() returns: gather across
  // Wait()s, reusing one vector as an event loop does. Level triggering keeps
  // undrained fds ready, so every fd must show up within a few rounds.
  std::vector<bool> seen(count, false);
  int seen_count = 0;
  std::vector<PollEvent> events;
  for (int round = 0; round < 64 && seen_count < count; ++round) {
    absl::StatusOr<int> n = poller().Wait(kReadyTimeout, events);
    ASSERT_TRUE(n.ok()) << n.status();
    ASSERT_EQ(*n, static_cast<int>(events.size()));
    ASSERT_GT(*n, 0) << "round " << round;
    ASSERT_LE(*n, count);
    absl::flat_hash_set<void*> this_round;
    for (const PollEvent& ev : events) {
      const uintptr_t offset = reinterpret_cast<uintptr_t>(ev.tag) - first_tag;
      ASSERT_LT(offset, static_cast<uintptr_t>(count)) << "unknown tag";
      EXPECT_TRUE(this_round.insert(ev.tag).second)
          << "fd " << offset << " reported twice in one Wait()";
      EXPECT_TRUE(ev.events & kPollReadable);
      if (!seen[offset]) {
        seen[offset] = true;
        ++seen_count;
      }
    }
  }
  EXPECT_EQ(seen_count, count) << "some ready fds were never reported";

  for (FdPair& pair : pairs) EXPECT_EQ(Drain(pair.a.get()), 1u);
  EXPECT_TRUE(WaitOnce(poller(), absl::ZeroDuration()).empty());
  for (FdPair& pair : pairs) EXPECT_TRUE(poller().Remove(pair.a.get()).ok());
}

}  // namespace
}  // namespace netman
