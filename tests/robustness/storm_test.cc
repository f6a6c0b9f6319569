// Copyright netman authors.
//
// Many hostile connections at once: connect/close storms (closing at once,
// mid-message, with a request unread, or by reset) and random garbage
// (wrong protocols, random bytes). The server must account for every
// connection it accepted (OnOpen/OnClose pair up, nothing stays open, no
// descriptor leaks), close garbage with a logged reason, answer whatever
// valid frames came before it, and keep serving a canary.
#include <sys/socket.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "netman/codec/default_packer.h"
#include "tests/robustness/testing.h"

namespace netman::robustness {
namespace {

class StormTest : public ServerTest {
 protected:
  // Used by server hooks: members, so they outlive the server (TearDown).
  std::atomic<int> opened{0}, closed{0};
  std::mutex mu;
  std::map<uint16_t, absl::Status> reasons;  // by client port
};

TEST_F(StormTest, ConnectCloseStormLeavesNothingBehind) {
  ServerOptions options;
  options.loops = 2;
  StartServer(options, [&](TcpServer& s) {
    ASSERT_TRUE(s.OnOpen([&](Connection&) { ++opened; }).ok());
    ASSERT_TRUE(s.OnClose([&](Connection&, const absl::Status&) { ++closed; }).ok());
  });
  auto canary = Canary::Start(port());
  ASSERT_TRUE(canary.ok()) << canary.status();
  const int descriptors_before = OpenDescriptors();

  constexpr int kThreads = 4;
  constexpr int kPerThread = 600;
  const std::string request = Frame(0, std::string(3000, 's'));
  std::atomic<int> connected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto fd = ConnectTo(port());
        if (!fd.ok()) {
          ADD_FAILURE() << "connect " << t << "/" << i << ": " << fd.status();
          return;
        }
        ++connected;
        switch ((i + t) % 4) {
          case 0:  // close at once
            break;
          case 1:  // close mid-message
            (void)WriteAll(fd->get(), std::string_view(request).substr(0, 100 + i));
            break;
          case 2:  // a whole request, reply never read
            (void)WriteAll(fd->get(), request);
            break;
          case 3:  // mid-message, then reset
            (void)WriteAll(fd->get(), std::string_view(request).substr(0, 9));
            SetLingerZero(fd->get());
            break;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(connected.load(), kThreads * kPerThread);

  // Every storm connection was accepted, opened and closed again.
  EXPECT_TRUE(WaitUntil([&] { return opened.load() == kThreads * kPerThread + 1; },
                        absl::Seconds(30)))
      << opened.load() << " opened";
  EXPECT_TRUE(WaitForConnectionCount(1, absl::Seconds(30)))
      << server_->connections().Count() << " still open";
  EXPECT_EQ(closed.load(), kThreads * kPerThread);  // and the canary's is open
  EXPECT_EQ(TotalBufferCapacity(), 0u);
  EXPECT_TRUE(WaitUntil([&] { return OpenDescriptors() <= descriptors_before; },
                        absl::Seconds(10)))
      << OpenDescriptors() << " descriptors open, " << descriptors_before << " before";
  EXPECT_TRUE((*canary)->ServesMore(20));
  EXPECT_TRUE(CanaryWasServed((*canary)->Stop(), 20, Relaxed(absl::Milliseconds(500))));
}

// What the server must do with `bytes` followed by EOF (id 0 echoes, other
// ids are dropped): the replies, and whether it closes with
// ResourceExhausted (a frame above `max_body`) or orderly.
struct Expected {
  std::string replies;
  bool oversize = false;
};
Expected Model(std::string_view bytes, uint64_t max_body) {
  DefaultPacker packer;
  Expected e;
  while (true) {
    auto r = DecodeOne(packer, bytes);
    if (!r->complete) {
      e.oversize = r->declared_body_length.value_or(0) > max_body;
      return e;
    }
    if (r->message.body.size() > max_body) {
      e.oversize = true;
      return e;
    }
    if (r->message.id == 0) e.replies += Frame(0, r->message.body);
    bytes.remove_prefix(r->consumed);
  }
}

TEST_F(StormTest, GarbageIsClosedWithALoggedReasonAndNeverCrashes) {
  constexpr uint64_t kMaxBody = 4096;
  ServerOptions options;
  options.max_body = kMaxBody;
  StartServer(options, [&](TcpServer& s) {
    ASSERT_TRUE(s.OnClose([&](Connection& c, const absl::Status& reason) {
      std::lock_guard<std::mutex> lock(mu);
      reasons[c.peer_address().port()] = reason;
    }).ok());
  });
  auto canary = Canary::Start(port());
  ASSERT_TRUE(canary.ok()) << canary.status();

  std::vector<std::pair<std::string, std::string>> inputs = {
      {"HTTP request", "GET / HTTP/1.1\r\nHost: netman\r\n\r\n"},
      {"TLS ClientHello", std::string("\x16\x03\x01\x00\xc4\x01\x00\x00\xc0\x03\x03", 11) +
                              std::string(200, '\x5a')},
      {"SSH banner", "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"},
      {"all 0xff", std::string(4096, '\xff')},
      {"all zeros (512 empty echoes)", std::string(4096, '\0')},
      {"valid frames then garbage", Frame(0, "ok1") + Frame(7, "dropped") + Frame(0, "ok2") +
                                        std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8)},
  };
  std::mt19937 rng(20261125);
  for (int i = 0; i < 300; ++i) {
    std::string bytes(1 + rng() % 8192, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    if (i % 3 == 0) {  // a plausible start: small frames, then noise
      std::string prefix;
      for (int k = 0; k < 1 + i % 5; ++k) prefix += Frame(rng() % 3, std::string(rng() % 64, 'p'));
      bytes = prefix + bytes;
    }
    inputs.emplace_back(absl::StrCat("random #", i), std::move(bytes));
  }

  int closed_with_reason = 0;
  for (const auto& [name, bytes] : inputs) {
    auto fd = ConnectTo(port());
    ASSERT_TRUE(fd.ok()) << fd.status();
    const uint16_t client_port = LocalPort(fd->get());
    (void)WriteAll(fd->get(), bytes);  // the server may close before taking it all
    ::shutdown(fd->get(), SHUT_WR);
    bool peer_closed = false;
    const std::string got = ReadUntilClosed(fd->get(), absl::Seconds(20), &peer_closed);
    ASSERT_TRUE(peer_closed) << name << ": the server did not close";

    absl::Status reason;
    ASSERT_TRUE(WaitUntil(
        [&] {
          std::lock_guard<std::mutex> lock(mu);
          auto it = reasons.find(client_port);
          if (it == reasons.end()) return false;
          reason = it->second;
          return true;
        },
        absl::Seconds(20)))
        << name << ": OnClose never ran";
    const Expected want = Model(bytes, kMaxBody);
    if (want.oversize) {
      ++closed_with_reason;
      EXPECT_EQ(reason.code(), absl::StatusCode::kResourceExhausted) << name << ": " << reason;
      EXPECT_TRUE(sink_->WaitFor(absl::StrCat("(127.0.0.1:", client_port,
                                              ") closed: RESOURCE_EXHAUSTED: message body of"),
                                 absl::Seconds(20)))
          << name << ": no log line gives the reason";
    } else {
      EXPECT_TRUE(reason.ok()) << name << ": " << reason;
    }
    // Replies to the valid frames before the garbage are delivered first.
    EXPECT_TRUE(got == want.replies) << name << ": " << got.size() << " bytes of replies, "
                                     << want.replies.size() << " expected";
  }
  EXPECT_GT(closed_with_reason, 250);  // most garbage declares a huge body
  EXPECT_TRUE(WaitForConnectionCount(1));
  EXPECT_TRUE((*canary)->ServesMore(20));
  EXPECT_TRUE(CanaryWasServed((*canary)->Stop(), 20, Relaxed(absl::Milliseconds(500))));
}

}  // namespace
}  // namespace netman::robustness
