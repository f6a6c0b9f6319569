// Copyright netman authors.
//
// The server core's seams over real sockets on 127.0.0.1, proven with toy
// layers (netman/server/testing/toy_seams.h) before the real WebSocket and
// TLS ones exist: a second protocol, an upgrade that switches protocol with
// bytes in the same read, per-connection protocol state with a stateful
// encoder and cross-thread sends, the input cap, in-place input transforms,
// an XOR transport with a handshake (OnOpen after it, failures and timeouts
// counted without hooks), zero-copy SendWith, configuration frozen at
// start, and broadcast encoding once per loop.
#include "netman/testing/frames.h"
#include "netman/server/server_core.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "netman/base/sync.h"
#include "netman/base/testing/capturing_log_sink.h"
#include "netman/base/testing/fake_clock.h"
#include "netman/base/unique_fd.h"
#include "netman/codec/default_packer.h"
#include "netman/server/tcp_server.h"
#include "netman/server/testing/toy_seams.h"

namespace netman {
namespace {

using testing::LineProtocol;
using testing::SequencedProtocol;
using testing::UpgradeProtocol;
using testing::XorTransport;

constexpr absl::Duration kTimeout = absl::Seconds(20);

using testing::Frame;

std::string Xor(std::string bytes, uint8_t key) {
  for (char& c : bytes) c = static_cast<char>(c ^ key);
  return bytes;
}

// A blocking client socket with deadline-bounded reads.
class RawPeer {
 public:
  explicit RawPeer(uint16_t port) {
    fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    struct sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    const int one = 1;
    ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  bool connected() const { return connected_; }

  // One send(2) call for all of `bytes` (they fit in the socket buffer).
  bool Send(std::string_view bytes) {
    return ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // Reads until `n` bytes have arrived, EOF, or the deadline.
  std::string Read(size_t n) {
    std::string out;
    const absl::Time deadline = absl::Now() + kTimeout;
    while (out.size() < n && !closed_ && ReadSome(out, deadline)) {
    }
    return out;
  }
  // Reads until the server closes; false if it did not within the deadline.
  bool ReadUntilClosed(std::string* out = nullptr) {
    std::string sink;
    const absl::Time deadline = absl::Now() + kTimeout;
    while (!closed_ && ReadSome(out ? *out : sink, deadline)) {
    }
    return closed_;
  }

 private:
  // One poll + recv; false once the deadline has passed.
  bool ReadSome(std::string& out, absl::Time deadline) {
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return false;
    struct pollfd pfd = {fd_.get(), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(ms)) != 1) return true;  // re-check the deadline
    char buf[65536];
    ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), 0);
    if (n <= 0) {
      closed_ = true;  // EOF or reset
    } else {
      out.append(buf, static_cast<size_t>(n));
    }
    return true;
  }

  UniqueFd fd_;
  bool connected_ = false;
  bool closed_ = false;
};

// Hands the connection OnOpen saw to the test thread. Declare it before the
// server (the hook refers to it).
class OpenedConnection {
 public:
  ServerCore::OpenHook Hook() {
    return [this](Connection& c) {
      MutexLock lock(&mu_);
      connection_ = c.shared_from_this();
      opened_.Notify();
    };
  }
  // Hands the reference over (the caller's ConnectionPtr, declared after the
  // server, lets go of it before the server and its protocols are gone).
  ConnectionPtr Wait() {
    if (!opened_.WaitForNotificationWithTimeout(kTimeout)) return nullptr;
    MutexLock lock(&mu_);
    return std::move(connection_);
  }

 private:
  Mutex mu_;
  ConnectionPtr connection_ ABSL_GUARDED_BY(mu_);
  Notification opened_;
};

// ---------------------------------------------------------------- protocols

// A server whose connections speak LineProtocol, or start with
// UpgradeProtocol and switch to the framed protocol.
class ToyServer final : public ServerCore {
 public:
  enum class Mode { kLines, kUpgradeToFramed, kSequenced };
  ToyServer(Mode mode, ServerOptions options)
      : ServerCore(options, [this](Connection&) { return MakeProtocol(); }),
        mode_(mode),
        lines_(&router()),
        framed_(&packer_, &router(), &logger(), FramedProtocol::Options{}) {}
  ~ToyServer() override { Stop(); }

  FramedProtocol* framed() { return &framed_; }
  std::atomic<int> destroyed{0};

