// Copyright netman authors.
//
// UdpServer over real UDP sockets on 127.0.0.1: round trips, several
// messages per datagram, bad datagrams dropped and counted, 1,000 peers,
// sessions (hooks exactly once, Close(), user data, expiry with a fake
// clock, eviction at the cap), middleware and groups, reply size limits.
//
// Ordering: a peer's datagrams reach the same loop socket in order, so a
// reply to a later datagram means the earlier ones were handled.
#include "netman/udp/udp_server.h"

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "netman/base/sync.h"
#include "netman/base/testing/capturing_log_sink.h"
#include "netman/base/testing/fake_clock.h"
#include "netman/client/udp_client.h"
#include "netman/testing/event_log.h"
#include "netman/testing/frames.h"

namespace netman {
namespace {

using ::netman::testing::Frame;

constexpr absl::Duration kTimeout = absl::Seconds(20);

// Message ids of the test server.
constexpr uint32_t kEcho = 0;
constexpr uint32_t kWhoAmI = 1;     // replies "session_id:peer_port"
constexpr uint32_t kCount = 2;      // replies with a per-session counter (user_data)
constexpr uint32_t kClose = 3;      // replies "bye", then Close()
constexpr uint32_t kBig = 4;        // tries a reply of the body's decimal size
constexpr uint32_t kThreeLarge = 5; // three 30,000-byte replies
constexpr uint32_t kAdmin = 100;    // in a group whose middleware needs "admin" first

using ::netman::testing::EventLog;

class UdpServerTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options = {}, UdpOptions udp = {}) {
    sink_ = std::make_shared<CapturingLogSink>();
    options.logger = Logger(sink_, LogLevel::kDebug);
    if (options.loops == 0) options.loops = 2;
    server_ = std::make_unique<UdpServer>(std::move(options), udp);
    UdpServer& s = *server_;
    ASSERT_TRUE(s.OnOpen([this](Connection& c) { log_.Add(c.id(), "open"); }).ok());
    ASSERT_TRUE(s.OnClose([this](Connection& c, const absl::Status& reason) {
                   log_.Add(c.id(), absl::StrCat("close:", absl::StatusCodeToString(reason.code())));
                 }).ok());
    ASSERT_TRUE(s.Use([](Request& r, const Next& next) {
                   r.Set<std::string>("via", "global");
                   next();
                 }).ok());
    ASSERT_TRUE(s.AddRouter(kEcho, [](Request& r) {
                   (void)r.connection().Send(kEcho, r.body());
                 }).ok());
    ASSERT_TRUE(s.AddRouter(kWhoAmI, [](Request& r) {
                   (void)r.connection().Send(
                       kWhoAmI, absl::StrCat(r.connection().id(), ":",
                                             r.connection().peer_address().port()));
                 }).ok());
    ASSERT_TRUE(s.AddRouter(kCount, [](Request& r) {
                   std::any& slot = r.connection().user_data();
                   if (!slot.has_value()) slot = 0;
                   int& n = std::any_cast<int&>(slot);
                   ++n;
                   (void)r.connection().Send(kCount, absl::StrCat(n));
                 }).ok());
    ASSERT_TRUE(s.AddRouter(kClose, [](Request& r) {
                   (void)r.connection().Send(kClose, "bye");
                   r.connection().Close();
                 }).ok());
    ASSERT_TRUE(s.AddRouter(kBig, [](Request& r) {
                   size_t size = 0;
                   (void)absl::SimpleAtoi(absl::string_view(r.body().data(), r.body().size()), &size);
                   absl::Status st = r.connection().Send(kBig, std::string(size, 'b'));
                   (void)r.connection().Send(kBig, absl::StatusCodeToString(st.code()));
                 }).ok());
    ASSERT_TRUE(s.AddRouter(kThreeLarge, [](Request& r) {
                   for (char c : {'x', 'y', 'z'}) {
                     (void)r.connection().Send(kThreeLarge, std::string(30000, c));
                   }
                 }).ok());
    RouteGroup& admin = s.Group({[](Request& r, const Next& next) {
      // Group middleware runs after the global one.
      const std::string* via = r.Get<std::string>("via");
      if (r.body() != "admin" || via == nullptr) {
        (void)r.connection().Send(kAdmin, "denied");
        return;
      }
      next();
    }});
    ASSERT_TRUE(admin.AddRouter(kAdmin, [](Request& r) {
                       (void)r.connection().Send(kAdmin, "granted");
                     }).ok());
    ASSERT_TRUE(s.StartInBackground("127.0.0.1:0").ok());
  }

