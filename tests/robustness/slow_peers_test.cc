// Copyright netman authors.
//
// Peers that are slow on purpose: slowloris (a frame trickled one byte per
// interval), a declared-huge body trickled slowly, and a client that sends
// but never reads (the output cap, both policies). For each: the server
// holds memory proportional to what it actually received or queued (never
// to what a header declares), its loop does not spin, a canary client on the
// same loop keeps being served at full speed, and nothing already accepted
// is lost.
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "netman/buffer/buffer.h"
#include "tests/robustness/testing.h"

namespace netman::robustness {
namespace {

class SlowPeersTest : public ServerTest {
 protected:
  std::atomic<int> kicked_{0};  // used by a server hook: outlives the server
};

TEST_F(SlowPeersTest, SlowlorisHoldsOnlyWhatArrivedAndCostsNoCpu) {
  StartServer();  // one loop: the attackers share the canary's loop
  auto canary = Canary::Start(port());
  ASSERT_TRUE(canary.ok()) << canary.status();

  constexpr int kAttackers = 100;
  constexpr absl::Duration kInterval = absl::Milliseconds(40);
  std::vector<UniqueFd> attackers;
  std::vector<ConnectionPtr> server_side;
  std::vector<std::string> frames;
  for (int i = 0; i < kAttackers; ++i) {
    auto fd = ConnectTo(port());
    ASSERT_TRUE(fd.ok()) << fd.status();
    attackers.push_back(std::move(*fd));
    server_side.push_back(ServerSideOf(attackers.back().get()));
    ASSERT_NE(server_side.back(), nullptr) << i;
    frames.push_back(Frame(0, absl::StrCat("slowloris-", 1000 + i, "!")));  // 24 bytes
  }
  auto loop_cpu = ThreadCpuClock::OfLoop(server_side[0]);
  ASSERT_TRUE(loop_cpu.ok()) << loop_cpu.status();
  const absl::Duration cpu_start = loop_cpu->Now();
  const absl::Time start = absl::Now();

  // One byte per attacker per interval: header first, then the body.
  for (size_t b = 0; b < frames[0].size(); ++b) {
    for (int i = 0; i < kAttackers; ++i) {
      ASSERT_TRUE(WriteAll(attackers[i].get(), frames[i].substr(b, 1)).ok());
    }
    absl::SleepFor(kInterval);  // the attack's own pace
    if (b % 6 == 5 && b + 1 < frames[0].size()) {
      // A partial frame costs at most one minimum-size buffer.
      for (int i = 0; i < kAttackers; ++i) {
        ASSERT_LE(BufferCapacity(server_side[i]), Buffer::kMinCapacity)
            << "attacker " << i << " after " << b + 1 << " bytes";
      }
    }
  }
  const absl::Duration cpu = loop_cpu->Now() - cpu_start;
  const absl::Duration wall = absl::Now() - start;
  EXPECT_LT(cpu, wall * (kSanitized ? 0.6 : 0.25))
      << "the loop spent " << absl::FormatDuration(cpu) << " of CPU in "
      << absl::FormatDuration(wall) << " on trickled bytes";

  // Every trickled frame arrived whole and is answered.
  for (int i = 0; i < kAttackers; ++i) {
    auto echo = ReadExactly(attackers[i].get(), frames[i].size(), absl::Seconds(20));
    ASSERT_TRUE(echo.ok()) << i << ": " << echo.status();
    EXPECT_EQ(*echo, frames[i]) << i;
  }
  // Answered and idle: nothing held any more.
  for (int i = 0; i < kAttackers; ++i) EXPECT_EQ(BufferCapacity(server_side[i]), 0u) << i;
  EXPECT_TRUE(CanaryWasServed((*canary)->Stop(), 50, Relaxed(absl::Milliseconds(500))));
}

TEST_F(SlowPeersTest, DeclaredHugeBodyTrickledAllocatesOnlyWhatArrived) {
  StartServer();  // max_body 64 MiB
  auto canary = Canary::Start(port());
  ASSERT_TRUE(canary.ok()) << canary.status();
  const int64_t rss_start = ResidentBytes();

  constexpr int kAttackers = 8;
  constexpr uint32_t kDeclared = 60u << 20;  // below max_body: accepted
  constexpr uint32_t kFinished = 3u << 20;   // attacker 0 really sends this much
  constexpr size_t kPiece = 16 * 1024;
  constexpr int kRounds = 64;                // 1 MiB per attacker
  std::vector<UniqueFd> attackers;
  std::vector<ConnectionPtr> server_side;
  std::vector<size_t> written(kAttackers, 0);
  std::string body0(kFinished, '\0');
  for (size_t i = 0; i < body0.size(); ++i) body0[i] = static_cast<char>(i * 131 + i / 4099);
  const std::string piece(kPiece, 'h');
  for (int i = 0; i < kAttackers; ++i) {
    auto fd = ConnectTo(port());
    ASSERT_TRUE(fd.ok()) << fd.status();
    attackers.push_back(std::move(*fd));
    server_side.push_back(ServerSideOf(attackers.back().get()));
    ASSERT_NE(server_side.back(), nullptr);
    const std::string header = Header(i == 0 ? kFinished : kDeclared);
    ASSERT_TRUE(WriteAll(attackers[i].get(), header).ok());
    written[i] = header.size();
  }
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < kAttackers; ++i) {
      std::string_view bytes =
          i == 0 ? std::string_view(body0).substr(round * kPiece, kPiece) : piece;
      ASSERT_TRUE(WriteAll(attackers[i].get(), bytes).ok());
      written[i] += bytes.size();
    }
    absl::SleepFor(absl::Milliseconds(10));  // the attack's own pace
    if (round % 16 == 15) {
      for (int i = 0; i < kAttackers; ++i) {
        const size_t capacity = BufferCapacity(server_side[i]);
        // Proportional to the bytes received (geometric growth, plus one
        // read's worth), never to the 60 MiB declared.
        EXPECT_LE(capacity, 2 * written[i] + 128 * 1024)
            << "attacker " << i << " after " << written[i] << " bytes";
        EXPECT_LT(capacity, 4u << 20) << "attacker " << i;
      }
    }
  }
  if (!kSanitized) {  // sanitizers keep freed blocks resident (quarantine)
    EXPECT_LT(ResidentBytes() - rss_start, int64_t{128} << 20)
        << "8 connections declaring 60 MiB each, 1 MiB received each";
  }
  // Attacker 0 finishes its (large, legitimate) message: echoed intact.
  ASSERT_TRUE(WriteAll(attackers[0].get(), std::string_view(body0).substr(written[0] - 8)).ok());
  auto echo = ReadExactly(attackers[0].get(), 8 + body0.size(), absl::Seconds(60));
  ASSERT_TRUE(echo.ok()) << echo.status();
  EXPECT_TRUE(*echo == Header(kFinished) + body0) << "the 3 MiB echo differs";