 private:
  ProtocolPtr MakeProtocol() {
    switch (mode_) {
      case Mode::kLines:
        return ProtocolPtr::Shared(&lines_);
      case Mode::kUpgradeToFramed:
        return ProtocolPtr::Owned(std::make_unique<UpgradeProtocol>(&framed_, &destroyed));
      case Mode::kSequenced:
        return ProtocolPtr::Owned(std::make_unique<SequencedProtocol>(&framed_, &destroyed));
    }
    return ProtocolPtr();
  }

  const Mode mode_;
  DefaultPacker packer_;
  LineProtocol lines_;
  FramedProtocol framed_;
};

class ServerCoreTest : public ::testing::Test {
 protected:
  ServerOptions Options(int loops = 1) {
    ServerOptions options;
    options.loops = loops;
    options.logger = Logger(sink_, LogLevel::kDebug);
    return options;
  }
  std::shared_ptr<CapturingLogSink> sink_ = std::make_shared<CapturingLogSink>();
};

TEST_F(ServerCoreTest, ASecondProtocolUsesTheSameRouterMiddlewareAndHooks) {
  ToyServer server(ToyServer::Mode::kLines, Options());
  std::atomic<int> opened{0}, closed{0};
  ASSERT_TRUE(server.Use([](Request& r, const Next& next) {
    if (r.body() == "secret") {
      (void)r.connection().Send(0, "denied");
      return;
    }
    next();
  }).ok());
  ASSERT_TRUE(server.AddRouter(0, [](Request& r) {
    (void)r.connection().Send(0, "echo " + std::string(r.body()));
  }).ok());
  Notification closed_once;
  ASSERT_TRUE(server.OnOpen([&](Connection&) { ++opened; }).ok());
  ASSERT_TRUE(server.OnClose([&](Connection&, const absl::Status&) {
    ++closed;
    closed_once.Notify();
  }).ok());
  ASSERT_TRUE(server.StartInBackground("127.0.0.1:0").ok());

  RawPeer peer(server.port());
  ASSERT_TRUE(peer.connected());
  ASSERT_TRUE(peer.Send("one\nsecret\ntw"));
  ASSERT_TRUE(peer.Send("o\n"));
  // Send() through the connection's protocol: lines, not 8-byte headers.
  const std::string expected = "echo one\ndenied\necho two\n";
  EXPECT_EQ(peer.Read(expected.size()), expected);
  EXPECT_EQ(opened.load(), 1);
  server.Stop();
  EXPECT_TRUE(closed_once.WaitForNotificationWithTimeout(kTimeout));
  EXPECT_EQ(closed.load(), 1);
  EXPECT_EQ(server.stats().messages_in, 0u);  // counted by framed protocols only
}

TEST_F(ServerCoreTest, UpgradeHandsTheRestOfTheSameReadToTheNewProtocolAtOnce) {
  ToyServer server(ToyServer::Mode::kUpgradeToFramed, Options());
  std::atomic<Protocol*> protocol_at_open{nullptr};
  ASSERT_TRUE(server.OnOpen([&](Connection& c) { protocol_at_open = c.protocol(); }).ok());
  ASSERT_TRUE(server.AddRouter(0, [](Request& r) { (void)r.connection().Send(0, r.body()); }).ok());
  ASSERT_TRUE(server.StartInBackground("127.0.0.1:0").ok());

  RawPeer peer(server.port());
  // The upgrade request and two framed messages in one write: the frames
  // must not wait for more bytes.
  ASSERT_TRUE(peer.Send("UPGRADE\n" + Frame(0, "first") + Frame(0, "second")));
  const std::string expected = "OK\n" + Frame(0, "first") + Frame(0, "second");
  EXPECT_EQ(peer.Read(expected.size()), expected);
  // OnOpen fired once the connection could carry messages: framed by then.
  EXPECT_EQ(protocol_at_open.load(), server.framed());
  // The per-connection handshake protocol is gone.
  server.Stop();
  EXPECT_EQ(server.destroyed.load(), 1);
  EXPECT_EQ(server.stats().connections_opened, 1u);
  EXPECT_EQ(server.stats().handshake_failures, 0u);
}

TEST_F(ServerCoreTest, AFailedProtocolHandshakeGetsNoHooksAndIsCounted) {
  ToyServer server(ToyServer::Mode::kUpgradeToFramed, Options());
  std::atomic<int> hooks{0};
  ASSERT_TRUE(server.OnOpen([&](Connection&) { ++hooks; }).ok());
  ASSERT_TRUE(server.OnClose([&](Connection&, const absl::Status&) { ++hooks; }).ok());
  ASSERT_TRUE(server.StartInBackground("127.0.0.1:0").ok());
  RawPeer peer(server.port());
  ASSERT_TRUE(peer.Send("HELLO\n"));
  std::string got;
  EXPECT_TRUE(peer.ReadUntilClosed(&got));
  EXPECT_EQ(got, "NO\n");  // the refusal is flushed before the close
  EXPECT_TRUE(sink_->WaitFor("closed during its handshake", kTimeout));
  server.Stop();
  EXPECT_EQ(hooks.load(), 0);
  const ServerStats stats = server.stats();
  EXPECT_EQ(stats.handshake_failures, 1u);
  EXPECT_EQ(stats.connections_opened, 0u);
  EXPECT_EQ(stats.closed_by_reason.at("INVALID_ARGUMENT"), 1u);
  EXPECT_EQ(server.destroyed.load(), 1);
}

TEST_F(ServerCoreTest, PerConnectionStateLivesAndDiesWithItsConnection) {
  ToyServer server(ToyServer::Mode::kSequenced, Options(2));
  ASSERT_TRUE(server.AddRouter(0, [](Request& r) { (void)r.connection().Send(0, r.body()); }).ok());
  ASSERT_TRUE(server.StartInBackground("127.0.0.1:0").ok());
  {
    std::vector<std::unique_ptr<RawPeer>> peers;
    for (int i = 0; i < 3; ++i) peers.push_back(std::make_unique<RawPeer>(server.port()));
    for (auto& p : peers) ASSERT_TRUE(p->Send(Frame(0, "a") + Frame(0, "b")));
    for (auto& p : peers) {
      // Each connection counts from 0: its own encoder state.
      const std::string expected = Frame(0, "0:a") + Frame(0, "1:b");
      EXPECT_EQ(p->Read(expected.size()), expected);
    }
  }  // the peers close
  server.Shutdown(kTimeout);
  EXPECT_EQ(server.destroyed.load(), 3);
}

TEST_F(ServerCoreTest, CrossThreadSendsKeepMessagesWholeAndInOrderWithAStatefulEncoder) {
  OpenedConnection opened;
  ToyServer server(ToyServer::Mode::kSequenced, Options());
  ASSERT_TRUE(server.OnOpen(opened.Hook()).ok());
  ASSERT_TRUE(server.StartInBackground("127.0.0.1:0").ok());
  RawPeer peer(server.port());
  ConnectionPtr c = opened.Wait();
  ASSERT_NE(c, nullptr);
  constexpr int kPerThread = 500;
  auto sender = [&](uint32_t id) {
    for (int i = 0; i < kPerThread; ++i) {
      ASSERT_TRUE(c->Send(id, absl::StrCat(id, "-", i)).ok());
    }
  };
  std::thread t1(sender, 1), t2(sender, 2);
  t1.join();
  t2.join();
  // Decode everything: sequence numbers 0..999 in order, each thread's
  // messages in its own order.
  std::vector<std::string> bodies;
  std::string stream;
  DefaultPacker packer;
  while (bodies.size() < 2 * kPerThread) {
    std::string more = peer.Read(1);
    if (more.empty()) break;
    stream += more;
    DecodeResult r;
    while (packer.Decode(stream, &r).ok() && r.complete) {
      bodies.emplace_back(r.message.body);
      stream.erase(0, r.consumed);
    }
  }
  ASSERT_EQ(bodies.size(), 2u * kPerThread);
  int next[3] = {0, 0, 0};
  for (size_t seq = 0; seq < bodies.size(); ++seq) {
    const std::string& b = bodies[seq];
    const std::string prefix = absl::StrCat(seq, ":");
    ASSERT_EQ(b.substr(0, prefix.size()), prefix) << b;
    const int id = b[prefix.size()] - '0';
    ASSERT_TRUE(id == 1 || id == 2) << b;
    EXPECT_EQ(b.substr(prefix.size()), absl::StrCat(id, "-", next[id]++));
  }
}

TEST_F(ServerCoreTest, InputCapClosesAConnectionWhoseProtocolNeverConsumes) {
  ServerOptions options = Options();
  options.max_input_bytes = 4096;
  ToyServer server(ToyServer::Mode::kLines, options);
  ASSERT_TRUE(server.AddRouter(0, [](Request& r) { (void)r.connection().Send(0, r.body()); }).ok());
  ASSERT_TRUE(server.StartInBackground("127.0.0.1:0").ok());
  RawPeer hog(server.port());
  RawPeer fine(server.port());
  // Exactly the cap is kept; one more byte without a newline is not.
  ASSERT_TRUE(hog.Send(std::string(4096, 'x')));
  ASSERT_TRUE(fine.Send("ping\n"));
  EXPECT_EQ(fine.Read(5), "ping\n");  // one loop: the hog's bytes were read
  ASSERT_TRUE(hog.Send("y"));
  EXPECT_TRUE(hog.ReadUntilClosed());
  EXPECT_TRUE(sink_->WaitFor("over the input cap of 4096 (max_input_bytes)", kTimeout));
  ASSERT_TRUE(fine.Send("still\n"));
  EXPECT_EQ(fine.Read(6), "still\n");
  EXPECT_EQ(server.stats().input_cap_closes, 1u);
}

TEST_F(ServerCoreTest, TheDefaultInputCapFollowsMaxBody) {
  ServerOptions options = Options();
  options.max_body = 1000;  // cap: 1000 + kInputCapHeadroom
  ToyServer server(ToyServer::Mode::kLines, options);
  ASSERT_TRUE(server.StartInBackground("127.0.0.1:0").ok());
  RawPeer hog(server.port());
  ASSERT_TRUE(hog.Send(std::string(1000 + kInputCapHeadroom + 1, 'x')));
  EXPECT_TRUE(hog.ReadUntilClosed());
  EXPECT_TRUE(sink_->WaitFor(absl::StrCat("over the input cap of ", 1000 + kInputCapHeadroom),
                             kTimeout));
}

// Uppercases the unconsumed bytes in place; checks that bytes it already
// transformed come back transformed (the same buffer, no copy in between).
class InPlaceProtocol final : public Protocol {
 public:
  explicit InPlaceProtocol(const Router* router) : router_(router) {}
  absl::StatusOr<size_t> OnData(Connection& c, std::span<char> input) override {
    for (size_t i = 0; i < std::min(transformed_, input.size()); ++i) {  // kept bytes
      if (input[i] >= 'a' && input[i] <= 'z') lost_transform = true;
    }
    for (char& ch : input) {
      if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
    }
    const std::string_view bytes(input.data(), input.size());
    size_t used = 0;
    for (size_t nl; (nl = bytes.find('\n', used)) != bytes.npos; used = nl + 1) {
      testing::DispatchLine(*router_, c, bytes.substr(used, nl - used));
    }
    transformed_ = input.size() - used;  // kept, transformed, for next time
    return used;
  }
  absl::Status Encode(uint32_t, std::string_view body, Buffer& out) override {
    out.Append(body);
    out.Append("\n");
    return absl::OkStatus();
  }
  std::atomic<bool> lost_transform{false};