  std::unique_ptr<UdpClient> Client() {
    auto c = UdpClient::Connect("127.0.0.1", server_->port());
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // Sends (id, body) and returns the reply's body ("" and a failure if none).
  std::string Call(UdpClient& c, uint32_t id, std::string_view body) {
    EXPECT_TRUE(c.Send(id, body).ok());
    absl::StatusOr<ReceivedMessage> m = c.Receive(kTimeout);
    EXPECT_TRUE(m.ok()) << m.status();
    if (!m.ok()) return "";
    EXPECT_EQ(m->id, id);
    return m->body;
  }

  uint64_t SessionIdOf(UdpClient& c) {
    const std::string who = Call(c, kWhoAmI, "");
    uint64_t id = 0;
    EXPECT_TRUE(absl::SimpleAtoi(who.substr(0, who.find(':')), &id)) << who;
    return id;
  }

  // Declared before server_: the loops read it until the server is gone.
  FakeClock clock_;
  EventLog log_;
  std::shared_ptr<CapturingLogSink> sink_;
  std::unique_ptr<UdpServer> server_;
};

TEST_F(UdpServerTest, EchoRoundTripWithTheCppClient) {
  Start();
  auto c = Client();
  EXPECT_EQ(Call(*c, kEcho, "hello"), "hello");
  EXPECT_EQ(Call(*c, kEcho, ""), "");
  EXPECT_EQ(Call(*c, kEcho, std::string(60000, 'q')), std::string(60000, 'q'));
  EXPECT_EQ(server_->connections().Count(), 1u);
  const ServerStats stats = server_->stats();
  EXPECT_EQ(stats.messages_in, 3u);
  EXPECT_EQ(stats.messages_out, 3u);
  EXPECT_EQ(server_->udp_stats().datagrams_in, 3u);
}

TEST_F(UdpServerTest, HandlersSeeTheSessionIdPeerAddressAndUserData) {
  Start();
  auto c = Client();
  const std::string who = Call(*c, kWhoAmI, "");
  std::vector<std::string> parts = absl::StrSplit(who, ':');
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[1], absl::StrCat(c->local_port()));
  EXPECT_EQ(Call(*c, kWhoAmI, ""), who);  // same session
  EXPECT_EQ(Call(*c, kCount, ""), "1");
  EXPECT_EQ(Call(*c, kCount, ""), "2");
  auto other = Client();
  EXPECT_EQ(Call(*other, kCount, ""), "1");  // its own session, its own data
  EXPECT_NE(Call(*other, kWhoAmI, ""), who);
  EXPECT_EQ(Call(*c, kCount, ""), "3");
}

TEST_F(UdpServerTest, SeveralMessagesInOneDatagramGetTheirRepliesInOneDatagram) {
  Start();
  auto c = Client();
  ASSERT_TRUE(c->SendMessages({{kEcho, "a"}, {kEcho, "bb"}, {kCount, ""}, {kEcho, "ccc"}}).ok());
  absl::StatusOr<std::string> d = c->ReceiveDatagram(kTimeout);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, Frame(kEcho, "a") + Frame(kEcho, "bb") + Frame(kCount, "1") +
                    Frame(kEcho, "ccc"));
  EXPECT_EQ(server_->stats().messages_in, 4u);
}

TEST_F(UdpServerTest, RepliesLargerThanADatagramAreSplitAtMessageBoundaries) {
  Start();
  auto c = Client();
  ASSERT_TRUE(c->Send(kThreeLarge, "").ok());
  for (char ch : {'x', 'y', 'z'}) {
    absl::StatusOr<ReceivedMessage> m = c->Receive(kTimeout);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->body, std::string(30000, ch));
  }
  EXPECT_EQ(server_->udp_stats().unsendable_bytes, 0u);
}

