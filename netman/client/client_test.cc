// Copyright netman authors.
#include "netman/client/client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "netman/base/unique_fd.h"
#include "netman/buffer/buffer.h"
#include "netman/codec/default_packer.h"
#include "netman/codec/packer.h"

namespace netman {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kLong = absl::Seconds(10);  // never expected to pass
constexpr absl::Duration kShort = absl::Milliseconds(50);

// The DefaultPacker frame for (id, body).
std::string Frame(uint32_t id, std::string_view body) {
  Buffer out;
  DefaultPacker().Encode(id, body, out);
  return std::string(out.readable());
}

// A body whose bytes depend on their position, so reordering shows.
std::string Pattern(size_t size) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    s[i] = static_cast<char>((i * 131 + i / 251) & 0xff);
  }
  return s;
}

bool WriteFully(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads until EOF or error; returns what arrived.
std::string ReadToEnd(int fd) {
  std::string all;
  char chunk[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return all;
    all.append(chunk, static_cast<size_t>(n));
  }
}

// A blocking listening socket on the loopback, port chosen by the kernel.
struct Listener {
  UniqueFd fd;
  uint16_t port = 0;
};

// Returns an empty Listener (fd invalid) when `family` or its loopback
// address is unavailable here.
Listener Listen(int family = AF_INET, int backlog = 16, bool listen = true) {
  Listener l;
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return l;
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_storage addr{};
  socklen_t length = 0;
  if (family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
    length = sizeof(*in6);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    length = sizeof(*in);
  }
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  if (::bind(fd.get(), sa, length) != 0) return l;
  if (listen && ::listen(fd.get(), backlog) != 0) return l;
  length = sizeof(addr);
  if (::getsockname(fd.get(), sa, &length) != 0) return l;
  l.port = ntohs(family == AF_INET6
                     ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                     : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  l.fd = std::move(fd);
  return l;
}

UniqueFd Accept(int listen_fd) {
  for (;;) {
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0 && errno == EINTR) continue;
    return UniqueFd(fd);
  }
}

// Makes the next close() of `fd` send a reset instead of a FIN.
void SetLingerZero(int fd) {
  linger l{};
  l.l_onoff = 1;
  l.l_linger = 0;
  ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)), 0);
}

// A connected client and the server's end of its connection, both driven
// from the test's own thread: the test writes on `server` and calls the
// client, so the order of events is fixed.
struct Pair {
  Listener listener;
  std::unique_ptr<Client> client;
  UniqueFd server;
};

Pair Connected(Client::Options options = Client::Options()) {
  Pair p;
  p.listener = Listen();
  EXPECT_TRUE(p.listener.fd.valid());
  if (!p.listener.fd.valid()) return p;
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect("127.0.0.1", p.listener.port, std::move(options));
  EXPECT_TRUE(client.ok()) << client.status();
  if (!client.ok()) return p;
  p.client = *std::move(client);
  p.server = Accept(p.listener.fd.get());
  EXPECT_TRUE(p.server.valid());
  return p;
}

// Serves the next `connections` connections accepted on a listener, one
// after the other, by calling `handler` on a thread of its own. The
// destructor unblocks whatever the thread is waiting for and joins it.
class ServerThread {
 public:
  using Handler = std::function<void(int fd)>;

  explicit ServerThread(Handler handler, int family = AF_INET,
                        int connections = 1)
      : listener_(Listen(family)), handler_(std::move(handler)) {
    if (listener_.fd.valid()) {
      thread_ = std::thread([this, connections] { Run(connections); });
    }
  }
  ~ServerThread() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      if (listener_.fd.valid()) ::shutdown(listener_.fd.get(), SHUT_RDWR);
      if (active_fd_ >= 0) ::shutdown(active_fd_, SHUT_RDWR);
    }
    if (thread_.joinable()) thread_.join();
  }

  bool ok() const { return listener_.fd.valid(); }
  uint16_t port() const { return listener_.port; }

 private:
  void Run(int connections) {
    for (int i = 0; i < connections; ++i) {
      UniqueFd fd = Accept(listener_.fd.get());
      if (!fd.valid()) return;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return;
        active_fd_ = fd.get();
      }
      handler_(fd.get());
      std::lock_guard<std::mutex> lock(mu_);
      active_fd_ = -1;
      fd.reset();
    }
  }

  Listener listener_;
  Handler handler_;
  std::mutex mu_;
  bool stopping_ = false;  // guarded by mu_
  int active_fd_ = -1;     // guarded by mu_
  std::thread thread_;
};

