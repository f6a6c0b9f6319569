// Copyright netman authors.
//
// Connection lifecycle over real sockets: middleware, hooks under every close
// path, heartbeats (with a fake clock), keepalive, backpressure and graceful
// shutdown.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "netman/testing/event_log.h"
#include "netman/testing/frames.h"
#include "netman/base/sync.h"
#include "netman/base/testing/capturing_log_sink.h"
#include "netman/base/testing/fake_clock.h"
#include "netman/client/client.h"
#include "netman/codec/default_packer.h"
#include "netman/server/tcp_server.h"

namespace netman {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(20);

using ::netman::testing::EventLog;

class LifecycleTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options,
             const std::function<void(TcpServer&)>& configure = nullptr) {
    sink_ = std::make_shared<CapturingLogSink>();
    options.logger = Logger(sink_, LogLevel::kDebug);
    if (options.loops == 0) options.loops = 2;
    server_ = std::make_unique<TcpServer>(std::move(options));
    ASSERT_TRUE(server_->OnOpen([this](Connection& c) { log_.Add(c.id(), "open"); }).ok());
    ASSERT_TRUE(server_->OnClose([this](Connection& c, const absl::Status& why) {
      log_.Add(c.id(), absl::StrCat("close:", absl::StatusCodeToString(why.code())));
    }).ok());
    ASSERT_TRUE(server_->AddRouter(0, [this](Request& r) {
      log_.Add(r.connection().id(), "handle");
      (void)r.connection().Send(0, r.body());
    }).ok());
    // Replies with the connection's id, so a test can name its connection.
    ASSERT_TRUE(server_->AddRouter(1, [](Request& r) {
      (void)r.connection().Send(1, absl::StrCat(r.connection().id()));
    }).ok());
    if (configure) configure(*server_);
    absl::Status s = server_->StartInBackground("127.0.0.1:0");
    ASSERT_TRUE(s.ok()) << s;
  }

  std::unique_ptr<Client> Connect() {
    auto c = Client::Connect("127.0.0.1", server_->port());
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // The server-side id of a client's connection.
  uint64_t IdOf(Client& c) {
    EXPECT_TRUE(c.Send(1, "").ok());
    auto m = c.Receive(kTimeout);
    EXPECT_TRUE(m.ok()) << m.status();
    uint64_t id = 0;
    EXPECT_TRUE(m.ok() && absl::SimpleAtoi(m->body, &id));
    return id;
  }

  void Echo(Client& c, const std::string& body) {
    ASSERT_TRUE(c.Send(0, body).ok());
    auto m = c.Receive(kTimeout);
    ASSERT_TRUE(m.ok()) << m.status();
    ASSERT_EQ(m->body, body);
  }

  std::shared_ptr<CapturingLogSink> sink_;
  EventLog log_;
  std::unique_ptr<TcpServer> server_;
};

// ---------------------------------------------------------------- middleware

TEST_F(LifecycleTest, MiddlewareOrderValuesGroupsAndEarlyTermination) {
  Start({}, [](TcpServer& s) {
    ASSERT_TRUE(s.Use([](Request& r, const Next& next) {
      r.Set<std::string>("trace", "g1");
      next();
    }).ok());
    ASSERT_TRUE(s.Use([](Request& r, const Next& next) {
      *r.Get<std::string>("trace") += ",g2";
      next();
    }).ok());
    RouteGroup& auth = s.Group({[](Request& r, const Next& next) {
      if (r.body() != "secret") {
        r.connection().Close();  // reject: the handler never runs
        return;
      }
      *r.Get<std::string>("trace") += ",auth";
      next();
    }});
    ASSERT_TRUE(auth.AddRouter(10, [](Request& r) {
      (void)r.connection().Send(10, *r.Get<std::string>("trace") + ",handler");
    }).ok());
    ASSERT_TRUE(s.AddRouter(11, [](Request& r) {
      (void)r.connection().Send(11, *r.Get<std::string>("trace") + ",handler");
    }).ok());
    EXPECT_EQ(auth.AddRouter(11, [](Request&) {}).code(),
              absl::StatusCode::kAlreadyExists);
  });
  auto c = Connect();
  ASSERT_TRUE(c->Send(10, "secret").ok());
  auto m = c->Receive(kTimeout);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->body, "g1,g2,auth,handler");
  ASSERT_TRUE(c->Send(11, "").ok());
  m = c->Receive(kTimeout);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->body, "g1,g2,handler");  // not in the group
  ASSERT_TRUE(c->Send(10, "wrong").ok());
  EXPECT_TRUE(c->WaitForClose(kTimeout).ok());  // rejected and closed
}

