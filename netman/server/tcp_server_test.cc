// Copyright netman authors.
//
// TcpServer over real sockets on 127.0.0.1 (port 0), with netman::Client.
#include "netman/server/tcp_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "netman/base/testing/capturing_log_sink.h"
#include "netman/client/client.h"
#include "netman/codec/default_packer.h"
#include "netman/base/sync.h"

namespace netman {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(20);

class TcpServerTest : public ::testing::Test {
 protected:
  // Starts a server with an echo route on id 0; `configure` may add more.
  void StartServer(ServerOptions options = {},
                   const std::function<void(TcpServer&)>& configure = nullptr,
                   const std::string& address = "127.0.0.1:0") {
    sink_ = std::make_shared<CapturingLogSink>();
    options.logger = Logger(sink_, LogLevel::kDebug);
    if (options.loops == 0) options.loops = 2;
    server_ = std::make_unique<TcpServer>(std::move(options));
    ASSERT_TRUE(server_->AddRouter(0, [](Request& r) {
      (void)r.connection().Send(0, r.body());
    }).ok());
    if (configure) configure(*server_);
    absl::Status s = server_->StartInBackground(address);
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_NE(server_->port(), 0);
  }

  std::unique_ptr<Client> Connect(Client::Options options = {}) {
    auto c = Client::Connect("127.0.0.1", server_->port(), options);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }

  void ExpectEcho(Client& c, const std::string& body) {
    ASSERT_TRUE(c.Send(0, body).ok());
    absl::StatusOr<ReceivedMessage> m = c.Receive(kTimeout);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->id, 0u);
    EXPECT_EQ(m->body.size(), body.size());
    EXPECT_TRUE(m->body == body);
  }

  std::shared_ptr<CapturingLogSink> sink_;
  std::unique_ptr<TcpServer> server_;
};

TEST_F(TcpServerTest, EchoesEmptyTinyAndLargeBodies) {
  StartServer();
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  ExpectEcho(*c, "");
  ExpectEcho(*c, "x");
  std::string big(64 * 1024, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
  ExpectEcho(*c, big);
}

TEST_F(TcpServerTest, Echoes100MiBBody) {
  ServerOptions options;
  options.max_body = 128u << 20;
  StartServer(options);
  Client::Options copts;
  copts.max_body = 128u << 20;
  auto c = Connect(copts);
  ASSERT_NE(c, nullptr);
  std::string body(100u << 20, '\0');
  for (size_t i = 0; i < body.size(); i += 4096) body[i] = static_cast<char>(i >> 12);
  ExpectEcho(*c, body);
}

TEST_F(TcpServerTest, ThousandPipelinedMessagesAnsweredInOrder) {
  StartServer();
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  std::string wire;
  for (int i = 0; i < 1000; ++i) {
    Buffer b;
    DefaultPacker().Encode(0, absl::StrCat("message-", i), b);
    wire.append(b.readable());
  }
  ASSERT_TRUE(c->SendRaw(wire).ok());  // all 1000 in flight at once
  for (int i = 0; i < 1000; ++i) {
    auto m = c->Receive(kTimeout);
    ASSERT_TRUE(m.ok()) << i << ": " << m.status();
    ASSERT_EQ(m->body, absl::StrCat("message-", i));
  }
}

TEST_F(TcpServerTest, HeaderSplitAtEveryOffsetOverTcp) {
  StartServer();
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  Buffer b;
  DefaultPacker().Encode(0, "split", b);
  const std::string frame(b.readable());
  for (size_t cut = 1; cut < frame.size(); ++cut) {
    ASSERT_TRUE(c->SendRaw(frame.substr(0, cut)).ok());
    ASSERT_TRUE(c->SendRaw(frame.substr(cut)).ok());
    auto m = c->Receive(kTimeout);
    ASSERT_TRUE(m.ok()) << cut << ": " << m.status();
    EXPECT_EQ(m->body, "split");
  }
}

TEST_F(TcpServerTest, WireFormatIsByteExact) {
  StartServer();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  struct sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server_->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  // body length 5 (LE), id 0 (LE), "hello": what the Go netman sends.
  const std::string frame("\x05\x00\x00\x00\x00\x00\x00\x00hello", 13);
  ASSERT_EQ(::write(fd, frame.data(), frame.size()), 13);
  std::string got;
  char buf[64];
  while (got.size() < frame.size()) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(got, frame);
  ::close(fd);
}

TEST_F(TcpServerTest, OversizeBodyClosesOnlyThatConnection) {
  ServerOptions options;
  options.max_body = 1024;
  StartServer(options);
  auto good = Connect();
  auto bad = Connect();
  ASSERT_NE(good, nullptr);
  ASSERT_NE(bad, nullptr);
  ExpectEcho(*good, "before");
  // Only the header of a 1 MiB message: rejected before the body arrives.
  ASSERT_TRUE(bad->SendRaw(std::string("\x00\x00\x10\x00\x00\x00\x00\x00", 8)).ok());
  EXPECT_TRUE(bad->WaitForClose(kTimeout).ok());
  EXPECT_TRUE(sink_->WaitFor("exceeds the limit of 1024", kTimeout));
  ExpectEcho(*good, "after");
  ExpectEcho(*good, std::string(1024, 'm'));  // the limit itself is fine
}

TEST_F(TcpServerTest, UnknownIdIsDroppedAndConnectionStaysOpen) {
  StartServer();
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send(4242, "nobody home").ok());
  ExpectEcho(*c, "still open");  // replies only to the echo
  EXPECT_TRUE(sink_->WaitFor("no route for message id 4242", kTimeout));
  EXPECT_EQ(server_->connections().Count(), 1u);
}

