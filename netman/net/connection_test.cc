// Copyright netman authors.
//
// Connection over real TCP sockets on 127.0.0.1, driven one loop iteration at
// a time on the test thread. The peer (client) side is a plain non-blocking
// socket the test reads and writes between iterations. Focus: replies built
// in the loop's output scratch buffer during a read, sent with one write, and
// only the unsent tail kept by the connection.
#include "netman/testing/frames.h"
#include "netman/net/connection.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "netman/base/unique_fd.h"
#include "netman/buffer/buffer.h"
#include "netman/codec/default_packer.h"
#include "netman/net/event_loop.h"
#include "netman/net/socket_address.h"
#include "netman/net/socket_ops.h"

namespace netman {
namespace {

constexpr absl::Duration kDeadline = absl::Seconds(10);

using testing::Frame;

// Deterministic pseudo-random bytes, different for every seed.
std::string Body(uint32_t seed, size_t n) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 0x9e3779b9u;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s[i] = static_cast<char>(x);
  }
  return s;
}

struct Msg {
  uint32_t id;
  std::string body;
  bool operator==(const Msg& o) const { return id == o.id && body == o.body; }
};

// Splits a byte stream into frames; false if bytes are left over.
bool ParseFrames(std::string_view stream, std::vector<Msg>* out) {
  DefaultPacker packer;
  while (!stream.empty()) {
    DecodeResult r;
    if (!packer.Decode(stream, &r).ok() || !r.complete) return false;
    out->push_back({r.message.id, std::string(r.message.body)});
    stream.remove_prefix(r.consumed);
  }
  return true;
}

// The connection's protocol and events in one: decodes frames with
// DefaultPacker and passes each to on_message (default: echo), frames
// Send() with DefaultPacker. Records what tests check about the read path.
class TestHandler : public Protocol, public ConnectionEvents {
 public:
  explicit TestHandler(EventLoop* loop) : loop_(loop) {}

  // Called for each complete message; the default echoes it.
  std::function<void(Connection&, const Message&)> on_message;

  absl::Status Encode(uint32_t id, std::string_view body, Buffer& out) override {
    packer_.Encode(id, body, out);
    return absl::OkStatus();
  }
  void OnOpen(Connection&) override { ++opened_count; }

  absl::StatusOr<size_t> OnData(Connection& c, std::span<char> bytes) override {
    const std::string_view input(bytes.data(), bytes.size());
    ++on_data_calls;
    scratch_capacity_at_entry.push_back(loop_->output_scratch_capacity());
    connection_capacity_at_entry.push_back(c.buffer_capacity());
    const size_t output_at_entry = c.output_bytes();
    size_t queued_this_call = 0;
    size_t consumed = 0;
    for (;;) {
      DecodeResult r;
      absl::Status s = packer_.Decode(input.substr(consumed), &r);
      if (!s.ok()) return s;
      if (!r.complete) break;
      consumed += r.consumed;
      ++messages;
      if (on_message) {
        on_message(c, r.message);
      } else {
        absl::Status sent = c.Send(r.message.id, r.message.body);
        if (!sent.ok()) {
          ++send_failures;
        } else {
          // Replies produced during a read leave with one write at its end:
          // nothing may have been written yet.
          queued_this_call += DefaultPacker::kHeaderSize + r.message.body.size();
          if (c.output_bytes() != output_at_entry + queued_this_call) {
            ++mid_read_writes;
          }
        }
      }
    }
    return consumed;
  }

  void OnClosed(Connection& c, const absl::Status& reason) override {
    ++closed_count;
    close_reason = reason;
  }

  int on_data_calls = 0;
  int messages = 0;
  int send_failures = 0;
  int mid_read_writes = 0;
  std::vector<size_t> scratch_capacity_at_entry;
  std::vector<size_t> connection_capacity_at_entry;
  int opened_count = 0;
  int closed_count = 0;
  absl::Status close_reason;
  ConnectionContext context{.events = this};

 private:
  EventLoop* const loop_;
  DefaultPacker packer_;
};

