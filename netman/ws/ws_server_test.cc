// Copyright netman authors.
//
// WsServer over real sockets on 127.0.0.1 with a small blocking client
// (every read has a 5 s timeout, so a broken server fails instead of
// hanging; nothing waits by sleeping).
#include "netman/ws/ws_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "netman/base/sync.h"
#include "netman/ws/close_codes.h"
#include "netman/ws/ws_test_frames.h"

namespace netman {
namespace {

using ws::testing::ClientFrame;
using ws::testing::CloseBody;
using websocket_wire::kFin;
using websocket_wire::kOpBinary;
using websocket_wire::kOpClose;
using websocket_wire::kOpContinuation;
using websocket_wire::kOpPing;
using websocket_wire::kOpPong;
using websocket_wire::kOpText;

constexpr char kKey[] = "dGhlIHNhbXBsZSBub25jZQ==";

class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Client() { close(fd_); }

  void Write(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      bytes.remove_prefix(n);
    }
  }
  // Reads until `pred` holds on the buffered bytes or EOF/timeout.
  bool Fill(size_t want) {
    while (buffer_.size() < want) {
      char chunk[65536];
      const ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) return false;
      buffer_.append(chunk, n);
    }
    return true;
  }
  // The HTTP response head (and its body if Content-Length says so).
  std::string ReadHttp() {
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(buffer_.size() + 1)) return std::exchange(buffer_, "");
    }
    size_t size = end + 4;
    const size_t cl = buffer_.find("Content-Length: ");
    if (cl != std::string::npos && cl < end) size += std::stoul(buffer_.substr(cl + 16));
    Fill(size);
    std::string head = buffer_.substr(0, size);
    buffer_.erase(0, size);
    return head;
  }
  bool Upgrade(std::string path = "/", std::string extra = "") {
    Write("GET " + path + " HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: " + std::string(kKey) + "\r\nSec-WebSocket-Version: 13\r\n" + extra +
          "\r\n");
    return ReadHttp().rfind("HTTP/1.1 101 ", 0) == 0;
  }
  struct Frame {
    uint8_t first = 0;
    std::string payload;
  };
  // The next server frame, or nullopt on EOF/timeout.
  std::optional<Frame> ReadFrame() {
    if (!Fill(2)) return std::nullopt;
    const uint8_t len = static_cast<uint8_t>(buffer_[1]) & 0x7f;
    size_t header = 2 + (len == 126 ? 2 : len == 127 ? 8 : 0);
    if (!Fill(header)) return std::nullopt;
    uint64_t n = len;
    if (len >= 126) {
      n = 0;
      for (size_t i = 2; i < header; ++i) n = n << 8 | static_cast<uint8_t>(buffer_[i]);
    }
    if (!Fill(header + n)) return std::nullopt;
    Frame f{static_cast<uint8_t>(buffer_[0]), buffer_.substr(header, n)};
    buffer_.erase(0, header + n);
    return f;
  }
  // True when the server closed the TCP connection (EOF) with nothing more.
  bool AtEof() {
    char c;
    return buffer_.empty() && recv(fd_, &c, 1, 0) == 0;
  }
  bool connected() const { return connected_; }

 private:
  int fd_;
  bool connected_ = false;
  std::string buffer_;
};

uint16_t CloseCode(const Client::Frame& f) {
  return f.payload.size() < 2 ? ws::kCloseNoStatus
                              : static_cast<uint16_t>(static_cast<uint8_t>(f.payload[0]) << 8 |
                                                      static_cast<uint8_t>(f.payload[1]));
}

ws::WsHandler EchoHandler() {
  ws::WsHandler h;
  h.message = [](Request& r) { (void)r.connection().Send(r.id(), r.body()); };
  return h;
}

ws::WsOptions PageOptions() {
  ws::WsOptions o;
  o.http_page = "<html>chat</html>";
  return o;
}

