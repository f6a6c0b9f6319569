// Copyright netman authors.
//
// The acceptor under a descriptor shortage: it pauses and resumes once per
// freed descriptor, but logs one warning per shortage. Its own binary: it
// lowers this process's RLIMIT_NOFILE so that its own accept4() hits EMFILE.
// Time is a FakeClock and the loop is driven on the test thread.
#include "netman/net/acceptor.h"

#include <dirent.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "netman/base/log.h"
#include "netman/base/testing/capturing_log_sink.h"
#include "netman/base/testing/fake_clock.h"
#include "netman/base/unique_fd.h"
#include "netman/net/event_loop.h"
#include "netman/net/socket_address.h"

namespace netman {
namespace {

constexpr absl::Duration kDeadline = absl::Seconds(30);

std::set<int> OpenDescriptors() {
  std::set<int> fds;
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return fds;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') fds.insert(std::atoi(e->d_name));
  }
  fds.erase(::dirfd(d));
  ::closedir(d);
  return fds;
}

// Lowers RLIMIT_NOFILE so that exactly `free` descriptor numbers are left
// (below the limit); restores it on destruction.
class DescriptorLimit {
 public:
  DescriptorLimit() { ::getrlimit(RLIMIT_NOFILE, &original_); }
  ~DescriptorLimit() { Restore(); }
  bool LeaveFree(int free) {
    const std::set<int> open = OpenDescriptors();
    if (open.empty()) return false;
    int limit = 0;
    for (int unused = 0; unused < free; ++limit) {
      if (open.count(limit) == 0) ++unused;
    }
    struct rlimit lowered = original_;
    lowered.rlim_cur = static_cast<rlim_t>(limit);
    return ::setrlimit(RLIMIT_NOFILE, &lowered) == 0;
  }
  void Restore() { ::setrlimit(RLIMIT_NOFILE, &original_); }

 private:
  struct rlimit original_;
};

UniqueFd ConnectTo(const SocketAddress& address) {
  UniqueFd fd(::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.valid() && ::connect(fd.get(), address.sockaddr(), address.length()) != 0) fd.reset();
  return fd;
}

// Lines at `level` that contain `needle`.
int CountLines(const CapturingLogSink& sink, LogLevel level, std::string_view needle) {
  const std::string prefix = std::string(LogLevelName(level)) + " ";
  int n = 0;
  for (const std::string& line : sink.Lines()) {
    if (absl::StartsWith(line, prefix) &&
        absl::StrContains(line, absl::string_view(needle.data(), needle.size()))) {
      ++n;
    }
  }
  return n;
}

class AcceptorShortageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = EventLoop::Create(
        {CreateDefaultPoller, &clock_, Logger(sink_, LogLevel::kDebug)});
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = std::move(*loop);
    Acceptor::Options options;
    options.retry_delay = absl::Hours(1);  // only Resume() resumes
    auto address = SocketAddress::Parse("127.0.0.1:0");
    ASSERT_TRUE(address.ok());
    auto acceptor = Acceptor::Create(loop_.get(), *address, options,
                                     [this](UniqueFd fd, const SocketAddress&) {
                                       accepted_.push_back(std::move(fd));
                                       ++accepts_;
                                     });
    ASSERT_TRUE(acceptor.ok()) << acceptor.status();
    acceptor_ = std::move(*acceptor);
    ASSERT_TRUE(acceptor_->Listen().ok());
    // UBSan's vptr check (--config=asan) reads memory through a pipe(2) the
    // first time it sees a type; at EMFILE that fails and it reports a false
    // "invalid vptr". Let it see the sink and the loop's types now.
    Logger(sink_, LogLevel::kDebug).Debug("warm-up");
    loop_->RunOnce(absl::ZeroDuration());
  }
  void TearDown() override { acceptor_.reset(); }

  // Connects clients; the kernel completes them into the listen backlog.
  void Connect(int n) {
    for (int i = 0; i < n; ++i) {
      clients_.push_back(ConnectTo(acceptor_->local_address()));
      ASSERT_TRUE(clients_.back().valid());
    }
  }
  template <typename Condition>
  bool RunUntil(Condition condition) {
    const absl::Time give_up = absl::Now() + kDeadline;
    while (!condition() && absl::Now() < give_up) loop_->RunOnce(absl::Milliseconds(10));
    return condition();
  }
  // Closes two accepted sockets (freeing two descriptors) and resumes.
  void FreeTwoAndResume() {
    ASSERT_GE(accepted_.size(), 2u);
    accepted_.pop_back();
    accepted_.pop_back();
    acceptor_->Resume();  // on the loop thread: resumes at once
    EXPECT_FALSE(acceptor_->paused());
  }
  int Count(LogLevel level, std::string_view needle) const {
    return CountLines(*sink_, level, needle);
  }

  FakeClock clock_;
  std::shared_ptr<CapturingLogSink> sink_ = std::make_shared<CapturingLogSink>();
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<Acceptor> acceptor_;
  std::vector<UniqueFd> accepted_;
  int accepts_ = 0;
  std::vector<UniqueFd> clients_;
};