class ConnectionTest : public ::testing::Test {
 protected:
  struct Peer {
    UniqueFd client;  // the test's end, non-blocking
    ConnectionPtr connection;
    TestHandler* handler = nullptr;
    std::string received;  // bytes the client has read so far
    bool eof = false;
  };

  void SetUp() override {
    auto loop = EventLoop::Create({.poller_factory = CreateDefaultPoller});
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = std::move(*loop);
    loop_->RunOnce(absl::ZeroDuration());  // bind the loop to this thread
    auto addr = SocketAddress::Parse("127.0.0.1:0");
    ASSERT_TRUE(addr.ok()) << addr.status();
    auto listener = CreateListenSocket(*addr, 16, /*reuse_port=*/false);
    ASSERT_TRUE(listener.ok()) << listener.status();
    listener_ = std::move(*listener);
    auto local = LocalAddressOf(listener_.get());
    ASSERT_TRUE(local.ok()) << local.status();
    listen_address_ = *local;
  }

  void TearDown() override {
    // Close whatever is still open and let OnClosed run, so nothing posted
    // outlives the test's objects.
    for (auto& peer : peers_) {
      peer->client.reset();
      if (peer->connection != nullptr &&
          peer->connection->state() != Connection::State::kClosed) {
        peer->connection->ForceClose(absl::CancelledError("test teardown"));
      }
    }
    for (int i = 0; i < 8; ++i) loop_->RunOnce(absl::ZeroDuration());
    peers_.clear();
  }

  // Connects a client to the listener, accepts the server side (non-blocking,
  // TCP_NODELAY, as the server does) and starts a Connection on it with a
  // new TestHandler. Buffer sizes of 0 keep the kernel defaults.
  Peer* Open(int client_rcvbuf = 0, int server_sndbuf = 0) {
    auto peer = std::make_unique<Peer>();
    UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    EXPECT_TRUE(client.valid()) << std::strerror(errno);
    if (!client.valid()) return nullptr;
    if (client_rcvbuf > 0) {
      // Before connect(), so the window scale matches.
      EXPECT_EQ(::setsockopt(client.get(), SOL_SOCKET, SO_RCVBUF, &client_rcvbuf,
                             sizeof(client_rcvbuf)),
                0);
    }
    if (::connect(client.get(), listen_address_.sockaddr(),
                  listen_address_.length()) != 0) {
      ADD_FAILURE() << "connect: " << std::strerror(errno);
      return nullptr;
    }
    const int one = 1;
    EXPECT_EQ(::setsockopt(client.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
    const int flags = ::fcntl(client.get(), F_GETFL);
    EXPECT_EQ(::fcntl(client.get(), F_SETFL, flags | O_NONBLOCK), 0);

    struct pollfd pfd = {listener_.get(), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(kDeadline))) != 1) {
      ADD_FAILURE() << "no connection to accept";
      return nullptr;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    UniqueFd server(::accept4(listener_.get(), reinterpret_cast<struct sockaddr*>(&ss),
                              &len, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!server.valid()) {
      ADD_FAILURE() << "accept4: " << std::strerror(errno);
      return nullptr;
    }
    if (server_sndbuf > 0) {
      // Nothing has been written on it yet.
      EXPECT_EQ(::setsockopt(server.get(), SOL_SOCKET, SO_SNDBUF, &server_sndbuf,
                             sizeof(server_sndbuf)),
                0);
    }
    EXPECT_TRUE(SetTcpNoDelay(server.get(), true).ok());
    handlers_.push_back(std::make_unique<TestHandler>(loop_.get()));
    peer->handler = handlers_.back().get();
    peer->client = std::move(client);
    peer->connection = std::make_shared<Connection>(
        loop_.get(), std::move(server), next_id_++,
        SocketAddress::FromSockaddr(reinterpret_cast<struct sockaddr*>(&ss), len),
        &peer->handler->context);
    absl::Status started = peer->connection->Start(ProtocolPtr::Shared(peer->handler));
    EXPECT_EQ(peer->handler->opened_count, 1);
    EXPECT_TRUE(started.ok()) << started;
    if (!started.ok()) return nullptr;
    peers_.push_back(std::move(peer));
    return peers_.back().get();
  }

  // Runs loop iterations until done() holds (done() may do peer I/O).
  ::testing::AssertionResult RunUntil(const std::function<bool()>& done) {
    const absl::Time deadline = absl::Now() + kDeadline;
    while (!done()) {
      if (absl::Now() > deadline) {
        return ::testing::AssertionFailure() << "condition not reached in " << kDeadline;
      }
      loop_->RunOnce(absl::Milliseconds(1));
    }
    return ::testing::AssertionSuccess();
  }

  // Writes as much of `pending` as the client socket takes now.
  static void WriteSome(Peer& peer, std::string_view& pending) {
    while (!pending.empty()) {
      ssize_t n = ::send(peer.client.get(), pending.data(), pending.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          ADD_FAILURE() << "client send: " << std::strerror(errno);
          pending = {};
        }
        return;
      }
      pending.remove_prefix(static_cast<size_t>(n));
    }
  }

  // Reads what the client socket has now (up to `limit` bytes in total).
  static void ReadSome(Peer& peer, size_t limit = SIZE_MAX) {
    char buf[65536];
    while (!peer.eof && peer.received.size() < limit) {
      const size_t want = std::min(sizeof(buf), limit - peer.received.size());
      ssize_t n = ::recv(peer.client.get(), buf, want, MSG_DONTWAIT);
      if (n > 0) {
        peer.received.append(buf, static_cast<size_t>(n));
      } else if (n == 0) {
        peer.eof = true;
      } else {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          ADD_FAILURE() << "client recv: " << std::strerror(errno);
          peer.eof = true;
        }
        return;
      }
    }
  }