TEST_F(UdpServerTest, AReplyTooLargeForADatagramIsAnErrorToTheHandler) {
  Start();
  auto c = Client();
  // 65507 - 8: the largest body that fits.
  ASSERT_TRUE(c->Send(kBig, absl::StrCat(kMaxUdpPayload - 8)).ok());
  absl::StatusOr<ReceivedMessage> fits = c->Receive(kTimeout);
  ASSERT_TRUE(fits.ok()) << fits.status();
  EXPECT_EQ(fits->body.size(), kMaxUdpPayload - 8);
  absl::StatusOr<ReceivedMessage> ok = c->Receive(kTimeout);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->body, "OK");
  EXPECT_EQ(Call(*c, kBig, absl::StrCat(kMaxUdpPayload - 7)), "INVALID_ARGUMENT");
  EXPECT_EQ(Call(*c, kBig, "100000"), "INVALID_ARGUMENT");
  EXPECT_EQ(server_->udp_stats().replies_too_large, 2u);
  EXPECT_EQ(server_->connections().Count(), 1u);  // the session lives on
}

TEST_F(UdpServerTest, BadDatagramsAreDroppedAndCountedWithoutTouchingSessions) {
  ServerOptions options;
  options.max_body = 1000;
  Start(options);
  auto bad = Client();
  auto good = Client();
  EXPECT_EQ(Call(*good, kEcho, "before"), "before");
  const std::string frame = Frame(kEcho, "hello");
  ASSERT_TRUE(bad->SendRaw("").ok());                                        // empty
  ASSERT_TRUE(bad->SendRaw(frame.substr(0, 5)).ok());                        // header cut
  ASSERT_TRUE(bad->SendRaw(frame.substr(0, frame.size() - 1)).ok());         // body cut
  ASSERT_TRUE(bad->SendRaw(frame + frame.substr(0, 9)).ok());                // whole + cut
  ASSERT_TRUE(bad->SendRaw(std::string("\xff\xff\xff\x7f garbage", 12)).ok());  // 2 GiB body
  ASSERT_TRUE(bad->SendRaw(Frame(kEcho, std::string(1001, 'o'))).ok());      // over max_body
  // The same peer's next valid datagram works, and is its first session.
  EXPECT_EQ(Call(*bad, kEcho, "after"), "after");
  EXPECT_EQ(Call(*good, kEcho, "still"), "still");
  const UdpStats udp = server_->udp_stats();
  EXPECT_EQ(udp.dropped_empty, 1u);
  EXPECT_EQ(udp.dropped_truncated, 3u);
  EXPECT_EQ(udp.dropped_oversize, 2u);
  EXPECT_EQ(udp.dropped(), 6u);
  EXPECT_EQ(server_->stats().decode_errors, 6u);
  // Nothing from the bad datagrams was dispatched (not even the whole frame
  // before the cut one): 3 echoes in all.
  EXPECT_EQ(server_->stats().messages_in, 3u);
  EXPECT_EQ(log_.Count("open"), 2u);
  EXPECT_EQ(log_.Count("close"), 0u);
  EXPECT_TRUE(sink_->WaitFor("dropped: truncated", kTimeout));
}