// --------------------------------------------------------------------- hooks

TEST_F(LifecycleTest, HooksRunInOrderAndCloseExactlyOnceOnEveryPath) {
  Notification release;
  std::atomic<uint64_t> blocked_id{0};
  Notification handler_entered;
  ServerOptions options;
  options.max_body = 100;
  Start(options, [&](TcpServer& s) {
    ASSERT_TRUE(s.AddRouter(2, [](Request& r) { r.connection().Close(); }).ok());
    ASSERT_TRUE(s.AddRouter(3, [&](Request& r) {
      blocked_id = r.connection().id();
      log_.Add(r.connection().id(), "handler-start");
      handler_entered.Notify();
      release.WaitForNotificationWithTimeout(kTimeout);
      log_.Add(r.connection().id(), "handler-end");
    }).ok());
  });

  // 1. Peer closes.
  auto a = Connect();
  uint64_t a_id = IdOf(*a);
  Echo(*a, "x");
  a->Close();
  ASSERT_TRUE(log_.WaitFor(a_id, "close"));
  EXPECT_EQ(log_.For(a_id), (std::vector<std::string>{"open", "handle", "close:OK"}));

  // 2. A handler closes its connection.
  auto b = Connect();
  uint64_t b_id = IdOf(*b);
  ASSERT_TRUE(b->Send(2, "").ok());
  ASSERT_TRUE(log_.WaitFor(b_id, "close"));
  EXPECT_EQ(log_.For(b_id), (std::vector<std::string>{"open", "close:OK"}));

  // 3. Another thread closes it while its handler is running: OnClose comes
  //    after the handler returns.
  auto c = Connect();
  uint64_t c_id = IdOf(*c);
  ASSERT_TRUE(c->Send(3, "").ok());
  ASSERT_TRUE(handler_entered.WaitForNotificationWithTimeout(kTimeout));
  ConnectionPtr conn = server_->connections().Get(c_id);
  ASSERT_NE(conn, nullptr);
  conn->ForceClose(absl::AbortedError("admin"));
  conn->Close();  // and again, differently: still one OnClose
  release.Notify();
  ASSERT_TRUE(log_.WaitFor(c_id, "close"));
  EXPECT_EQ(log_.For(c_id), (std::vector<std::string>{"open", "handler-start",
                                                      "handler-end", "close:ABORTED"}));

  // 4. A protocol error (oversize body).
  auto d = Connect();
  uint64_t d_id = IdOf(*d);
  ASSERT_TRUE(d->Send(0, std::string(101, 'x')).ok());
  ASSERT_TRUE(log_.WaitFor(d_id, "close"));
  EXPECT_EQ(log_.For(d_id).back(), "close:RESOURCE_EXHAUSTED");

  // 5. Server stop.
  auto e = Connect();
  uint64_t e_id = IdOf(*e);
  server_->Stop();
  EXPECT_EQ(log_.For(e_id), (std::vector<std::string>{"open", "close:CANCELLED"}));
  for (uint64_t id : {a_id, b_id, c_id, d_id, e_id}) {
    std::vector<std::string> events = log_.For(id);
    EXPECT_EQ(events.front(), "open") << id;
    EXPECT_EQ(std::count_if(events.begin(), events.end(),
                            [](const std::string& s) { return s.rfind("close", 0) == 0; }),
              1)
        << id;
  }
}

// ----------------------------------------------------------------- heartbeat

class HeartbeatTest : public LifecycleTest {
 protected:
  void StartWithHeartbeat() {
    ServerOptions options;
    options.loops = 1;  // one loop: a round trip on one connection means the
                        // loop has read what other connections sent before
    options.clock = &clock_;
    options.heartbeat_idle_time = absl::Seconds(3);
    options.heartbeat_check_interval = absl::Milliseconds(100);
    Start(options);
  }
  FakeClock clock_;
};

TEST_F(HeartbeatTest, IdleConnectionIsClosedWithReasonAndHooks) {
  StartWithHeartbeat();
  auto c = Connect();
  uint64_t id = IdOf(*c);
  clock_.Advance(absl::Seconds(2));
  auto barrier = Connect();
  Echo(*barrier, "tick");
  EXPECT_TRUE(server_->connections().Get(id) != nullptr);  // not yet
  clock_.Advance(absl::Seconds(2));                         // 4 s idle
  EXPECT_TRUE(c->WaitForClose(kTimeout).ok());
  ASSERT_TRUE(log_.WaitFor(id, "close"));
  EXPECT_EQ(log_.For(id).back(), "close:DEADLINE_EXCEEDED");
  EXPECT_TRUE(sink_->WaitFor("no data received for 3s", kTimeout));
}