// Echoes every byte back until the client closes.
void Echo(int fd) {
  std::vector<char> chunk(64 << 10);
  for (;;) {
    const ssize_t n = ::recv(fd, chunk.data(), chunk.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    if (!WriteFully(fd,
                    std::string_view(chunk.data(), static_cast<size_t>(n)))) {
      return;
    }
  }
}

// ---------------------------------------------------------------------------
// Round trips through an echo server.

TEST(ClientTest, RoundTripsBodiesOfManySizes) {
  ServerThread server(Echo);
  ASSERT_TRUE(server.ok());
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect("127.0.0.1", server.port());
  ASSERT_TRUE(client.ok()) << client.status();
  uint32_t id = 1;
  for (size_t size :
       {size_t{0}, size_t{1}, size_t{64} << 10, size_t{8} << 20}) {
    SCOPED_TRACE(size);
    const std::string body = Pattern(size);
    ASSERT_TRUE((*client)->Send(id, body).ok());
    absl::StatusOr<ReceivedMessage> reply = (*client)->Receive(kLong);
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->id, id);
    EXPECT_EQ(reply->body.size(), body.size());
    EXPECT_TRUE(reply->body == body);
    ++id;
  }
}

TEST(ClientTest, ManySendsBeforeReceivingDoNotDeadlock) {
  // 64 x 256 KiB = 16 MiB sent before the first Receive: more than the
  // socket buffers hold both ways, so Send must read while it writes.
  ServerThread server(Echo);
  ASSERT_TRUE(server.ok());
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect("127.0.0.1", server.port());
  ASSERT_TRUE(client.ok()) << client.status();
  const std::string body = Pattern(256 << 10);
  for (uint32_t id = 0; id < 64; ++id) {
    ASSERT_TRUE((*client)->Send(id, body).ok());
  }
  for (uint32_t id = 0; id < 64; ++id) {
    absl::StatusOr<ReceivedMessage> reply = (*client)->Receive(kLong);
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->id, id);
    EXPECT_TRUE(reply->body == body);
  }
}

TEST(ClientTest, ConnectsOverIpv6Loopback) {
  ServerThread server(Echo, AF_INET6);
  if (!server.ok()) GTEST_SKIP() << "no IPv6 loopback here";
  for (std::string_view host : {"::1", "[::1]"}) {
    absl::StatusOr<std::unique_ptr<Client>> client =
        Client::Connect(host, server.port());
    if (host == "::1") {
      ASSERT_TRUE(client.ok()) << client.status();
      ASSERT_TRUE((*client)->Send(9, "over v6").ok());
      absl::StatusOr<ReceivedMessage> reply = (*client)->Receive(kLong);
      ASSERT_TRUE(reply.ok()) << reply.status();
      EXPECT_EQ(reply->id, 9u);
      EXPECT_EQ(reply->body, "over v6");
    } else {
      // The server serves one connection; the bracketed form must resolve
      // and connect too (the kernel completes it from the backlog).
      EXPECT_TRUE(client.ok()) << client.status();
    }
  }
}

TEST(ClientTest, ResolvesLocalhost) {
  ServerThread server(Echo);
  ASSERT_TRUE(server.ok());
  // "localhost" may resolve to ::1 first; the server is on 127.0.0.1 only,
  // so this also shows that every address is tried.
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect("localhost", server.port());
  if (!client.ok() && client.status().code() == absl::StatusCode::kNotFound) {
    GTEST_SKIP() << "localhost does not resolve here: " << client.status();
  }
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->Send(3, "hi").ok());
  absl::StatusOr<ReceivedMessage> reply = (*client)->Receive(kLong);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->body, "hi");
}

// A packer with a 2-byte big-endian length, no id, and a limit of 1000.
class TinyPacker : public Packer {
 public:
  explicit TinyPacker(bool declare_length = true)
      : declare_length_(declare_length) {}