  EXPECT_TRUE(CanaryWasServed((*canary)->Stop(), 50, Relaxed(absl::Milliseconds(500))));
  attackers.clear();
  server_side.clear();
  EXPECT_TRUE(WaitForConnectionCount(1));  // the canary's
  EXPECT_EQ(TotalBufferCapacity(), 0u);    // the canary is idle
}

// Heartbeats (off by default) bound how long a silent connection can hold a
// descriptor; any inbound byte counts as life, so a trickle at one byte per
// interval below the idle time is not kicked: slowloris is bounded in
// memory and CPU (above), not in time.
TEST_F(SlowPeersTest, HeartbeatKicksSilentPeersButNotTricklers) {
  ServerOptions options;
  options.heartbeat_idle_time = absl::Milliseconds(600);
  options.heartbeat_check_interval = absl::Milliseconds(100);
  StartServer(options, [&](TcpServer& s) {
    ASSERT_TRUE(s.OnClose([this](Connection&, const absl::Status& reason) {
      if (absl::IsDeadlineExceeded(reason)) ++kicked_;
    }).ok());
  });
  auto canary = Canary::Start(port());
  ASSERT_TRUE(canary.ok()) << canary.status();
  constexpr int kSilent = 50;
  constexpr int kTricklers = 10;
  std::vector<UniqueFd> silent, tricklers;
  for (int i = 0; i < kSilent + kTricklers; ++i) {
    auto fd = ConnectTo(port());
    ASSERT_TRUE(fd.ok()) << fd.status();
    ASSERT_NE(ServerSideOf(fd->get()), nullptr);
    (i < kSilent ? silent : tricklers).push_back(std::move(*fd));
  }
  // 24 bytes at one per 100 ms: 2.4 s, four idle times.
  const std::string frame = Frame(0, "still trickling, alive!");
  for (size_t b = 0; b < frame.size(); ++b) {
    for (UniqueFd& fd : tricklers) ASSERT_TRUE(WriteAll(fd.get(), frame.substr(b, 1)).ok());
    absl::SleepFor(absl::Milliseconds(100));  // the trickle's own pace
  }
  for (UniqueFd& fd : tricklers) {
    auto echo = ReadExactly(fd.get(), frame.size(), absl::Seconds(10));
    ASSERT_TRUE(echo.ok()) << "a trickler was kicked: " << echo.status();
    EXPECT_EQ(*echo, frame);
  }
  // Every silent connection was closed by the server, with DeadlineExceeded.
  for (UniqueFd& fd : silent) {
    bool closed = false;
    ReadUntilClosed(fd.get(), absl::Seconds(10), &closed);
    EXPECT_TRUE(closed);
  }
  EXPECT_TRUE(WaitUntil([&] { return kicked_.load() == kSilent; }, absl::Seconds(10)))
      << kicked_.load() << " kicked";
  EXPECT_TRUE(CanaryWasServed((*canary)->Stop(), 50, Relaxed(absl::Milliseconds(500))));
}