TEST_F(HeartbeatTest, ActivityIncludingPartialMessagesResetsTheTimer) {
  StartWithHeartbeat();
  auto idle = Connect();
  auto talker = Connect();
  auto partial = Connect();
  uint64_t idle_id = IdOf(*idle);
  uint64_t talker_id = IdOf(*talker);
  uint64_t partial_id = IdOf(*partial);
  clock_.Advance(absl::Seconds(2));
  Echo(*talker, "still here");                                  // a message
  ASSERT_TRUE(partial->SendRaw(std::string("\x05\x00", 2)).ok());  // 2 header bytes
  Echo(*talker, "barrier");  // one loop: partial's bytes were read before this
  clock_.Advance(absl::Seconds(2));  // idle: 4 s; the others: 2 s
  EXPECT_TRUE(idle->WaitForClose(kTimeout).ok());
  ASSERT_TRUE(log_.WaitFor(idle_id, "close"));
  // The same wheel tick saw the other two and kept them.
  EXPECT_NE(server_->connections().Get(talker_id), nullptr);
  EXPECT_NE(server_->connections().Get(partial_id), nullptr);
  // The partial message completes normally.
  ASSERT_TRUE(partial->SendRaw(std::string("\x00\x00\x00\x00\x00\x00hello", 11)).ok());
  auto m = partial->Receive(kTimeout);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->body, "hello");
  // Later silence still ends them.
  clock_.Advance(absl::Seconds(4));
  EXPECT_TRUE(talker->WaitForClose(kTimeout).ok());
  EXPECT_TRUE(partial->WaitForClose(kTimeout).ok());
}

TEST_F(LifecycleTest, HeartbeatIntervalWithoutIdleTimeIsAConfigurationError) {
  ServerOptions options;
  options.loops = 1;
  options.heartbeat_check_interval = absl::Seconds(1);
  TcpServer server(options);
  absl::Status s = server.StartInBackground("127.0.0.1:0");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("heartbeat_idle_time"), absl::string_view::npos);
}

TEST_F(LifecycleTest, TcpKeepaliveIsSetOnAcceptedSockets) {
  ServerOptions options;
  options.tcp_keepalive = absl::Seconds(30);
  options.tcp_keepalive_interval = absl::Seconds(5);
  options.tcp_keepalive_probes = 4;
  std::atomic<int> keepalive{-1}, idle{-1}, interval{-1}, probes{-1};
  Start(options, [&](TcpServer& s) {
    ASSERT_TRUE(s.OnOpen([&](Connection& c) {
      int v = 0;
      socklen_t len = sizeof(v);
      getsockopt(c.native_handle(), SOL_SOCKET, SO_KEEPALIVE, &v, &len);
      keepalive = v;
      getsockopt(c.native_handle(), IPPROTO_TCP, TCP_KEEPIDLE, &v, &len);
      idle = v;
      getsockopt(c.native_handle(), IPPROTO_TCP, TCP_KEEPINTVL, &v, &len);
      interval = v;
      getsockopt(c.native_handle(), IPPROTO_TCP, TCP_KEEPCNT, &v, &len);
      probes = v;
    }).ok());
  });
  auto c = Connect();
  Echo(*c, "x");  // OnOpen ran before this was handled
  EXPECT_EQ(keepalive.load(), 1);
  EXPECT_EQ(idle.load(), 30);
  EXPECT_EQ(interval.load(), 5);
  EXPECT_EQ(probes.load(), 4);
}

// -------------------------------------------------------------- backpressure