TEST(WsServerTest, EchoesTextAndBinaryAfterASplitHandshake) {
  WsServer server({.loops = 1}, PageOptions());
  ASSERT_TRUE(server.Handle(std::string(WsServer::kAnyPath), EchoHandler()).ok());
  ASSERT_TRUE(server.StartInBackground("127.0.0.1:0").ok());
  Client c(server.port());
  const std::string request =
      "GET /any/path?x=1 HTTP/1.1\r\nhost: t\r\nupgrade: WebSocket\r\nconnection: keep-alive, "
      "upgrade\r\nsec-websocket-key: " + std::string(kKey) + "\r\nsec-websocket-version: 13\r\n\r\n";
  // Split into single bytes, with the first frame right behind the head.
  for (char ch : request) c.Write(std::string(1, ch));
  c.Write(ClientFrame(kFin | kOpText, "héllo"));
  const std::string head = c.ReadHttp();
  EXPECT_NE(head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), std::string::npos);
  std::optional<Client::Frame> f = c.ReadFrame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->first, kFin | kOpText);
  EXPECT_EQ(f->payload, "héllo");
  const std::string big(200000, 'b');
  c.Write(ClientFrame(kFin | kOpBinary, big));
  f = c.ReadFrame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->first, kFin | kOpBinary);
  EXPECT_EQ(f->payload, big);
  // Fragmented, with a ping in between: the pong comes first.
  c.Write(ClientFrame(kOpText, "frag") + ClientFrame(kFin | kOpPing, "p") +
          ClientFrame(kFin | kOpContinuation, "ment"));
  f = c.ReadFrame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->first, kFin | kOpPong);
  EXPECT_EQ(f->payload, "p");
  f = c.ReadFrame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload, "fragment");
}

TEST(WsServerTest, PlainHttpAndRefusalsAreHttpResponses) {
  WsServer server({.loops = 1}, PageOptions());
  ws::WsHandler h = EchoHandler();
  h.upgrade = [](Connection&, const ws::HttpRequest& r) -> std::optional<ws::HttpRefusal> {
    if (r.QueryParam("token") != "secret") return ws::HttpRefusal{401, "bad token", {}};
    return std::nullopt;
  };
  ASSERT_TRUE(server.Handle("/auth", h).ok());
  ASSERT_TRUE(server.StartInBackground("127.0.0.1:0").ok());
  {
    Client c(server.port());
    c.Write("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    const std::string r = c.ReadHttp();
    EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
    EXPECT_NE(r.find("Content-Type: text/html; charset=utf-8\r\n"), std::string::npos);
    EXPECT_NE(r.find("\r\n\r\n<html>chat</html>"), std::string::npos);
    EXPECT_TRUE(c.AtEof());
  }
  {
    Client c(server.port());
    c.Write("GET /other HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_EQ(c.ReadHttp().rfind("HTTP/1.1 404 ", 0), 0u);
    EXPECT_TRUE(c.AtEof());
  }
  {
    Client c(server.port());
    c.Write("garbage\r\n\r\n");
    EXPECT_EQ(c.ReadHttp().rfind("HTTP/1.1 400 ", 0), 0u);
    EXPECT_TRUE(c.AtEof());
  }
  {
    Client c(server.port());
    c.Write("GET /auth?token=secret HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: " + std::string(kKey) +
            "\r\nSec-WebSocket-Version: 7\r\n\r\n");
    const std::string r = c.ReadHttp();
    EXPECT_EQ(r.rfind("HTTP/1.1 426 ", 0), 0u);
    EXPECT_NE(r.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos);
    EXPECT_TRUE(c.AtEof());
  }
  {
    Client c(server.port());
    c.Write("GET /auth?token=wrong HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: " + std::string(kKey) +
            "\r\nSec-WebSocket-Version: 13\r\n\r\n");
    EXPECT_EQ(c.ReadHttp().rfind("HTTP/1.1 401 ", 0), 0u);
    EXPECT_TRUE(c.AtEof());
  }
  {
    Client c(server.port());
    EXPECT_TRUE(c.Upgrade("/auth?token=secret"));
    c.Write(ClientFrame(kFin | kOpText, "in"));
    std::optional<Client::Frame> f = c.ReadFrame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->payload, "in");
  }
}

TEST(WsServerTest, MiddlewareRunsBeforeTheHandler) {
  WsServer server({.loops = 1});
  ASSERT_TRUE(server.Use([](Request& r, const Next& next) {
                      if (r.body() == "blocked") {
                        (void)r.connection().Send(ws::kText, "no");
                        return;
                      }
                      next();
                    })
                  .ok());
  ASSERT_TRUE(server.Handle("/", EchoHandler()).ok());
  ASSERT_TRUE(server.StartInBackground("127.0.0.1:0").ok());
  Client c(server.port());
  ASSERT_TRUE(c.Upgrade());
  c.Write(ClientFrame(kFin | kOpText, "blocked") + ClientFrame(kFin | kOpText, "fine"));
  EXPECT_EQ(c.ReadFrame()->payload, "no");
  EXPECT_EQ(c.ReadFrame()->payload, "fine");
}

TEST(WsServerTest, CloseHandshakeFromThePeerEchoesTheCode) {
  Mutex mu;
  std::vector<uint16_t> codes;
  WsServer server({.loops = 1});
  ws::WsHandler h = EchoHandler();
  h.close = [&](ws::WsConnection, uint16_t code, std::string_view) {
    MutexLock lock(&mu);
    codes.push_back(code);
  };
  ASSERT_TRUE(server.Handle("/", h).ok());
  ASSERT_TRUE(server.StartInBackground("127.0.0.1:0").ok());
  Client c(server.port());
  ASSERT_TRUE(c.Upgrade());
  c.Write(ClientFrame(kFin | kOpClose, CloseBody(4001, "done")));
  std::optional<Client::Frame> f = c.ReadFrame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->first, kFin | kOpClose);
  EXPECT_EQ(CloseCode(*f), 4001);
  EXPECT_TRUE(c.AtEof());  // the server closes TCP first
  server.Stop();
  MutexLock lock(&mu);
  EXPECT_EQ(codes, std::vector<uint16_t>{4001});
}