// A 64 KiB echo request whose body starts with its index.
std::string NumberedRequest(int index) {
  std::string body(64 * 1024, static_cast<char>('A' + index % 26));
  const std::string tag = absl::StrCat(index, ":");
  body.replace(0, tag.size(), tag);
  return Frame(0, body);
}

TEST_F(SlowPeersTest, ClientThatNeverReadsIsPausedAtTheOutputCapAndLosesNothing) {
  ServerOptions options;
  options.max_output_bytes = 1u << 20;
  options.output_limit_policy = OutputLimitPolicy::kPauseReading;
  StartServer(options);
  auto canary = Canary::Start(port());
  ASSERT_TRUE(canary.ok()) << canary.status();
  auto attacker = ConnectTo(port(), /*receive_buffer=*/64 * 1024);
  ASSERT_TRUE(attacker.ok()) << attacker.status();
  const int fd = attacker->get();
  ConnectionPtr server_side = ServerSideOf(fd);
  ASSERT_NE(server_side, nullptr);

  // Send requests, never reading, until the socket stays full for 1 s: the
  // server has stopped reading. Give up (fail) after 64 MiB.
  int complete = 0;         // requests written whole
  std::string partial;      // the rest of a request the socket did not take
  bool pushed_back = false;
  for (int i = 0; i < 1024 && !pushed_back; ++i) {
    std::string request = NumberedRequest(i);
    std::string_view rest = request;
    while (!rest.empty()) {
      ssize_t n = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        rest.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      ASSERT_TRUE(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) << std::strerror(errno);
      struct pollfd p = {fd, POLLOUT, 0};
      if (::poll(&p, 1, 1000) == 0) {
        pushed_back = true;
        break;
      }
    }
    if (rest.empty()) {
      ++complete;
    } else {
      partial = std::string(rest);
    }
  }
  ASSERT_TRUE(pushed_back) << "the server kept reading 64 MiB from a client that never reads";

  // Paused: the queue is capped (one reply past the cap at most: dispatch
  // stops at the message whose reply crossed it, the rest of that read waits
  // in the input buffer), reading is off, and the loop is not spinning.
  auto paused = OnLoop<bool>(server_side, [&] { return server_side->read_paused(); });
  ASSERT_TRUE(paused.has_value());
  EXPECT_TRUE(*paused);
  auto queued = OnLoop<size_t>(server_side, [&] { return server_side->output_bytes(); });
  ASSERT_TRUE(queued.has_value());
  EXPECT_LE(*queued, (1u << 20) + NumberedRequest(0).size());
  EXPECT_LE(BufferCapacity(server_side), 4u << 20);
  auto loop_cpu = ThreadCpuClock::OfLoop(server_side);
  ASSERT_TRUE(loop_cpu.ok());
  const absl::Duration cpu_start = loop_cpu->Now();
  // The canary still gets answers meanwhile (checked below); measure 500 ms.
  EXPECT_TRUE((*canary)->ServesMore(20));
  absl::SleepFor(absl::Milliseconds(500));  // a window to measure CPU over
  EXPECT_LT(loop_cpu->Now() - cpu_start, Relaxed(absl::Milliseconds(150), 3));

  // The client starts reading: every complete request is answered, in order,
  // then the partial one once it is finished.
  for (int i = 0; i < complete; ++i) {
    const std::string expected = NumberedRequest(i);
    auto echo = ReadExactly(fd, expected.size(), absl::Seconds(30));
    ASSERT_TRUE(echo.ok()) << "reply " << i << " of " << complete << ": " << echo.status();
    ASSERT_TRUE(*echo == expected) << "reply " << i << " differs";
  }
  if (!partial.empty()) {
    ASSERT_TRUE(WriteAll(fd, partial).ok());
    const std::string expected = NumberedRequest(complete);
    auto echo = ReadExactly(fd, expected.size(), absl::Seconds(30));
    ASSERT_TRUE(echo.ok()) << echo.status();
    EXPECT_TRUE(*echo == expected);
  }
  paused = OnLoop<bool>(server_side, [&] { return server_side->read_paused(); });
  EXPECT_FALSE(paused.value_or(true));
  EXPECT_TRUE(CanaryWasServed((*canary)->Stop(), 20, Relaxed(absl::Milliseconds(500))));
}