TEST_F(UdpServerTest, AThousandPeersAtOnce) {
  ServerOptions options;
  options.loops = 2;
  options.clock = &clock_;  // no expiry unless the test advances it
  Start(options);
  constexpr int kPeers = 1000;
  std::vector<std::unique_ptr<UdpClient>> clients;
  for (int i = 0; i < kPeers; ++i) clients.push_back(Client());
  for (int i = 0; i < kPeers; ++i) {
    ASSERT_TRUE(clients[i]->Send(kEcho, absl::StrCat("peer ", i)).ok());
  }
  // UDP may drop under a burst (the server's 4 MiB socket buffer makes it
  // rare on loopback): a peer whose reply does not come resends, as a UDP
  // client does. Echo is idempotent, and the session is the same either way.
  int answered = 0;
  int resent = 0;
  for (int i = 0; i < kPeers; ++i) {
    const std::string body = absl::StrCat("peer ", i);
    absl::StatusOr<ReceivedMessage> m = clients[i]->Receive(absl::Seconds(2));
    for (int attempt = 0; !m.ok() && attempt < 5; ++attempt) {
      ++resent;
      ASSERT_TRUE(clients[i]->Send(kEcho, body).ok());
      m = clients[i]->Receive(absl::Seconds(2));
    }
    if (m.ok() && m->body == body) ++answered;
  }
  EXPECT_EQ(answered, kPeers) << server_->udp_stats().ToJson();
  EXPECT_LT(resent, kPeers / 10) << "more than 10% lost";
  EXPECT_EQ(server_->connections().Count(), static_cast<size_t>(kPeers));
  EXPECT_EQ(log_.Count("open"), static_cast<size_t>(kPeers));
  EXPECT_GE(server_->udp_stats().datagrams_in, static_cast<uint64_t>(kPeers));
  server_->Stop();
  EXPECT_EQ(log_.Count("close:CANCELLED"), static_cast<size_t>(kPeers));
  EXPECT_EQ(log_.Count("close"), static_cast<size_t>(kPeers));
}

TEST_F(UdpServerTest, CloseEndsTheSessionOnceAndTheNextDatagramOpensANewOne) {
  Start();
  auto c = Client();
  const uint64_t first = SessionIdOf(*c);
  EXPECT_EQ(Call(*c, kCount, ""), "1");
  EXPECT_EQ(Call(*c, kClose, ""), "bye");  // the reply still goes out
  ASSERT_TRUE(log_.WaitFor(first, "close"));
  EXPECT_EQ(log_.For(first), (std::vector<std::string>{"open", "close:OK"}));
  const uint64_t second = SessionIdOf(*c);
  EXPECT_NE(second, first);
  EXPECT_EQ(Call(*c, kCount, ""), "1");  // fresh user data
  EXPECT_EQ(log_.For(second), (std::vector<std::string>{"open"}));
  server_->Stop();
  EXPECT_EQ(log_.For(first), (std::vector<std::string>{"open", "close:OK"}));
  EXPECT_EQ(log_.For(second), (std::vector<std::string>{"open", "close:CANCELLED"}));
}

TEST_F(UdpServerTest, MiddlewareAndGroupsWorkAsForTcp) {
  Start();
  auto c = Client();
  EXPECT_EQ(Call(*c, kAdmin, "guest"), "denied");
  EXPECT_EQ(Call(*c, kAdmin, "admin"), "granted");
}

TEST_F(UdpServerTest, IdleSessionsExpireOnTheHeartbeatWheelWithAFakeClock) {
  ServerOptions options;
  options.loops = 1;
  options.clock = &clock_;  // no expiry unless the test advances it
  options.heartbeat_idle_time = absl::Seconds(3);
  options.heartbeat_check_interval = absl::Milliseconds(100);
  Start(options);
  auto idle = Client();
  auto talker = Client();
  const uint64_t idle_id = SessionIdOf(*idle);
  const uint64_t talker_id = SessionIdOf(*talker);
  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(Call(*talker, kEcho, "still here"), "still here");
  clock_.Advance(absl::Seconds(2));  // idle: 4 s; talker: 2 s
  ASSERT_TRUE(log_.WaitFor(idle_id, "close"));
  EXPECT_EQ(log_.For(idle_id), (std::vector<std::string>{"open", "close:DEADLINE_EXCEEDED"}));
  EXPECT_EQ(log_.For(talker_id), (std::vector<std::string>{"open"}));
  EXPECT_EQ(server_->stats().idle_closes, 1u);
  // The expired peer comes back as a new session.
  EXPECT_NE(SessionIdOf(*idle), idle_id);
  clock_.Advance(absl::Seconds(4));
  ASSERT_TRUE(log_.WaitFor(talker_id, "close"));
  EXPECT_EQ(log_.For(talker_id), (std::vector<std::string>{"open", "close:DEADLINE_EXCEEDED"}));
}