TEST(WsServerTest, ServerCloseWaitsForThePeersClose) {
  WsServer server({.loops = 1});
  ws::WsHandler h;
  h.message = [](Request& r) { ws::WsConnection(r.connection()).Close(4002, "bye"); };
  ASSERT_TRUE(server.Handle("/", h).ok());
  ASSERT_TRUE(server.StartInBackground("127.0.0.1:0").ok());
  Client c(server.port());
  ASSERT_TRUE(c.Upgrade());
  c.Write(ClientFrame(kFin | kOpText, "close me") + ClientFrame(kFin | kOpText, "dropped"));
  std::optional<Client::Frame> f = c.ReadFrame();
  ASSERT_TRUE(f);
  EXPECT_EQ(CloseCode(*f), 4002);
  EXPECT_EQ(f->payload.substr(2), "bye");
  c.Write(ClientFrame(kFin | kOpClose, CloseBody(4002)));
  EXPECT_TRUE(c.AtEof());
}

TEST(WsServerTest, ProtocolErrorsCloseOnlyTheOffender) {
  WsServer server({.loops = 2});
  ASSERT_TRUE(server.Handle("/", EchoHandler()).ok());
  ASSERT_TRUE(server.StartInBackground("127.0.0.1:0").ok());
  Client good(server.port());
  ASSERT_TRUE(good.Upgrade());
  struct Case {
    std::string bytes;
    uint16_t code;
  };
  std::string huge = {static_cast<char>(kFin | kOpBinary), static_cast<char>(0xff)};
  huge += std::string("\x7f\xff\xff\xff\xff\xff\xff\xff", 8) + "mask";
  const Case cases[] = {
      {ClientFrame(kFin | kOpText, "x", false), ws::kCloseProtocolError},
      {huge, ws::kCloseMessageTooBig},
      {ClientFrame(kFin | kOpText, "\xff"), ws::kCloseInvalidPayload},
      {ClientFrame(kFin | 0x40 | kOpText, "x"), ws::kCloseProtocolError},
  };
  for (const Case& k : cases) {
    Client bad(server.port());
    ASSERT_TRUE(bad.Upgrade());
    bad.Write(k.bytes);
    std::optional<Client::Frame> f = bad.ReadFrame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->first, kFin | kOpClose);
    EXPECT_EQ(CloseCode(*f), k.code);
    EXPECT_TRUE(bad.AtEof());
    good.Write(ClientFrame(kFin | kOpText, "still here"));
    EXPECT_EQ(good.ReadFrame()->payload, "still here");
  }
}