TEST_F(TcpServerTest, ThousandConcurrentClients) {
  ServerOptions options;
  options.loops = 4;
  StartServer(options);
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 1000; ++i) {
    clients.push_back(Connect());
    ASSERT_NE(clients.back(), nullptr) << i;
  }
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(clients[i]->Send(0, absl::StrCat("client-", i)).ok());
  }
  for (int i = 0; i < 1000; ++i) {
    auto m = clients[i]->Receive(kTimeout);
    ASSERT_TRUE(m.ok()) << i << ": " << m.status();
    EXPECT_EQ(m->body, absl::StrCat("client-", i));
  }
  EXPECT_EQ(server_->connections().Count(), 1000u);
}

TEST_F(TcpServerTest, ManyThreadsSendOnOneConnectionWithoutCorruption) {
  std::atomic<uint64_t> connection_id{0};
  Notification registered;
  StartServer({}, [&](TcpServer& s) {
    ASSERT_TRUE(s.AddRouter(5, [&](Request& r) {
      connection_id = r.connection().id();
      (void)r.connection().Send(5, "ok");
      registered.Notify();
    }).ok());
  });
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send(5, "").ok());
  ASSERT_TRUE(registered.WaitForNotificationWithTimeout(kTimeout));
  ASSERT_TRUE(c->Receive(kTimeout).ok());
  ConnectionPtr conn = server_->connections().Get(connection_id);
  ASSERT_NE(conn, nullptr);

  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Varying sizes so frames straddle buffer boundaries.
        std::string body = absl::StrCat(t, ":", i, ":");
        body.append(static_cast<size_t>((i * 37 + t * 11) % 3000), static_cast<char>('a' + t));
        ASSERT_TRUE(conn->Send(100 + t, body).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<int> next(kThreads, 0);
  for (int k = 0; k < kThreads * kPerThread; ++k) {
    auto m = c->Receive(kTimeout);
    ASSERT_TRUE(m.ok()) << k << ": " << m.status();
    int t = static_cast<int>(m->id) - 100;
    ASSERT_TRUE(t >= 0 && t < kThreads) << m->id;
    const int i = next[t]++;
    std::string expected = absl::StrCat(t, ":", i, ":");
    expected.append(static_cast<size_t>((i * 37 + t * 11) % 3000), static_cast<char>('a' + t));
    ASSERT_EQ(m->body, expected) << "thread " << t << " message " << i;
  }
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(next[t], kPerThread);
}