TEST_F(SlowPeersTest, ClientThatNeverReadsIsClosedAtTheOutputCapWithClosePolicy) {
  ServerOptions options;
  options.max_output_bytes = 256u << 10;
  options.output_limit_policy = OutputLimitPolicy::kClose;
  StartServer(options);
  auto canary = Canary::Start(port());
  ASSERT_TRUE(canary.ok()) << canary.status();
  auto attacker = ConnectTo(port(), /*receive_buffer=*/64 * 1024);
  ASSERT_TRUE(attacker.ok()) << attacker.status();
  ASSERT_NE(ServerSideOf(attacker->get()), nullptr);

  bool closed = false;
  for (int i = 0; i < 1024 && !closed; ++i) {
    absl::Status s = WriteAll(attacker->get(), NumberedRequest(i), absl::Seconds(10));
    ASSERT_FALSE(absl::IsDeadlineExceeded(s)) << "the server neither read nor closed";
    closed = !s.ok();  // EPIPE / ECONNRESET
  }
  ASSERT_TRUE(closed) << "64 MiB sent and never closed";
  EXPECT_TRUE(sink_->WaitFor("over max_output_bytes of 262144 (policy: close)",
                             absl::Seconds(10)));
  EXPECT_TRUE(WaitForConnectionCount(1));  // only the canary is left
  EXPECT_TRUE((*canary)->ServesMore(20));
  EXPECT_TRUE(CanaryWasServed((*canary)->Stop(), 20, Relaxed(absl::Milliseconds(500))));
}

}  // namespace
}  // namespace netman::robustness