  absl::Status Decode(std::string_view in, DecodeResult* result) const override {
    if (in.size() < 2) {
      *result = DecodeResult::NeedMore();
      return absl::OkStatus();
    }
    const uint32_t length =
        (static_cast<uint8_t>(in[0]) << 8) | static_cast<uint8_t>(in[1]);
    if (length > 1000) return absl::InvalidArgumentError("tiny frame too long");
    if (in.size() < 2 + length) {
      *result = declare_length_ ? DecodeResult::NeedMore(length)
                                : DecodeResult::NeedMore();
      return absl::OkStatus();
    }
    *result = DecodeResult::Complete(2 + length, 0, in.substr(2, length));
    return absl::OkStatus();
  }
  void Encode(uint32_t id, std::string_view body, Buffer& out) const override {
    const char header[2] = {static_cast<char>(body.size() >> 8),
                            static_cast<char>(body.size() & 0xff)};
    out.Append(header, 2);
    out.Append(body);
  }

 private:
  bool declare_length_;
};

TEST(ClientTest, UsesTheGivenPacker) {
  Client::Options options;
  options.packer = std::make_shared<TinyPacker>();
  Pair p = Connected(options);
  ASSERT_TRUE(p.client != nullptr && p.server.valid());
  ASSERT_TRUE(p.client->Send(77, "abc").ok());
  char got[5] = {};
  ASSERT_EQ(::recv(p.server.get(), got, sizeof(got), MSG_WAITALL), 5);
  EXPECT_EQ(std::string_view(got, 5), std::string_view("\0\3abc", 5));
  ASSERT_TRUE(WriteFully(p.server.get(), std::string_view("\0\2hi", 4)));
  absl::StatusOr<ReceivedMessage> m = p.client->Receive(kLong);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->id, 0u);
  EXPECT_EQ(m->body, "hi");
}

TEST(ClientTest, UndecodableBytesAreAStickyError) {
  Client::Options options;
  options.packer = std::make_shared<TinyPacker>();
  Pair p = Connected(options);
  ASSERT_TRUE(p.client != nullptr && p.server.valid());
  ASSERT_TRUE(WriteFully(p.server.get(), "\xff\xff"));
  absl::StatusOr<ReceivedMessage> m = p.client->Receive(kLong);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(m.status().message()),
              HasSubstr("tiny frame too long"));
  EXPECT_EQ(p.client->Receive(kLong).status(), m.status());
  // The socket itself still works.
  EXPECT_TRUE(p.client->Send(1, "x").ok());
}

// ---------------------------------------------------------------------------
// Framing on the receive side, with the test writing the server's bytes.

TEST(ClientTest, ReassemblesAMessageArrivingOneByteAtATime) {
  Pair p = Connected();
  ASSERT_TRUE(p.client != nullptr && p.server.valid());
  const std::string frame = Frame(7, "hello, world");
  for (size_t i = 0; i + 1 < frame.size(); ++i) {
    ASSERT_TRUE(WriteFully(p.server.get(), frame.substr(i, 1)));
    absl::StatusOr<ReceivedMessage> m = p.client->Receive(absl::ZeroDuration());
    EXPECT_EQ(m.status().code(), absl::StatusCode::kDeadlineExceeded) << i;
  }
  ASSERT_TRUE(WriteFully(p.server.get(), frame.substr(frame.size() - 1)));
  absl::StatusOr<ReceivedMessage> m = p.client->Receive(kLong);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->id, 7u);
  EXPECT_EQ(m->body, "hello, world");
}

TEST(ClientTest, OneReceiveCollectsManyTinyWrites) {
  // A server thread writes a frame one byte per send() with TCP_NODELAY, so
  // a single Receive sees it in many reads.
  const std::string body = Pattern(2000);
  ServerThread server([&body](int fd) {
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    const std::string frame = Frame(42, body);
    for (char c : frame) {
      if (!WriteFully(fd, std::string_view(&c, 1))) return;
    }
    ReadToEnd(fd);
  });
  ASSERT_TRUE(server.ok());
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect("127.0.0.1", server.port());
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<ReceivedMessage> m = (*client)->Receive(kLong);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->id, 42u);
  EXPECT_TRUE(m->body == body);
}