TEST_F(AcceptorShortageTest, LogsOneWarningPerShortage) {
  Connect(12);
  DescriptorLimit limit;
  ASSERT_TRUE(limit.LeaveFree(2));
  ASSERT_TRUE(RunUntil([&] { return acceptor_->paused(); }));
  EXPECT_EQ(accepts_, 2);
  EXPECT_EQ(Count(LogLevel::kWarning, "pausing accepts"), 1);
  EXPECT_EQ(Count(LogLevel::kWarning, "Too many open files"), 1);

  // The storm: every freed descriptor lets one more client in, and the next
  // accept hits the limit again. Four more pauses over 12 s.
  for (int round = 1; round <= 4; ++round) {
    clock_.Advance(absl::Seconds(3));
    FreeTwoAndResume();
    ASSERT_TRUE(RunUntil([&] { return acceptor_->paused(); }));
    EXPECT_EQ(accepts_, 2 + 2 * round);
  }
  EXPECT_EQ(Count(LogLevel::kWarning, "pausing accepts"), 1);
  EXPECT_EQ(Count(LogLevel::kDebug, "pausing accepts again (pause 5 of this shortage)"), 1);
  EXPECT_EQ(Count(LogLevel::kDebug, "pausing accepts again"), 4);
  EXPECT_EQ(Count(LogLevel::kInfo, "resuming"), 1);  // the first resume
  EXPECT_EQ(Count(LogLevel::kDebug, "resuming"), 3);
  const int info_and_above = Count(LogLevel::kInfo, "") + Count(LogLevel::kWarning, "") +
                             Count(LogLevel::kError, "");
  EXPECT_EQ(info_and_above, 2);

  // Descriptors are back: the rest of the backlog is accepted.
  limit.Restore();
  acceptor_->Resume();
  ASSERT_TRUE(RunUntil([&] { return accepts_ == 12; }));
  EXPECT_FALSE(acceptor_->paused());

  // The shortage ends after a quiet period, with one summary line.
  clock_.Advance(Acceptor::kShortageQuietPeriod - absl::Nanoseconds(1));
  loop_->RunOnce(absl::ZeroDuration());
  EXPECT_EQ(Count(LogLevel::kInfo, "descriptor shortage over"), 0);
  clock_.Advance(absl::Nanoseconds(1));
  loop_->RunOnce(absl::ZeroDuration());
  EXPECT_EQ(Count(LogLevel::kInfo,
                  "descriptor shortage over: accepting was paused 5 times in 12s"),
            1);

  // A later shortage is new: it gets its own warning. With one pause only,
  // there is no summary.
  Connect(3);
  ASSERT_TRUE(limit.LeaveFree(2));
  ASSERT_TRUE(RunUntil([&] { return acceptor_->paused(); }));
  EXPECT_EQ(accepts_, 14);
  EXPECT_EQ(Count(LogLevel::kWarning, "pausing accepts"), 2);
  limit.Restore();
  acceptor_->Resume();
  ASSERT_TRUE(RunUntil([&] { return accepts_ == 15; }));
  EXPECT_EQ(Count(LogLevel::kInfo, "resuming"), 2);
  clock_.Advance(Acceptor::kShortageQuietPeriod);
  loop_->RunOnce(absl::ZeroDuration());
  EXPECT_EQ(Count(LogLevel::kInfo, "descriptor shortage over"), 1);
}

TEST_F(AcceptorShortageTest, AShortageLastsWhileAcceptsKeepPausing) {
  // Pauses less than the quiet period apart belong to one shortage, however
  // long it lasts in all.
  Connect(9);
  DescriptorLimit limit;
  ASSERT_TRUE(limit.LeaveFree(2));
  ASSERT_TRUE(RunUntil([&] { return acceptor_->paused(); }));
  for (int round = 1; round <= 3; ++round) {
    clock_.Advance(Acceptor::kShortageQuietPeriod - absl::Seconds(1));
    loop_->RunOnce(absl::ZeroDuration());  // the shortage timer may run
    FreeTwoAndResume();
    ASSERT_TRUE(RunUntil([&] { return acceptor_->paused(); }));
  }
  EXPECT_EQ(accepts_, 8);
  EXPECT_EQ(Count(LogLevel::kWarning, "pausing accepts"), 1);
  EXPECT_EQ(Count(LogLevel::kInfo, "descriptor shortage over"), 0);
  limit.Restore();
}

}  // namespace
}  // namespace netman