  // Writes all of `bytes` from the peer, running the loop in between.
  ::testing::AssertionResult PeerWrite(Peer& peer, std::string_view bytes) {
    WriteSome(peer, bytes);
    return RunUntil([&] {
      WriteSome(peer, bytes);
      return bytes.empty();
    });
  }

  // Reads until the peer has `size` bytes in total (or EOF).
  ::testing::AssertionResult PeerReadUntil(Peer& peer, size_t size) {
    return RunUntil([&] {
      ReadSome(peer);
      return peer.eof || peer.received.size() >= size;
    });
  }

  // Closes the client and waits for the server side's OnClosed.
  void CloseClientAndExpectOrderlyClose(Peer& peer) {
    peer.client.reset();
    ASSERT_TRUE(RunUntil([&] { return peer.handler->closed_count > 0; }));
    for (int i = 0; i < 4; ++i) loop_->RunOnce(absl::ZeroDuration());
    EXPECT_EQ(peer.handler->closed_count, 1);
    EXPECT_TRUE(peer.handler->close_reason.ok()) << peer.handler->close_reason;
    EXPECT_EQ(peer.connection->state(), Connection::State::kClosed);
    EXPECT_EQ(peer.connection->buffer_capacity(), 0u);
  }

  DefaultPacker packer_;
  std::vector<std::unique_ptr<TestHandler>> handlers_;
  std::unique_ptr<EventLoop> loop_;
  UniqueFd listener_;
  SocketAddress listen_address_;
  std::vector<std::unique_ptr<Peer>> peers_;
  uint64_t next_id_ = 1;
};