TEST(WsServerTest, TopicsReachEverySubscriberOnEveryLoopOnce) {
  WsServer server({.loops = 2});
  std::atomic<int> opened{0};
  Notification all_open;
  constexpr int kClients = 4;
  ws::WsHandler h;
  h.open = [&](ws::WsConnection ws) {
    server.topics().Subscribe("room", ws.connection());
    if (++opened == kClients) all_open.Notify();
  };
  h.message = [&](Request& r) { server.topics().Publish("room", r.id(), r.body()); };
  ASSERT_TRUE(server.Handle("/", h).ok());
  ASSERT_TRUE(server.StartInBackground("127.0.0.1:0").ok());
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<Client>(server.port()));
    ASSERT_TRUE(clients.back()->Upgrade());
  }
  ASSERT_TRUE(all_open.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_EQ(server.topics().SubscriberCount("room"), size_t{kClients});
  clients[0]->Write(ClientFrame(kFin | kOpText, "one"));
  clients[1]->Write(ClientFrame(kFin | kOpBinary, "two"));
  for (auto& c : clients) {
    std::optional<Client::Frame> a = c->ReadFrame();
    std::optional<Client::Frame> b = c->ReadFrame();
    ASSERT_TRUE(a && b);
    std::vector<std::string> got = {a->payload, b->payload};
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, (std::vector<std::string>{"one", "two"}));
  }
  // A closed subscriber leaves the topic.
  clients[3]->Write(ClientFrame(kFin | kOpClose, CloseBody(1000)));
  EXPECT_TRUE(clients[3]->ReadFrame());
  EXPECT_TRUE(clients[3]->AtEof());
  clients[0]->Write(ClientFrame(kFin | kOpText, "three"));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(clients[i]->ReadFrame()->payload, "three");
}

TEST(WsServerTest, UnansweredPingsCloseTheConnection) {
  ws::WsOptions o;
  o.ping_interval = absl::Milliseconds(50);
  o.pong_timeout = absl::Milliseconds(50);
  WsServer server({.loops = 1}, o);
  ASSERT_TRUE(server.Handle("/", EchoHandler()).ok());
  ASSERT_TRUE(server.StartInBackground("127.0.0.1:0").ok());
  Client answers(server.port());
  ASSERT_TRUE(answers.Upgrade());
  Client silent(server.port());
  ASSERT_TRUE(silent.Upgrade());
  // Three pings answered: still open.
  for (int i = 0; i < 3; ++i) {
    std::optional<Client::Frame> f = answers.ReadFrame();
    ASSERT_TRUE(f);
    ASSERT_EQ(f->first, kFin | kOpPing);
    answers.Write(ClientFrame(kFin | kOpPong, f->payload));
  }
  std::optional<Client::Frame> ping = silent.ReadFrame();
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->first, kFin | kOpPing);
  EXPECT_TRUE(silent.AtEof());  // no pong: closed
  answers.Write(ClientFrame(kFin | kOpText, "alive"));
  std::optional<Client::Frame> f;
  do {
    f = answers.ReadFrame();
  } while (f && f->first == (kFin | kOpPing));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload, "alive");
}

TEST(WsServerTest, PermessageDeflateRoundTrip) {
  ws::WsOptions o;
  o.permessage_deflate = true;
  WsServer server({.loops = 1}, o);
  ASSERT_TRUE(server.Handle("/", EchoHandler()).ok());
  ASSERT_TRUE(server.StartInBackground("127.0.0.1:0").ok());
  Client c(server.port());
  c.Write("GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: " + std::string(kKey) + "\r\nSec-WebSocket-Version: 13\r\n"
          "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n");
  const std::string head = c.ReadHttp();
  ASSERT_NE(head.find("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
                      "client_no_context_takeover\r\n"),
            std::string::npos)
      << head;
  // "Hello" compressed (RFC 7692 7.2.3.1), RSV1 set.
  c.Write(ClientFrame(kFin | 0x40 | kOpText, "\xf2\x48\xcd\xc9\xc9\x07\x00"));
  std::optional<Client::Frame> f = c.ReadFrame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->first, kFin | kOpText);  // under deflate_min_size: sent plain
  EXPECT_EQ(f->payload, "Hello");
  // A bomb: 20 MiB of zeros, over the 16 MiB limit once inflated.
  auto deflater = ws::Deflater::Create(15);
  std::string bomb;
  ASSERT_TRUE((*deflater)->Compress(std::string(20 << 20, '\0'), true, bomb).ok());
  c.Write(ClientFrame(kFin | 0x40 | kOpBinary, bomb));
  f = c.ReadFrame();
  ASSERT_TRUE(f);
  EXPECT_EQ(CloseCode(*f), ws::kCloseMessageTooBig);
  EXPECT_TRUE(c.AtEof());
}

}  // namespace
}  // namespace netman