// A raw socket that writes without ever reading.
class NonReadingPeer {
 public:
  // Connects, and returns once the server has registered the connection
  // (it answered a message with id 1).
  explicit NonReadingPeer(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int small = 64 * 1024;  // small kernel buffers: backpressure shows sooner
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    const std::string hello("\x00\x00\x00\x00\x01\x00\x00\x00", 8);
    WriteAll(hello);
    std::string reply = Read(8);  // header of the id reply
    EXPECT_EQ(reply.size(), 8u);
    if (reply.size() == 8) Read(static_cast<uint8_t>(reply[0]));  // its body
  }
  ~NonReadingPeer() { ::close(fd_); }
  // Writes copies of `frame` until the kernel refuses more for about a second
  // (or `max_bytes`); returns the bytes written, possibly ending mid-frame.
  size_t WriteUntilBlocked(const std::string& frame, size_t max_bytes) {
    size_t total = 0;
    int stalls = 0;
    while (total < max_bytes && stalls < 20) {
      const size_t offset = total % frame.size();
      ssize_t n = ::send(fd_, frame.data() + offset, frame.size() - offset,
                         MSG_NOSIGNAL);
      if (n > 0) {
        total += static_cast<size_t>(n);
        stalls = 0;
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        break;  // the server closed the connection
      } else {
        struct pollfd p = {fd_, POLLOUT, 0};
        if (::poll(&p, 1, 50) == 0) ++stalls;  // wait for room, bounded
      }
    }
    return total;
  }
  void WriteAll(std::string_view bytes) {
    for (int waits = 0; !bytes.empty() && waits < 100;) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) {
        bytes.remove_prefix(static_cast<size_t>(n));
      } else {
        struct pollfd p = {fd_, POLLOUT, 0};
        ::poll(&p, 1, 100);
        ++waits;
      }
    }
  }
  // Reads exactly `n` bytes (blocking with poll), or fewer on EOF/timeout.
  std::string Read(size_t n) {
    std::string out;
    std::vector<char> buf(1 << 16);
    while (out.size() < n) {
      struct pollfd p = {fd_, POLLIN, 0};
      if (::poll(&p, 1, 20000) <= 0) break;
      ssize_t got = ::recv(fd_, buf.data(), std::min(buf.size(), n - out.size()), 0);
      if (got <= 0) break;
      out.append(buf.data(), static_cast<size_t>(got));
    }
    return out;
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

using testing::Frame;

TEST_F(LifecycleTest, SlowReaderIsHeldAtTheCapWhileOthersKeepGoing) {
  ServerOptions options;
  options.loops = 1;  // the slow and the fast client share one loop
  options.max_output_bytes = 1 << 20;
  options.output_limit_policy = OutputLimitPolicy::kPauseReading;
  options.output_high_water_mark = 256 << 10;
  std::atomic<int> high_water_events{0};
  Start(options, [&](TcpServer& s) {
    ASSERT_TRUE(s.OnHighWaterMark([&](Connection&, size_t) { ++high_water_events; }).ok());
  });
  NonReadingPeer slow(server_->port());
  const std::string frame = Frame(0, std::string(16 << 10, 's'));  // 16 KiB echo
  // The server stops reading once ~1 MiB of replies is queued: the writes
  // stall long before 64 MiB.
  size_t sent = slow.WriteUntilBlocked(frame, 64u << 20);
  EXPECT_LT(sent, 16u << 20) << "the server kept reading from a peer that never reads";
  EXPECT_GE(high_water_events.load(), 1);
  // Another client on the same loop is unaffected.
  auto fast = Connect();
  for (int i = 0; i < 200; ++i) Echo(*fast, absl::StrCat("fast-", i));
  // Nothing accepted is lost: the slow client gets a reply for every whole
  // frame it managed to send, in order, once it reads.
  const size_t frames = sent / frame.size();
  ASSERT_GT(frames, 0u);
  std::string replies = slow.Read(frames * frame.size());
  ASSERT_EQ(replies.size(), frames * frame.size());
  for (size_t i = 0; i < frames; ++i) {
    ASSERT_EQ(replies.compare(i * frame.size(), frame.size(), frame), 0) << i;
  }
}

TEST_F(LifecycleTest, OutputCapWithClosePolicyClosesTheSlowReader) {
  ServerOptions options;
  options.loops = 1;
  options.max_output_bytes = 1 << 20;
  options.output_limit_policy = OutputLimitPolicy::kClose;
  Start(options);
  NonReadingPeer slow(server_->port());
  slow.WriteUntilBlocked(Frame(0, std::string(16 << 10, 's')), 64u << 20);
  EXPECT_TRUE(sink_->WaitFor("over max_output_bytes of 1048576 (policy: close)", kTimeout));
  auto fast = Connect();
  Echo(*fast, "unaffected");
}

// The output cap never refuses the reply to a message the input limits
// admitted, under either policy, however the two limits compare.
TEST_F(LifecycleTest, ReplyToAMessageOfExactlyMaxBodyIsDeliveredUnderTheClosePolicy) {
  ServerOptions options;
  options.loops = 1;
  options.max_body = 4 << 20;
  options.max_output_bytes = 4 << 20;  // the echo is 8 bytes more than this
  options.output_limit_policy = OutputLimitPolicy::kClose;
  Start(options);
  auto c = Connect();
  const std::string body(4 << 20, 'm');
  ASSERT_TRUE(c->Send(0, body).ok());
  auto echo = c->Receive(kTimeout);
  ASSERT_TRUE(echo.ok()) << echo.status();
  EXPECT_EQ(echo->body.size(), body.size());
  EXPECT_TRUE(echo->body == body);
  Echo(*c, "still open");
  EXPECT_EQ(server_->stats().output_limit_closes, 0u);
}

TEST_F(LifecycleTest, UnlimitedBodyReplyOverTwiceTheCapIsDeliveredUnderThePausePolicy) {
  ServerOptions options;
  options.loops = 1;
  options.max_body = 0;  // unlimited: "0 = unlimited" holds end to end
  options.max_output_bytes = 1 << 20;
  options.output_limit_policy = OutputLimitPolicy::kPauseReading;
  Start(options);
  auto c = Connect();
  const std::string body(3 << 20, 'u');  // the reply alone is 3x the cap
  ASSERT_TRUE(c->Send(0, body).ok());
  auto echo = c->Receive(kTimeout);
  ASSERT_TRUE(echo.ok()) << echo.status();
  EXPECT_TRUE(echo->body == body);
  Echo(*c, "still open");  // reading resumed once the reply drained
  EXPECT_EQ(server_->stats().output_limit_closes, 0u);
}

// ------------------------------------------------------------------ shutdown

TEST_F(LifecycleTest, GracefulShutdownDeliversEveryReplyItProduced) {
  std::atomic<int> handled{0};
  Notification half;
  ServerOptions options;
  options.loops = 2;
  Start(options, [&](TcpServer& s) {
    ASSERT_TRUE(s.AddRouter(5, [&](Request& r) {
      (void)r.connection().Send(5, r.body());
      if (++handled == 500) half.Notify();
    }).ok());
  });
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(Connect());
    IdOf(*clients.back());  // registered with the server before shutdown
  }
  std::string wire;
  for (int i = 0; i < 1000; ++i) wire += Frame(5, absl::StrCat(i));
  for (auto& c : clients) ASSERT_TRUE(c->SendRaw(wire).ok());
  ASSERT_TRUE(half.WaitForNotificationWithTimeout(kTimeout));
  server_->Shutdown(absl::Seconds(10));
  // Every reply the server produced arrived, in order, before the close.
  int received = 0;
  for (auto& c : clients) {
    for (int i = 0;; ++i) {
      auto m = c->Receive(kTimeout);
      if (!m.ok()) {
        EXPECT_EQ(m.status().code(), absl::StatusCode::kUnavailable) << m.status();
        break;
      }
      ASSERT_EQ(m->body, absl::StrCat(i));
      ++received;
    }
  }
  EXPECT_EQ(received, handled.load());
  EXPECT_EQ(log_.Count("close"), 4u);
  EXPECT_EQ(server_->connections().Count(), 0u);
}