TEST_F(TcpServerTest, StopWithOpenConnectionsReturnsAndClosesEveryone) {
  std::atomic<int> opened{0}, closed{0};
  StartServer({}, [&](TcpServer& s) {
    ASSERT_TRUE(s.OnOpen([&](Connection&) { ++opened; }).ok());
    ASSERT_TRUE(s.OnClose([&](Connection&, const absl::Status&) { ++closed; }).ok());
  });
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 50; ++i) {
    clients.push_back(Connect());
    ASSERT_NE(clients.back(), nullptr);
    ExpectEcho(*clients.back(), "hi");  // accepted and registered
  }
  // A message in flight and a partial one while stopping.
  ASSERT_TRUE(clients[0]->Send(0, "in flight").ok());
  ASSERT_TRUE(clients[1]->SendRaw(std::string("\x10\x00\x00", 3)).ok());
  server_->Stop();
  EXPECT_EQ(opened.load(), 50);
  EXPECT_EQ(closed.load(), 50);
  EXPECT_EQ(server_->connections().Count(), 0u);
  for (auto& c : clients) EXPECT_TRUE(c->WaitForClose(kTimeout).ok());
  server_->Stop();  // idempotent
  // The listening socket is closed: nothing accepts any more.
  EXPECT_FALSE(Client::Connect("127.0.0.1", server_->port()).ok());
}

TEST_F(TcpServerTest, StopFromAHandlerDoesNotDeadlock) {
  StartServer({}, [&](TcpServer& s) {
    ASSERT_TRUE(s.AddRouter(9, [&s](Request&) { s.Stop(); }).ok());
  });
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send(9, "").ok());
  EXPECT_TRUE(c->WaitForClose(kTimeout).ok());
  server_->Stop();  // joins the loop threads
}

TEST_F(TcpServerTest, BlockingStartReturnsAfterStopFromAnotherThread) {
  sink_ = std::make_shared<CapturingLogSink>();
  ServerOptions options;
  options.loops = 2;
  options.logger = Logger(sink_, LogLevel::kInfo);
  TcpServer server(options);
  absl::Status result = absl::UnknownError("not returned");
  std::thread runner([&] { result = server.Start("127.0.0.1:0"); });
  ASSERT_TRUE(sink_->WaitFor("listening on", kTimeout));
  server.Stop();
  runner.join();
  EXPECT_TRUE(result.ok()) << result;
}

TEST_F(TcpServerTest, BindErrorIsReturned) {
  StartServer();
  TcpServer second(ServerOptions{.loops = 1});
  absl::Status s = second.StartInBackground(
      absl::StrCat("127.0.0.1:", server_->port()));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;  // EADDRINUSE
  EXPECT_NE(s.message().find("Address already in use"), absl::string_view::npos);
  EXPECT_EQ(second.StartInBackground("no-such-host:1").code(),
            absl::StatusCode::kFailedPrecondition);  // already tried once
  TcpServer third(ServerOptions{.loops = 1});
  EXPECT_EQ(third.StartInBackground("not an address").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TcpServerTest, ServesIPv6) {
  int probe = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (probe < 0) GTEST_SKIP() << "no IPv6";
  struct sockaddr_in6 a = {};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  bool ok = ::bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  ::close(probe);
  if (!ok) GTEST_SKIP() << "no ::1";
  StartServer({}, nullptr, "[::1]:0");
  EXPECT_EQ(server_->listen_address().ToString(),
            absl::StrCat("[::1]:", server_->port()));
  auto c = Client::Connect("::1", server_->port());
  ASSERT_TRUE(c.ok()) << c.status();
  ExpectEcho(**c, "over ipv6");
}

TEST_F(TcpServerTest, ConnectionManagerLookupIterateBroadcastAndIdsNotReused) {
  StartServer();
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(Connect());
    ExpectEcho(*clients.back(), "hi");
  }
  std::vector<uint64_t> ids;
  server_->connections().ForEach([&](const ConnectionPtr& c) { ids.push_back(c->id()); });
  ASSERT_EQ(ids.size(), 5u);
  for (uint64_t id : ids) {
    ConnectionPtr c = server_->connections().Get(id);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->peer_address().HostString(), "127.0.0.1");
    auto local = c->local_address();
    ASSERT_TRUE(local.ok());
    EXPECT_EQ(local->port(), server_->port());
  }
  EXPECT_EQ(server_->connections().Broadcast(77, "news"), 5u);
  for (auto& c : clients) {
    auto m = c->Receive(kTimeout);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->id, 77u);
    EXPECT_EQ(m->body, "news");
  }
  uint64_t max_id = *std::max_element(ids.begin(), ids.end());
  clients[0]->Close();
  auto fresh = Connect();
  ExpectEcho(*fresh, "new");
  bool found_new = false;
  server_->connections().ForEach([&](const ConnectionPtr& c) {
    if (c->id() > max_id) found_new = true;
  });
  EXPECT_TRUE(found_new);
}