TEST_F(UdpServerTest, AtTheCapTheLeastRecentlyActiveSessionIsEvicted) {
  ServerOptions options;
  options.loops = 1;
  options.clock = &clock_;  // no expiry unless the test advances it
  UdpOptions udp;
  udp.max_sessions = 2;
  Start(options, udp);
  auto a = Client();
  auto b = Client();
  auto c = Client();
  const uint64_t a_id = SessionIdOf(*a);
  const uint64_t b_id = SessionIdOf(*b);
  EXPECT_EQ(Call(*a, kEcho, "a again"), "a again");  // b is now the oldest
  const uint64_t c_id = SessionIdOf(*c);
  ASSERT_TRUE(log_.WaitFor(b_id, "close"));
  EXPECT_EQ(log_.For(b_id), (std::vector<std::string>{"open", "close:UNAVAILABLE"}));
  EXPECT_EQ(log_.For(a_id), (std::vector<std::string>{"open"}));
  EXPECT_EQ(log_.For(c_id), (std::vector<std::string>{"open"}));
  EXPECT_EQ(server_->udp_stats().sessions_evicted, 1u);
  // b leaves the manager in a task after its OnClose hook; a's round trip
  // on the same (single) loop comes after that task.
  EXPECT_EQ(Call(*a, kEcho, "barrier"), "barrier");
  EXPECT_EQ(server_->connections().Count(), 2u);
  // A flood of new peers never holds more than the cap.
  std::vector<std::unique_ptr<UdpClient>> flood;
  for (int i = 0; i < 50; ++i) {
    flood.push_back(Client());
    EXPECT_EQ(Call(*flood.back(), kEcho, "x"), "x");
    EXPECT_LE(server_->connections().Count(), 2u + 1u);  // + one whose OnClose is pending
  }
  EXPECT_EQ(server_->udp_stats().sessions_evicted, 51u);
  ASSERT_TRUE(log_.WaitForCount("close", 51));
  EXPECT_EQ(log_.Count("open"), 53u);
  EXPECT_EQ(log_.Count("close"), 51u);
}

TEST_F(UdpServerTest, OneDatagramPerSyscallModeServesTheSame) {
  UdpOptions udp;
  udp.batch_size = 1;
  Start({}, udp);
  auto c = Client();
  EXPECT_EQ(Call(*c, kEcho, "one by one"), "one by one");
  ASSERT_TRUE(c->SendMessages({{kEcho, "a"}, {kEcho, "b"}}).ok());
  absl::StatusOr<std::string> d = c->ReceiveDatagram(kTimeout);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, Frame(kEcho, "a") + Frame(kEcho, "b"));
}

TEST_F(UdpServerTest, GracefulShutdownClosesEverySessionOnce) {
  Start();
  auto a = Client();
  auto b = Client();
  const uint64_t a_id = SessionIdOf(*a);
  const uint64_t b_id = SessionIdOf(*b);
  server_->Shutdown(absl::Seconds(5));
  EXPECT_EQ(log_.For(a_id), (std::vector<std::string>{"open", "close:OK"}));
  EXPECT_EQ(log_.For(b_id), (std::vector<std::string>{"open", "close:OK"}));
  EXPECT_EQ(server_->connections().Count(), 0u);
}

TEST(UdpServerConfigTest, ATransportFactoryIsRefused) {
  ServerOptions options;
  options.transport_factory = []() -> absl::StatusOr<std::unique_ptr<Transport>> {
    return nullptr;
  };
  UdpServer server(options);
  absl::Status s = server.StartInBackground("127.0.0.1:0");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
}

TEST(UdpServerConfigTest, ABadBatchSizeIsRefused) {
  UdpOptions udp;
  udp.batch_size = 0;
  UdpServer server({}, udp);
  EXPECT_EQ(server.StartInBackground("127.0.0.1:0").code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace netman