TEST(ClientTest, TwoMessagesInOneWriteComeFromTwoReceives) {
  Pair p = Connected();
  ASSERT_TRUE(p.client != nullptr && p.server.valid());
  ASSERT_TRUE(WriteFully(p.server.get(),
                         Frame(1, "first") + Frame(2, "") + Frame(3, "third")));
  absl::StatusOr<ReceivedMessage> m = p.client->Receive(kLong);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->id, 1u);
  EXPECT_EQ(m->body, "first");
  // The rest was read along with the first message: the next two come from
  // the client's buffer, with a zero timeout.
  int pending = -1;
  ASSERT_EQ(::ioctl(p.client->fd(), FIONREAD, &pending), 0);
  EXPECT_EQ(pending, 0);
  m = p.client->Receive(absl::ZeroDuration());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->id, 2u);
  EXPECT_EQ(m->body, "");
  m = p.client->Receive(absl::ZeroDuration());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->id, 3u);
  EXPECT_EQ(m->body, "third");
  EXPECT_EQ(p.client->Receive(absl::ZeroDuration()).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST(ClientTest, TimeoutKeepsPartialBytesForTheNextReceive) {
  Pair p = Connected();
  ASSERT_TRUE(p.client != nullptr && p.server.valid());
  EXPECT_EQ(p.client->Receive(absl::ZeroDuration()).status().code(),
            absl::StatusCode::kDeadlineExceeded);

  const std::string frame = Frame(5, "later");
  ASSERT_TRUE(
      WriteFully(p.server.get(), frame.substr(0, 3)));  // a split header
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<ReceivedMessage> m = p.client->Receive(kShort);
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(m.status().code(), absl::StatusCode::kDeadlineExceeded)
      << m.status();
  EXPECT_GE(waited, absl::ToChronoMilliseconds(kShort));

  ASSERT_TRUE(WriteFully(p.server.get(), frame.substr(3, 7)));  // header + 2
  EXPECT_EQ(p.client->Receive(kShort).status().code(),
            absl::StatusCode::kDeadlineExceeded);

  ASSERT_TRUE(WriteFully(p.server.get(), frame.substr(10)));
  m = p.client->Receive(kLong);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->id, 5u);
  EXPECT_EQ(m->body, "later");
}

// ---------------------------------------------------------------------------
// Closing, resets and limits.

TEST(ClientTest, OrderlyCloseIsUnavailableAfterBufferedMessages) {
  Pair p = Connected();
  ASSERT_TRUE(p.client != nullptr && p.server.valid());
  ASSERT_TRUE(WriteFully(p.server.get(), Frame(1, "last words")));
  p.server.reset();
  absl::StatusOr<ReceivedMessage> m = p.client->Receive(kLong);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->body, "last words");
  m = p.client->Receive(kLong);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(m.status().message(), "connection closed by peer");
  EXPECT_EQ(p.client->Receive(kLong).status(), m.status());  // and stays so
}

TEST(ClientTest, CloseInTheMiddleOfAMessageIsUnavailable) {
  Pair p = Connected();
  ASSERT_TRUE(p.client != nullptr && p.server.valid());
  ASSERT_TRUE(WriteFully(p.server.get(), Frame(1, "cut short").substr(0, 11)));
  p.server.reset();
  absl::StatusOr<ReceivedMessage> m = p.client->Receive(kLong);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(m.status().message()),
              StartsWith("connection closed by peer"));
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("11 bytes"));
}

TEST(ClientTest, ResetIsTheErrnoStatus) {
  Pair p = Connected();
  ASSERT_TRUE(p.client != nullptr && p.server.valid());
  SetLingerZero(p.server.get());
  p.server.reset();
  absl::StatusOr<ReceivedMessage> m = p.client->Receive(kLong);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("reset"));
}

TEST(ClientTest, SendToAClosedPeerFailsWithoutSigpipe) {
  Pair p = Connected();
  ASSERT_TRUE(p.client != nullptr && p.server.valid());
  p.server.reset();
  ASSERT_TRUE(p.client->WaitForClose(kLong).ok());
  // The first write after the FIN is accepted and draws a reset; a later one
  // fails with EPIPE or ECONNRESET. SIGPIPE would kill the test.
  absl::Status status;
  for (int i = 0; i < 1000 && status.ok(); ++i) {
    status = p.client->Send(1, "anyone there?");
  }
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), StartsWith("send: "));
}