 private:
  const Router* const router_;
  size_t transformed_ = 0;  // one connection in this test
};

TEST_F(ServerCoreTest, AProtocolCanTransformItsInputInPlace) {
  InPlaceProtocol* in_place = nullptr;
  class Server final : public ServerCore {
   public:
    explicit Server(ServerOptions o)
        : ServerCore(o, [this](Connection&) { return ProtocolPtr::Shared(&protocol); }),
          protocol(&router()) {}
    ~Server() override { Stop(); }
    InPlaceProtocol protocol;
  } server(Options());
  in_place = &server.protocol;
  ASSERT_TRUE(server.AddRouter(0, [](Request& r) { (void)r.connection().Send(0, r.body()); }).ok());
  ASSERT_TRUE(server.StartInBackground("127.0.0.1:0").ok());
  RawPeer peer(server.port());
  ASSERT_TRUE(peer.Send("abc"));
  ASSERT_TRUE(peer.Send("def"));
  ASSERT_TRUE(peer.Send("gh\nij\n"));
  EXPECT_EQ(peer.Read(12), "ABCDEFGH\nIJ\n");
  EXPECT_FALSE(in_place->lost_transform.load());
}

// ---------------------------------------------------------------- transport

class XorServerTest : public ServerCoreTest {
 protected:
  void Start(ServerOptions options, const std::function<void(TcpServer&)>& configure = {}) {
    options.transport_factory = [this]() -> absl::StatusOr<std::unique_ptr<Transport>> {
      return std::make_unique<XorTransport>(&sealed_batches_);
    };
    server_ = std::make_unique<TcpServer>(options);
    ASSERT_TRUE(server_->AddRouter(0, [](Request& r) {
      (void)r.connection().Send(0, r.body());
    }).ok());
    if (configure) configure(*server_);
    ASSERT_TRUE(server_->StartInBackground("127.0.0.1:0").ok());
  }
  std::atomic<int> sealed_batches_{0};
  FakeClock clock_;  // outlives server_ (declared before it)
  std::unique_ptr<TcpServer> server_;
};

TEST_F(XorServerTest, OnOpenFiresAfterTheHandshakeAndMessagesFlowThroughTheTransport) {
  Start(Options(), [](TcpServer& s) {
    // A greeting from OnOpen travels through the ready transport.
    ASSERT_TRUE(s.OnOpen([](Connection& c) { (void)c.Send(7, "hello"); }).ok());
  });
  constexpr uint8_t kKey = 0x5a;
  RawPeer peer(server_->port());
  ASSERT_TRUE(peer.Send(std::string(1, static_cast<char>(kKey)) + Xor(Frame(0, "hi"), kKey)));
  const std::string expected = std::string(1, static_cast<char>(kKey ^ 0xff)) +
                               Xor(Frame(7, "hello") + Frame(0, "hi"), kKey);
  EXPECT_EQ(peer.Read(expected.size()), expected);
  const ServerStats stats = server_->stats();
  EXPECT_EQ(stats.connections_opened, 1u);
  EXPECT_EQ(stats.messages_in, 1u);
}

TEST_F(XorServerTest, RepliesToOneReadAreSealedAsOneBatch) {
  Start(Options());
  constexpr uint8_t kKey = 0x33;
  RawPeer peer(server_->port());
  ASSERT_TRUE(peer.Send(std::string(1, static_cast<char>(kKey))));
  EXPECT_EQ(peer.Read(1), std::string(1, static_cast<char>(kKey ^ 0xff)));
  const int before = sealed_batches_.load();
  std::string wire;
  for (int i = 0; i < 16; ++i) wire += Frame(0, absl::StrCat("m", i));
  ASSERT_TRUE(peer.Send(Xor(wire, kKey)));
  EXPECT_EQ(Xor(peer.Read(wire.size()), kKey), wire);
  // If the 16 frames arrived in one read (nearly always), one Write() took
  // all 16 replies; never one per message.
  EXPECT_LE(sealed_batches_.load() - before, 2);
}

TEST_F(XorServerTest, GarbageInsteadOfAHandshakeClosesOnlyThatConnection) {
  std::atomic<int> hooks{0};
  Start(Options(), [&](TcpServer& s) {
    ASSERT_TRUE(s.OnOpen([&](Connection&) { ++hooks; }).ok());
    ASSERT_TRUE(s.OnClose([&](Connection&, const absl::Status&) { ++hooks; }).ok());
  });
  RawPeer bad(server_->port());
  ASSERT_TRUE(bad.Send(std::string("\0garbage", 8)));
  EXPECT_TRUE(bad.ReadUntilClosed());
  EXPECT_TRUE(sink_->WaitFor("closed during its handshake: INVALID_ARGUMENT: bad XOR hello",
                             kTimeout));
  RawPeer good(server_->port());
  ASSERT_TRUE(good.Send(std::string(1, '\x01') + Xor(Frame(0, "ok"), 1)));
  EXPECT_EQ(good.Read(1 + 10), "\xfe" + Xor(Frame(0, "ok"), 1));
  EXPECT_EQ(server_->stats().handshake_failures, 1u);
  EXPECT_EQ(hooks.load(), 1);  // good's OnOpen; bad had none
}

TEST_F(XorServerTest, AStalledHandshakeTimesOutWithoutDelayingOthers) {
  ServerOptions options = Options();  // one loop: stalled and good share it
  options.clock = &clock_;
  options.handshake_timeout = absl::Seconds(10);
  Start(options);
  RawPeer stalled(server_->port());
  RawPeer good(server_->port());
  ASSERT_TRUE(good.Send(std::string(1, '\x07') + Xor(Frame(0, "a"), 7)));
  EXPECT_EQ(Xor(good.Read(1 + 9).substr(1), 7), Frame(0, "a"));
  clock_.Advance(absl::Seconds(11));
  // The next event on the loop runs its due timers.
  ASSERT_TRUE(good.Send(Xor(Frame(0, "b"), 7)));
  EXPECT_EQ(Xor(good.Read(9), 7), Frame(0, "b"));
  EXPECT_TRUE(stalled.ReadUntilClosed());
  EXPECT_TRUE(sink_->WaitFor("handshake not finished within 10s", kTimeout));
  const ServerStats stats = server_->stats();
  EXPECT_EQ(stats.handshake_timeouts, 1u);
  EXPECT_EQ(stats.handshake_failures, 1u);
}

// The handshake sweep stops while no handshake is pending; a connection
// arriving after such a lull still gets the whole timeout (it used to land
// in a bucket the stale wheel reached at its next sweep, ~1/8 of it later).
TEST_F(XorServerTest, AHandshakeAfterALullGetsItsWholeTimeout) {
  ServerOptions options = Options();
  options.clock = &clock_;
  options.handshake_timeout = absl::Seconds(10);
  Start(options);
  RawPeer good(server_->port());
  ASSERT_TRUE(good.Send(std::string(1, '\x07') + Xor(Frame(0, "a"), 7)));
  EXPECT_EQ(Xor(good.Read(1 + 9).substr(1), 7), Frame(0, "a"));
  // Two round trips: the first wakes the loop past the sweep's due time,
  // the second starts after that iteration ran its timers.
  auto round_trips = [&] {
    for (const char* body : {"b", "c"}) {
      ASSERT_TRUE(good.Send(Xor(Frame(0, body), 7)));
      EXPECT_EQ(Xor(good.Read(9), 7), Frame(0, body));
    }
  };
  clock_.Advance(absl::Seconds(2));
  round_trips();  // the sweep finds no handshake and stops
  clock_.Advance(absl::Seconds(5));
  RawPeer stalled(server_->port());
  // Until the loop has taken the stalled connection (tracked at 7 s).
  for (int i = 0; i < 1000 && server_->stats().connections_accepted < 2; ++i) round_trips();
  ASSERT_EQ(server_->stats().connections_accepted, 2u);
  clock_.Advance(absl::Seconds(2));
  round_trips();  // a sweep runs: 2 s of 10 have passed
  EXPECT_EQ(server_->stats().handshake_timeouts, 0u);
  clock_.Advance(absl::Seconds(9));
  round_trips();
  EXPECT_TRUE(stalled.ReadUntilClosed());
  EXPECT_EQ(server_->stats().handshake_timeouts, 1u);
}

// ---------------------------------------------------------------- core API

TEST_F(ServerCoreTest, SendWithWritesTheBodyInPlaceFromAnyThread) {
  OpenedConnection opened;
  TcpServer server(Options());
  ASSERT_TRUE(server.OnOpen(opened.Hook()).ok());
  ASSERT_TRUE(server.AddRouter(0, [](Request& r) {
    const std::string_view body = r.body();
    (void)r.connection().SendWith(0, body.size() * 2, [&](char* dst) {
      std::memcpy(dst, body.data(), body.size());
      std::memcpy(dst + body.size(), body.data(), body.size());
    });
  }).ok());
  ASSERT_TRUE(server.StartInBackground("127.0.0.1:0").ok());
  RawPeer peer(server.port());
  ConnectionPtr c = opened.Wait();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(peer.Send(Frame(0, "ab")));
  EXPECT_EQ(peer.Read(12), Frame(0, "abab"));
  ASSERT_TRUE(c->SendWith(3, 3, [](char* dst) { std::memcpy(dst, "xyz", 3); }).ok());
  EXPECT_EQ(peer.Read(11), Frame(3, "xyz"));
}

TEST_F(ServerCoreTest, ConfigurationIsFrozenOnceStarted) {
  TcpServer server(Options());
  RouteGroup& early = server.Group();
  ASSERT_TRUE(server.StartInBackground("127.0.0.1:0").ok());
  constexpr absl::StatusCode kFrozen = absl::StatusCode::kFailedPrecondition;
  EXPECT_EQ(server.AddRouter(1, [](Request&) {}).code(), kFrozen);
  EXPECT_EQ(server.Use([](Request&, const Next& next) { next(); }).code(), kFrozen);
  EXPECT_EQ(server.Group().AddRouter(2, [](Request&) {}).code(), kFrozen);
  EXPECT_EQ(early.AddRouter(3, [](Request&) {}).code(), kFrozen);
  EXPECT_EQ(early.Use([](Request&, const Next& next) { next(); }).code(), kFrozen);
  EXPECT_EQ(server.SetNotFoundHandler([](Request&) {}).code(), kFrozen);
  EXPECT_EQ(server.OnOpen([](Connection&) {}).code(), kFrozen);
  EXPECT_EQ(server.OnClose([](Connection&, const absl::Status&) {}).code(), kFrozen);
  EXPECT_EQ(server.OnHighWaterMark([](Connection&, size_t) {}).code(), kFrozen);
  EXPECT_EQ(server.OnWriteComplete([](Connection&) {}).code(), kFrozen);
  EXPECT_EQ(server.router().size(), 0u);
}

TEST_F(ServerCoreTest, NegativeLoopCountIsAConfigurationError) {
  ServerOptions options = Options();
  options.loops = -3;
  TcpServer server(options);
  absl::Status s = server.StartInBackground("127.0.0.1:0");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
}

TEST_F(ServerCoreTest, CheckIntervalLongerThanIdleTimeIsAConfigurationError) {
  ServerOptions options = Options();
  options.heartbeat_idle_time = absl::Seconds(1);
  options.heartbeat_check_interval = absl::Seconds(5);
  TcpServer server(options);
  absl::Status s = server.StartInBackground("127.0.0.1:0");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
}

// Counts Encode() calls (broadcast must encode once per loop, not per peer).
class CountingPacker final : public Packer {
 public:
  absl::Status Decode(std::string_view in, DecodeResult* r) const override {
    return packer_.Decode(in, r);
  }
  void Encode(uint32_t id, std::string_view body, Buffer& out) const override {
    encodes.fetch_add(1);
    packer_.Encode(id, body, out);
  }
  mutable std::atomic<int> encodes{0};