// 16 pipelined frames in one write: 16 replies, byte-exact and in order,
// built in the (lent) loop scratch and written at the end of the read; the
// connection keeps nothing afterwards and the loop keeps its scratch.
TEST_F(ConnectionTest, PipelinedBatchEchoesInOrderAndKeepsNoBuffers) {
  Peer* p = Open();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(loop_->output_scratch_capacity(), 0u);  // fresh loop

  // Warm-up: one message makes the loop's scratch exist.
  const std::string warm = Frame(7, "warm-up");
  ASSERT_TRUE(PeerWrite(*p, warm));
  ASSERT_TRUE(PeerReadUntil(*p, warm.size()));
  EXPECT_EQ(p->received, warm);
  const size_t scratch = loop_->output_scratch_capacity();
  ASSERT_GT(scratch, 0u);
  EXPECT_EQ(p->connection->buffer_capacity(), 0u);
  EXPECT_EQ(p->connection->output_bytes(), 0u);
  p->received.clear();
  p->handler->scratch_capacity_at_entry.clear();
  p->handler->connection_capacity_at_entry.clear();

  std::string batch;
  std::vector<Msg> sent;
  for (uint32_t i = 0; i < 16; ++i) {
    sent.push_back({100 + i, Body(i, 100 + 97 * i)});
    batch += Frame(sent.back().id, sent.back().body);
  }
  ASSERT_EQ(::send(p->client.get(), batch.data(), batch.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(batch.size()));
  ASSERT_TRUE(PeerReadUntil(*p, batch.size()));
  for (int i = 0; i < 4; ++i) loop_->RunOnce(absl::ZeroDuration());
  ReadSome(*p);

  EXPECT_EQ(p->received.size(), batch.size());
  EXPECT_TRUE(p->received == batch) << "reply bytes differ from the requests";
  std::vector<Msg> replies;
  EXPECT_TRUE(ParseFrames(p->received, &replies));
  EXPECT_EQ(replies, sent);
  EXPECT_EQ(p->handler->messages, 17);
  EXPECT_EQ(p->handler->send_failures, 0);
  EXPECT_EQ(p->handler->mid_read_writes, 0) << "a reply was written before the read ended";
  // While the handler ran, the connection held the loop's scratch.
  ASSERT_FALSE(p->handler->scratch_capacity_at_entry.empty());
  for (size_t i = 0; i < p->handler->scratch_capacity_at_entry.size(); ++i) {
    EXPECT_EQ(p->handler->scratch_capacity_at_entry[i], 0u) << "read " << i;
    EXPECT_GE(p->handler->connection_capacity_at_entry[i], scratch) << "read " << i;
  }
  EXPECT_EQ(p->connection->buffer_capacity(), 0u);
  EXPECT_EQ(p->connection->output_bytes(), 0u);
  EXPECT_GE(loop_->output_scratch_capacity(), scratch);
  EXPECT_LE(loop_->output_scratch_capacity(), EventLoop::kMaxRetainedOutputScratch);
  EXPECT_FALSE(p->eof);

  CloseClientAndExpectOrderlyClose(*p);
}

// The peer sends several MiB of requests but does not read: the replies the
// kernel will not take stay in the connection (its own buffer, about the
// size of the unsent tail), the loop keeps its scratch, and once the peer
// reads it gets every reply byte in order.
TEST_F(ConnectionTest, PeerNotReadingKeepsOnlyUnsentTailThenDeliversAll) {
  Peer* p = Open(/*client_rcvbuf=*/16 * 1024, /*server_sndbuf=*/16 * 1024);
  ASSERT_NE(p, nullptr);
  int sndbuf = 0;
  socklen_t optlen = sizeof(sndbuf);
  ASSERT_EQ(::getsockopt(p->connection->native_handle(), SOL_SOCKET, SO_SNDBUF,
                         &sndbuf, &optlen),
            0);
  EXPECT_LE(sndbuf, 64 * 1024);

  constexpr int kMessages = 128;
  constexpr int kPerBatch = 8;
  std::vector<std::string> batches;
  std::string all;
  for (int b = 0; b < kMessages / kPerBatch; ++b) {
    std::string batch;
    for (int i = 0; i < kPerBatch; ++i) {
      const uint32_t id = static_cast<uint32_t>(b * kPerBatch + i);
      batch += Frame(id, Body(1000 + id, 32 * 1024 - 13 * (id % 11)));
    }
    all += batch;
    batches.push_back(std::move(batch));
  }
  ASSERT_GT(all.size(), 4u * 1000 * 1000);

  // Send every batch; the client never reads.
  for (const std::string& batch : batches) ASSERT_TRUE(PeerWrite(*p, batch));
  ASSERT_TRUE(RunUntil([&] { return p->handler->messages == kMessages; }));
  for (int i = 0; i < 4; ++i) loop_->RunOnce(absl::ZeroDuration());

  Connection& c = *p->connection;
  const size_t queued = c.output_bytes();
  EXPECT_GT(queued, 0u) << "the kernel took several MiB for a peer that does not read";
  EXPECT_GT(queued, all.size() / 2);
  EXPECT_LE(queued, all.size());
  // Its own buffer for the unsent tail (plus growth), not a retained scratch.
  EXPECT_GT(c.buffer_capacity(), 0u);
  EXPECT_LE(c.buffer_capacity(), 2 * queued + 64 * 1024)
      << "queued " << queued << " bytes";
  // The loop got its scratch back.
  EXPECT_GT(loop_->output_scratch_capacity(), 0u);
  EXPECT_LE(loop_->output_scratch_capacity(), EventLoop::kMaxRetainedOutputScratch);
  EXPECT_EQ(c.state(), Connection::State::kOpen);
  EXPECT_EQ(p->handler->mid_read_writes, 0);
  EXPECT_EQ(p->handler->send_failures, 0);

  // Now the peer reads everything, a bounded amount per iteration.
  ASSERT_TRUE(RunUntil([&] {
    ReadSome(*p, std::min(all.size(), p->received.size() + 64 * 1024));
    return p->eof || p->received.size() >= all.size();
  }));
  for (int i = 0; i < 4; ++i) loop_->RunOnce(absl::ZeroDuration());
  ReadSome(*p);
  ASSERT_EQ(p->received.size(), all.size());
  if (p->received != all) {
    size_t i = 0;
    while (p->received[i] == all[i]) ++i;
    FAIL() << "reply bytes differ from the requests at offset " << i;
  }
  std::vector<Msg> replies;
  EXPECT_TRUE(ParseFrames(p->received, &replies));
  ASSERT_EQ(replies.size(), static_cast<size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) EXPECT_EQ(replies[i].id, static_cast<uint32_t>(i));

  EXPECT_EQ(c.output_bytes(), 0u);
  EXPECT_EQ(c.buffer_capacity(), 0u);
  EXPECT_GT(loop_->output_scratch_capacity(), 0u);
  CloseClientAndExpectOrderlyClose(*p);
}

// Connection A's handler also sends each message to connection B while A is
// inside its read (and so holds the loop's scratch). B's peer gets exactly
// those messages plus its own echoes, each stream intact and in order; A's
// peer gets only its echoes. Both orders of A's and B's reads in one
// iteration are exercised.
TEST_F(ConnectionTest, SendToAnotherConnectionDuringReadIsNotMixedUp) {
  Peer* a = Open();
  ASSERT_NE(a, nullptr);
  Peer* b = Open();
  ASSERT_NE(b, nullptr);
  Connection* b_connection = b->connection.get();
  int forward_failures = 0;
  a->handler->on_message = [&](Connection& c, const Message& m) {
    if (!c.Send(m.id, m.body).ok()) ++forward_failures;
    if (!b_connection->Send(m.id, m.body).ok()) ++forward_failures;
  };

  // B's reads, when they follow A's in the same iteration, see A after its
  // read: its replies went out with the read's own write, so nothing of A's
  // is left waiting for the end of the iteration.
  size_t a_output_seen_by_b = 0;
  Connection* a_connection = a->connection.get();
  b->handler->on_message = [&](Connection& c, const Message& m) {
    a_output_seen_by_b = std::max(a_output_seen_by_b, a_connection->output_bytes());
    if (!c.Send(m.id, m.body).ok()) ++forward_failures;
  };

  std::vector<Msg> a_sent;
  std::vector<Msg> b_sent;
  size_t b_expected_bytes = 0;
  for (int round = 0; round < 2; ++round) {
    std::string a_batch;
    std::string b_batch;
    for (uint32_t i = 0; i < 16; ++i) {
      const uint32_t id = 1000 + static_cast<uint32_t>(round) * 100 + i;
      a_sent.push_back({id, Body(id, 50 + 211 * i)});
      a_batch += Frame(id, a_sent.back().body);
    }
    for (uint32_t i = 0; i < 8; ++i) {
      const uint32_t id = 2000 + static_cast<uint32_t>(round) * 100 + i;
      b_sent.push_back({id, Body(id, 70 + 173 * i)});
      b_batch += Frame(id, b_sent.back().body);
    }
    b_expected_bytes += a_batch.size() + b_batch.size();
    // Both writes land before the next iteration: round 0 makes A readable
    // first, round 1 makes B readable first.
    Peer* first = round == 0 ? a : b;
    Peer* second = round == 0 ? b : a;
    const std::string& first_batch = round == 0 ? a_batch : b_batch;
    const std::string& second_batch = round == 0 ? b_batch : a_batch;
    ASSERT_EQ(::send(first->client.get(), first_batch.data(), first_batch.size(),
                     MSG_NOSIGNAL),
              static_cast<ssize_t>(first_batch.size()));
    ASSERT_EQ(::send(second->client.get(), second_batch.data(), second_batch.size(),
                     MSG_NOSIGNAL),
              static_cast<ssize_t>(second_batch.size()));
    size_t a_expected_bytes = 0;
    for (const Msg& m : a_sent) a_expected_bytes += DefaultPacker::kHeaderSize + m.body.size();
    ASSERT_TRUE(RunUntil([&] {
      ReadSome(*a);
      ReadSome(*b);
      return a->eof || b->eof ||
             (a->received.size() >= a_expected_bytes &&
              b->received.size() >= b_expected_bytes);
    })) << "round " << round;
  }
  for (int i = 0; i < 4; ++i) loop_->RunOnce(absl::ZeroDuration());
  ReadSome(*a);
  ReadSome(*b);
  EXPECT_EQ(forward_failures, 0);
  EXPECT_EQ(a_output_seen_by_b, 0u) << "A's replies were not written at the end of its read";
  EXPECT_FALSE(a->eof);
  EXPECT_FALSE(b->eof);

  std::vector<Msg> a_got;
  EXPECT_TRUE(ParseFrames(a->received, &a_got)) << "A's peer got a partial frame";
  EXPECT_EQ(a_got, a_sent);

  std::vector<Msg> b_got;
  EXPECT_TRUE(ParseFrames(b->received, &b_got)) << "B's peer got a partial frame";
  EXPECT_EQ(b->received.size(), b_expected_bytes);
  std::vector<Msg> b_got_from_a;
  std::vector<Msg> b_got_own;
  for (Msg& m : b_got) {
    if (m.id >= 1000 && m.id < 2000) {
      b_got_from_a.push_back(std::move(m));
    } else {
      b_got_own.push_back(std::move(m));
    }
  }
  EXPECT_EQ(b_got_from_a, a_sent);
  EXPECT_EQ(b_got_own, b_sent);

  EXPECT_EQ(a->connection->buffer_capacity(), 0u);
  EXPECT_EQ(b->connection->buffer_capacity(), 0u);
  EXPECT_EQ(a->connection->output_bytes(), 0u);
  EXPECT_EQ(b->connection->output_bytes(), 0u);
  EXPECT_GT(loop_->output_scratch_capacity(), 0u);
  EXPECT_EQ(a->handler->messages, 32);
  EXPECT_EQ(b->handler->messages, 16);
  CloseClientAndExpectOrderlyClose(*a);
  CloseClientAndExpectOrderlyClose(*b);
}

// Close() from the handler after echoing the 3rd of 5 pipelined messages:
// the peer gets exactly 3 replies, then EOF; OnClosed runs once, with OK.
TEST_F(ConnectionTest, CloseInHandlerDeliversEarlierRepliesThenEof) {
  Peer* p = Open();
  ASSERT_NE(p, nullptr);
  // Warm the scratch so the close path has a real scratch to give back.
  const std::string warm = Frame(1, "warm-up");
  ASSERT_TRUE(PeerWrite(*p, warm));
  ASSERT_TRUE(PeerReadUntil(*p, warm.size()));
  ASSERT_EQ(p->received, warm);
  p->received.clear();
  const size_t scratch = loop_->output_scratch_capacity();
  ASSERT_GT(scratch, 0u);

  int seen = 0;
  std::vector<absl::Status> send_results;
  p->handler->on_message = [&](Connection& c, const Message& m) {
    ++seen;
    send_results.push_back(c.Send(m.id, m.body));
    if (seen == 3) c.Close();
  };
  std::string batch;
  std::string expected;
  for (uint32_t i = 0; i < 5; ++i) {
    const std::string frame = Frame(10 + i, Body(i, 300 + 50 * i));
    batch += frame;
    if (i < 3) expected += frame;
  }
  ASSERT_EQ(::send(p->client.get(), batch.data(), batch.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(batch.size()));
  ASSERT_TRUE(RunUntil([&] {
    ReadSome(*p);
    return p->eof;
  }));
  ASSERT_TRUE(RunUntil([&] { return p->handler->closed_count > 0; }));
  for (int i = 0; i < 8; ++i) loop_->RunOnce(absl::ZeroDuration());

  EXPECT_EQ(p->received.size(), expected.size());
  EXPECT_TRUE(p->received == expected) << "the peer did not get exactly the first 3 replies";
  std::vector<Msg> replies;
  EXPECT_TRUE(ParseFrames(p->received, &replies));
  ASSERT_EQ(replies.size(), 3u);
  for (uint32_t i = 0; i < 3; ++i) EXPECT_EQ(replies[i].id, 10 + i);
  ASSERT_EQ(send_results.size(), 5u);  // all 5 arrived in one read
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(send_results[i].ok()) << send_results[i];
  for (int i = 3; i < 5; ++i) {
    EXPECT_EQ(send_results[i].code(), absl::StatusCode::kFailedPrecondition)
        << send_results[i];
  }
  EXPECT_EQ(p->handler->closed_count, 1);
  EXPECT_TRUE(p->handler->close_reason.ok()) << p->handler->close_reason;
  EXPECT_EQ(p->connection->state(), Connection::State::kClosed);
  EXPECT_EQ(p->connection->native_handle(), -1);
  EXPECT_EQ(p->connection->buffer_capacity(), 0u);
  EXPECT_EQ(p->connection->output_bytes(), 0u);
  // The scratch the connection borrowed for that read came back.
  EXPECT_GE(loop_->output_scratch_capacity(), scratch);
  EXPECT_LE(loop_->output_scratch_capacity(), EventLoop::kMaxRetainedOutputScratch);
}

// A 2 MiB reply (more than the loop keeps): delivered intact, and the loop
// does not keep the oversized scratch. A later small reply works and the
// loop keeps a (small) scratch again.
TEST_F(ConnectionTest, OversizedReplyIsDeliveredAndScratchIsNotRetained) {
  Peer* p = Open();
  ASSERT_NE(p, nullptr);
  constexpr size_t kBig = 2 * 1024 * 1024;
  static_assert(kBig > EventLoop::kMaxRetainedOutputScratch);
  const std::string big = Frame(42, Body(42, kBig));
  std::string_view pending = big;
  ASSERT_TRUE(RunUntil([&] {
    WriteSome(*p, pending);
    ReadSome(*p);
    return pending.empty() && (p->eof || p->received.size() >= big.size());
  }));
  for (int i = 0; i < 4; ++i) loop_->RunOnce(absl::ZeroDuration());
  ReadSome(*p);
  ASSERT_EQ(p->received.size(), big.size());
  EXPECT_TRUE(p->received == big) << "the 2 MiB reply differs from the request";
  EXPECT_EQ(p->handler->messages, 1);
  EXPECT_EQ(p->handler->mid_read_writes, 0);
  EXPECT_LE(loop_->output_scratch_capacity(), EventLoop::kMaxRetainedOutputScratch);
  EXPECT_EQ(p->connection->output_bytes(), 0u);
  EXPECT_EQ(p->connection->buffer_capacity(), 0u);

  // A small reply afterwards: correct, and the loop holds a scratch again.
  p->received.clear();
  const std::string small = Frame(43, "small");
  ASSERT_TRUE(PeerWrite(*p, small));
  ASSERT_TRUE(PeerReadUntil(*p, small.size()));
  EXPECT_EQ(p->received, small);
  EXPECT_GT(loop_->output_scratch_capacity(), 0u);
  EXPECT_LE(loop_->output_scratch_capacity(), EventLoop::kMaxRetainedOutputScratch);
  EXPECT_EQ(p->connection->buffer_capacity(), 0u);
  CloseClientAndExpectOrderlyClose(*p);
}

}  // namespace
}  // namespace netman