TEST(ClientTest, DeclaredBodyOverMaxBodyIsAnErrorBeforeTheBodyArrives) {
  Client::Options options;
  options.max_body = 16;
  Pair p = Connected(options);
  ASSERT_TRUE(p.client != nullptr && p.server.valid());
  ASSERT_TRUE(WriteFully(p.server.get(), Frame(1, Pattern(16))));
  absl::StatusOr<ReceivedMessage> m = p.client->Receive(kLong);
  ASSERT_TRUE(m.ok()) << m.status();  // exactly max_body is fine
  EXPECT_EQ(m->body.size(), 16u);

  ASSERT_TRUE(WriteFully(p.server.get(),
                         Frame(2, Pattern(17)).substr(0, 8)));  // header only
  m = p.client->Receive(kLong);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("17"));
  // The connection is unusable for receiving from now on.
  ASSERT_TRUE(WriteFully(p.server.get(), Pattern(17) + Frame(3, "ok")));
  EXPECT_EQ(p.client->Receive(kLong).status(), m.status());
}

TEST(ClientTest, CompleteBodyOverMaxBodyIsAnError) {
  // A packer that never declares lengths: the limit applies to the decoded
  // message.
  Client::Options options;
  options.max_body = 4;
  options.packer = std::make_shared<TinyPacker>(/*declare_length=*/false);
  Pair p = Connected(options);
  ASSERT_TRUE(p.client != nullptr && p.server.valid());
  ASSERT_TRUE(WriteFully(p.server.get(), std::string_view("\0\5abcde", 7)));
  EXPECT_EQ(p.client->Receive(kLong).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(ClientTest, MaxBodyZeroIsUnlimited) {
  Client::Options options;
  options.max_body = 0;
  Pair p = Connected(options);
  ASSERT_TRUE(p.client != nullptr && p.server.valid());
  const std::string body = Pattern(1 << 20);
  std::thread writer(
      [&] { EXPECT_TRUE(WriteFully(p.server.get(), Frame(1, body))); });
  absl::StatusOr<ReceivedMessage> m = p.client->Receive(kLong);
  writer.join();
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_TRUE(m->body == body);
}

TEST(ClientTest, ShutdownWriteIsAHalfClose) {
  Pair p = Connected();
  ASSERT_TRUE(p.client != nullptr && p.server.valid());
  ASSERT_TRUE(p.client->Send(1, "bye").ok());
  ASSERT_TRUE(p.client->ShutdownWrite().ok());
  EXPECT_EQ(ReadToEnd(p.server.get()), Frame(1, "bye"));  // returns at EOF
  // The other direction still works.
  ASSERT_TRUE(WriteFully(p.server.get(), Frame(2, "see you")));
  absl::StatusOr<ReceivedMessage> m = p.client->Receive(kLong);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->body, "see you");
  EXPECT_FALSE(p.client->Send(3, "too late").ok());
}

TEST(ClientTest, WaitForCloseTimesOutWhileThePeerIsOpen) {
  Pair p = Connected();
  ASSERT_TRUE(p.client != nullptr && p.server.valid());
  ASSERT_TRUE(WriteFully(p.server.get(), Frame(1, "chatter")));
  EXPECT_EQ(p.client->WaitForClose(kShort).code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(p.client->WaitForClose(absl::ZeroDuration()).code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST(ClientTest, WaitForCloseDiscardsDataAndSeesTheClose) {
  Pair p = Connected();
  ASSERT_TRUE(p.client != nullptr && p.server.valid());
  ASSERT_TRUE(
      WriteFully(p.server.get(), Frame(1, "ignored") + Pattern(100 << 10)));
  p.server.reset();
  EXPECT_TRUE(p.client->WaitForClose(kLong).ok());
  EXPECT_TRUE(
      p.client->WaitForClose(absl::ZeroDuration()).ok());  // still closed
  EXPECT_EQ(p.client->Receive(kLong).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(ClientTest, WaitForCloseSeesAReset) {
  Pair p = Connected();
  ASSERT_TRUE(p.client != nullptr && p.server.valid());
  SetLingerZero(p.server.get());
  p.server.reset();
  EXPECT_TRUE(p.client->WaitForClose(kLong).ok());
}

TEST(ClientTest, CallsAfterCloseFail) {
  Pair p = Connected();
  ASSERT_TRUE(p.client != nullptr && p.server.valid());
  const uint16_t port = p.client->local_port();
  p.client->Close();
  EXPECT_EQ(p.client->fd(), -1);
  EXPECT_EQ(p.client->local_port(), port);
  EXPECT_EQ(p.client->Send(1, "x").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(p.client->SendRaw("x").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(p.client->Receive(kShort).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(p.client->ShutdownWrite().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(p.client->WaitForClose(kShort).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadToEnd(p.server.get()), "");  // the server sees EOF
}

TEST(ClientTest, SendRawWritesBytesAsTheyAre) {
  Pair p = Connected();
  ASSERT_TRUE(p.client != nullptr && p.server.valid());
  ASSERT_TRUE(p.client->SendRaw(std::string_view("\x01\0garbage", 9)).ok());
  ASSERT_TRUE(p.client->SendRaw("").ok());
  ASSERT_TRUE(p.client->ShutdownWrite().ok());
  EXPECT_EQ(ReadToEnd(p.server.get()), std::string_view("\x01\0garbage", 9));
}

// ---------------------------------------------------------------------------
// Connecting.

TEST(ClientTest, SocketPropertiesAndLocalPort) {
  Pair p = Connected();
  ASSERT_TRUE(p.client != nullptr && p.server.valid());
  sockaddr_in peer{};
  socklen_t length = sizeof(peer);
  ASSERT_EQ(::getpeername(p.server.get(), reinterpret_cast<sockaddr*>(&peer),
                          &length),
            0);
  EXPECT_EQ(p.client->local_port(), ntohs(peer.sin_port));
  EXPECT_NE(::fcntl(p.client->fd(), F_GETFD) & FD_CLOEXEC, 0);
  int nodelay = 0;
  length = sizeof(nodelay);
  ASSERT_EQ(
      ::getsockopt(p.client->fd(), IPPROTO_TCP, TCP_NODELAY, &nodelay, &length),
      0);
  EXPECT_NE(nodelay, 0);

  Client::Options options;
  options.tcp_nodelay = false;
  Pair q = Connected(options);
  ASSERT_TRUE(q.client != nullptr);
  length = sizeof(nodelay);
  ASSERT_EQ(
      ::getsockopt(q.client->fd(), IPPROTO_TCP, TCP_NODELAY, &nodelay, &length),
      0);
  EXPECT_EQ(nodelay, 0);
}

TEST(ClientTest, ConnectToAClosedPortIsAnError) {
  // Bound but not listening: the port is ours and refuses connections.
  Listener closed = Listen(AF_INET, 0, /*listen=*/false);
  ASSERT_TRUE(closed.fd.valid());
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect("127.0.0.1", closed.port);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(client.status().message()), HasSubstr("refused"));
  EXPECT_THAT(std::string(client.status().message()), HasSubstr("127.0.0.1"));
}

TEST(ClientTest, ConnectTimesOut) {
  // A listener with a full accept queue drops new SYNs, so the handshake
  // cannot finish within connect_timeout (the first retransmit comes after
  // about a second). With backlog 0 the queue holds one connection.
  Listener full = Listen(AF_INET, /*backlog=*/0);
  ASSERT_TRUE(full.fd.valid());
  Client::Options options;
  options.connect_timeout = kShort;
  std::vector<std::unique_ptr<Client>> queued;
  absl::Status status;
  std::chrono::steady_clock::duration waited{};
  for (int i = 0; i < 8 && status.ok(); ++i) {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::unique_ptr<Client>> client =
        Client::Connect("127.0.0.1", full.port, options);
    waited = std::chrono::steady_clock::now() - start;
    if (client.ok()) {
      queued.push_back(*std::move(client));
    } else {
      status = client.status();
    }
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_GE(waited, absl::ToChronoMilliseconds(kShort));
}

TEST(ClientTest, BadHostsAreErrors) {
  EXPECT_EQ(Client::Connect("", 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Client::Connect(std::string_view("a\0b", 3), 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace netman