TEST_F(LifecycleTest, ShutdownDeadlineClosesWhatRemains) {
  ServerOptions options;
  options.loops = 1;
  options.max_output_bytes = 0;  // unlimited: the replies just wait
  options.output_high_water_mark = 64 << 10;
  Notification backed_up;
  Start(options, [&](TcpServer& s) {
    ASSERT_TRUE(s.OnHighWaterMark([&](Connection&, size_t) { backed_up.Notify(); }).ok());
  });
  NonReadingPeer stuck(server_->port());
  stuck.WriteUntilBlocked(Frame(0, std::string(64 << 10, 'q')), 8u << 20);
  // The server holds output for `stuck` that it will never take.
  ASSERT_TRUE(backed_up.WaitForNotificationWithTimeout(kTimeout));
  auto idle = Connect();
  uint64_t idle_id = IdOf(*idle);
  absl::Time start = absl::Now();
  server_->Shutdown(absl::Milliseconds(300));  // the stuck one never drains
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(250));
  EXPECT_TRUE(sink_->WaitFor("shutdown deadline passed", kTimeout));
  EXPECT_EQ(log_.For(idle_id).back(), "close:OK");  // closed gracefully at once
  EXPECT_EQ(server_->connections().Count(), 0u);
}

TEST_F(LifecycleTest, ShutdownWithNoConnectionsReturnsPromptly) {
  Start({});
  server_->Shutdown(absl::Seconds(30));
  EXPECT_EQ(server_->connections().Count(), 0u);
}

}  // namespace
}  // namespace netman