TEST_F(TcpServerTest, HalfCloseStillDeliversReplies) {
  StartServer();
  auto c = Connect();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(c->Send(0, absl::StrCat(i)).ok());
  ASSERT_TRUE(c->ShutdownWrite().ok());
  for (int i = 0; i < 100; ++i) {
    auto m = c->Receive(kTimeout);
    ASSERT_TRUE(m.ok()) << i << ": " << m.status();
    EXPECT_EQ(m->body, absl::StrCat(i));
  }
  EXPECT_TRUE(c->WaitForClose(kTimeout).ok());
}

TEST_F(TcpServerTest, AddRouterAfterStartAndDuplicatesAreErrors) {
  StartServer();
  EXPECT_EQ(server_->AddRouter(1, [](Request&) {}).code(),
            absl::StatusCode::kFailedPrecondition);
  TcpServer fresh(ServerOptions{.loops = 1});
  ASSERT_TRUE(fresh.AddRouter(3, [](Request&) {}).ok());
  EXPECT_EQ(fresh.AddRouter(3, [](Request&) {}).code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(TcpServerTest, StatsCountMessagesBytesAndClosesByReason) {
  ServerOptions options;
  options.max_body = 100;
  Mutex mu;
  int closes = 0;  // guarded by mu
  StartServer(options, [&](TcpServer& s) {
    // Runs after the close has been counted.
    ASSERT_TRUE(s.OnClose([&](Connection&, const absl::Status&) {
      MutexLock lock(&mu);
      ++closes;
    }).ok());
  });
  auto a = Connect();
  for (int i = 0; i < 10; ++i) ExpectEcho(*a, "0123456789");  // 18-byte frames
  auto bad = Connect();
  ExpectEcho(*bad, "x");
  ASSERT_TRUE(bad->Send(0, std::string(101, 'x')).ok());  // oversize
  ASSERT_TRUE(bad->WaitForClose(kTimeout).ok());
  a->Close();
  {
    MutexLock lock(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(
        [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return closes == 2; }, kTimeout));
  }
  ServerStats s = server_->stats();
  EXPECT_EQ(s.connections_accepted, 2u);
  EXPECT_EQ(s.connections_closed, 2u);
  EXPECT_EQ(s.closed_by_reason["OK"], 1u);
  EXPECT_EQ(s.closed_by_reason["RESOURCE_EXHAUSTED"], 1u);
  EXPECT_EQ(s.messages_in, 11u);
  EXPECT_EQ(s.messages_out, 11u);
  EXPECT_EQ(s.bytes_out, 10u * 18u + 9u);
  EXPECT_GE(s.bytes_in, 10u * 18u + 9u + 8u);
  EXPECT_EQ(s.decode_errors, 1u);
  std::string json = s.ToJson();
  EXPECT_NE(json.find("\"closed_by_reason\":{\"OK\":1,\"RESOURCE_EXHAUSTED\":1}"),
            std::string::npos)
      << json;
  server_->Stop();
  EXPECT_EQ(server_->stats().connections_open, 0u);
  EXPECT_EQ(server_->stats().connections_accepted, 2u);
}

}  // namespace
}  // namespace netman