 private:
  DefaultPacker packer_;
};

TEST_F(ServerCoreTest, BroadcastEncodesOncePerLoopAndReachesEveryOpenConnection) {
  auto packer = std::make_shared<CountingPacker>();
  ServerOptions options = Options(2);
  options.packer = packer;
  TcpServer server(options);
  std::atomic<int> opened{0};
  ASSERT_TRUE(server.OnOpen([&](Connection&) { ++opened; }).ok());
  ASSERT_TRUE(server.AddRouter(0, [](Request& r) { (void)r.connection().Send(0, r.body()); }).ok());
  ASSERT_TRUE(server.StartInBackground("127.0.0.1:0").ok());
  constexpr int kPeers = 20;
  std::vector<std::unique_ptr<RawPeer>> peers;
  for (int i = 0; i < kPeers; ++i) {
    peers.push_back(std::make_unique<RawPeer>(server.port()));
    // A round trip: the connection is open on the server.
    ASSERT_TRUE(peers.back()->Send(Frame(0, "x")));
    ASSERT_EQ(peers.back()->Read(9), Frame(0, "x"));
  }
  const int before = packer->encodes.load();
  EXPECT_EQ(server.connections().Broadcast(9, "news"), static_cast<size_t>(kPeers));
  for (auto& p : peers) EXPECT_EQ(p->Read(12), Frame(9, "news"));
  EXPECT_EQ(packer->encodes.load() - before, server.loop_count());
}

TEST_F(ServerCoreTest, BroadcastFromAHandlerKeepsOrderWithItsOwnSends) {
  TcpServer server(Options(2));
  ASSERT_TRUE(server.AddRouter(1, [&server](Request& r) {
    (void)r.connection().Send(1, "a");
    server.connections().Broadcast(2, "b");
    (void)r.connection().Send(3, "c");
  }).ok());
  ASSERT_TRUE(server.StartInBackground("127.0.0.1:0").ok());
  RawPeer peer(server.port());
  ASSERT_TRUE(peer.Send(Frame(1, "")));
  const std::string expected = Frame(1, "a") + Frame(2, "b") + Frame(3, "c");
  EXPECT_EQ(peer.Read(expected.size()), expected);
}

}  // namespace
}  // namespace netman
