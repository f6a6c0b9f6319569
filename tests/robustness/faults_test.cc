// Copyright netman authors.
//
// Faults on individual connections: abrupt resets (SO_LINGER 0) in the
// middle of a message and while replies are pending, a half-close with
// replies pending, a bad frame or throwing handler after valid messages in
// the same read, handlers that throw, and a handler that blocks its loop.
// Each closes or stalls only what it must: the server releases what the
// connection held, other connections (a canary) keep being served, and
// replies already produced for a peer that still listens are delivered.
#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "netman/client/client.h"
#include "tests/robustness/testing.h"

namespace netman::robustness {
namespace {

// Close reasons by the client's port, as OnClose reported them.
class CloseLog {
 public:
  void Install(TcpServer& server) {
    ASSERT_TRUE(server.OnClose([this](Connection& c, const absl::Status& reason) {
      std::lock_guard<std::mutex> lock(mu_);
      reasons_[c.peer_address().port()] = reason;
    }).ok());
  }
  std::optional<absl::Status> ReasonFor(uint16_t client_port,
                                        absl::Duration timeout = absl::Seconds(20)) {
    std::optional<absl::Status> found;
    WaitUntil(
        [&] {
          std::lock_guard<std::mutex> lock(mu_);
          auto it = reasons_.find(client_port);
          if (it != reasons_.end()) found = it->second;
          return found.has_value();
        },
        timeout);
    return found;
  }

 private:
  std::mutex mu_;
  std::map<uint16_t, absl::Status> reasons_;
};

class FaultsTest : public ServerTest {
 protected:
  void TearDown() override {
    Release();  // a blocked handler must not keep the server from stopping
    ServerTest::TearDown();
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }

  // Used by server hooks and handlers: members, so they outlive the server.
  CloseLog closes_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;   // guarded by mu_
  bool released_ = false;  // guarded by mu_
};

TEST_F(FaultsTest, ResetInTheMiddleOfAMessageReleasesEverything) {
  StartServer({}, [&](TcpServer& s) { closes_.Install(s); });
  auto canary = Canary::Start(port());
  ASSERT_TRUE(canary.ok()) << canary.status();
  const int descriptors_before = OpenDescriptors();

  constexpr int kAttackers = 50;
  const std::string frame = Frame(0, std::string(5000, 'r'));
  std::vector<uint16_t> ports;
  for (int i = 0; i < kAttackers; ++i) {
    auto fd = ConnectTo(port());
    ASSERT_TRUE(fd.ok()) << fd.status();
    ConnectionPtr server_side = ServerSideOf(fd->get());
    ASSERT_NE(server_side, nullptr);
    ASSERT_TRUE(WriteAll(fd->get(), frame.substr(0, 8 + 1000 + i)).ok());
    // The server holds the partial message...
    ASSERT_TRUE(WaitUntil([&] { return BufferCapacity(server_side) > 0; }, absl::Seconds(10)));
    ports.push_back(LocalPort(fd->get()));
    SetLingerZero(fd->get());
    fd->reset();  // ...when the peer resets.
  }
  for (int i = 0; i < kAttackers; ++i) {
    std::optional<absl::Status> reason = closes_.ReasonFor(ports[i]);
    ASSERT_TRUE(reason.has_value()) << "attacker " << i << " never closed";
    EXPECT_TRUE(absl::StrContains(reason->message(), "reset")) << *reason;
  }
  EXPECT_TRUE(WaitForConnectionCount(1));
  EXPECT_EQ(TotalBufferCapacity(), 0u);
  EXPECT_TRUE(WaitUntil([&] { return OpenDescriptors() <= descriptors_before; },
                        absl::Seconds(10)))
      << OpenDescriptors() << " descriptors open, " << descriptors_before << " before";
  EXPECT_TRUE((*canary)->ServesMore(20));
  EXPECT_TRUE(CanaryWasServed((*canary)->Stop(), 20, Relaxed(absl::Milliseconds(500))));
}

TEST_F(FaultsTest, ResetWhileRepliesArePendingReleasesEverything) {
  StartServer({}, [&](TcpServer& s) { closes_.Install(s); });
  auto canary = Canary::Start(port());
  ASSERT_TRUE(canary.ok()) << canary.status();
  const int descriptors_before = OpenDescriptors();

  constexpr int kAttackers = 6;
  // 8 MiB of echo requests: more than the kernel buffers of both sides
  // (tcp_wmem max 4 MiB here) can hold, so replies queue in the server.
  std::string requests;
  for (int i = 0; i < 128; ++i) requests += Frame(0, std::string(64 * 1024, 'a' + i % 26));
  std::vector<UniqueFd> attackers;
  std::vector<ConnectionPtr> server_side;
  for (int i = 0; i < kAttackers; ++i) {
    auto fd = ConnectTo(port(), /*receive_buffer=*/32 * 1024);
    ASSERT_TRUE(fd.ok()) << fd.status();
    server_side.push_back(ServerSideOf(fd->get()));
    ASSERT_NE(server_side.back(), nullptr);
    ASSERT_TRUE(WriteAll(fd->get(), requests).ok());
    attackers.push_back(std::move(*fd));
  }
  // Every attacker has replies queued that it will never read...
  for (int i = 0; i < kAttackers; ++i) {
    const ConnectionPtr& c = server_side[i];
    ASSERT_TRUE(WaitUntil(
        [&] { return OnLoop<size_t>(c, [&] { return c->output_bytes(); }).value_or(0) > 0; },
        absl::Seconds(20)))
        << "attacker " << i << " has no replies pending";
  }
  // ...when it resets.
  for (UniqueFd& fd : attackers) {
    SetLingerZero(fd.get());
    fd.reset();
  }
  EXPECT_TRUE(WaitForConnectionCount(1));
  for (int i = 0; i < kAttackers; ++i) {
    EXPECT_EQ(server_side[i]->state(), Connection::State::kClosed);
    EXPECT_EQ(BufferCapacity(server_side[i]), 0u) << "attacker " << i;
  }
  EXPECT_TRUE(WaitUntil([&] { return OpenDescriptors() <= descriptors_before; },
                        absl::Seconds(10)));
  EXPECT_TRUE((*canary)->ServesMore(20));
  EXPECT_TRUE(CanaryWasServed((*canary)->Stop(), 20, Relaxed(absl::Milliseconds(500))));
}

TEST_F(FaultsTest, HalfCloseWithRepliesPendingDeliversThemAllBeforeClosing) {
  StartServer({}, [&](TcpServer& s) { closes_.Install(s); });
  auto fd = ConnectTo(port(), /*receive_buffer=*/32 * 1024);
  ASSERT_TRUE(fd.ok()) << fd.status();
  ConnectionPtr server_side = ServerSideOf(fd->get());
  ASSERT_NE(server_side, nullptr);

  std::string expected;  // 2000 distinct 4 KiB requests, 8 MiB
  for (int i = 0; i < 2000; ++i) {
    std::string body(4096, static_cast<char>(i * 37));
    const std::string tag = absl::StrCat("#", i, "#");
    body.replace(0, tag.size(), tag);
    expected += Frame(0, body);
  }
  ASSERT_TRUE(WriteAll(fd->get(), expected).ok());
  ASSERT_EQ(::shutdown(fd->get(), SHUT_WR), 0);
  // The server has seen the EOF with replies still queued: closing, not
  // closed.
  ASSERT_TRUE(WaitUntil(
      [&] {
        return OnLoop<bool>(server_side, [&] {
                 return server_side->state() == Connection::State::kClosing &&
                        server_side->output_bytes() > 0;
               }).value_or(false);
      },
      absl::Seconds(20)));
  bool closed = false;
  const std::string got = ReadUntilClosed(fd->get(), absl::Seconds(60), &closed);
  EXPECT_TRUE(closed);
  ASSERT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected) << "replies differ";
  std::optional<absl::Status> reason = closes_.ReasonFor(LocalPort(fd->get()));
  ASSERT_TRUE(reason.has_value());
  EXPECT_TRUE(reason->ok()) << *reason;
}

TEST_F(FaultsTest, ThrowingHandlerClosesOnlyItsConnection) {
  StartServer({}, [&](TcpServer& s) {
    closes_.Install(s);
    ASSERT_TRUE(s.AddRouter(2, [](Request&) { throw std::runtime_error("boom"); }).ok());
    ASSERT_TRUE(s.AddRouter(3, [](Request&) { throw 42; }).ok());
  });
  auto canary = Canary::Start(port());
  ASSERT_TRUE(canary.ok()) << canary.status();
  const int descriptors_before = OpenDescriptors();
  for (int i = 0; i < 100; ++i) {
    auto c = Client::Connect("127.0.0.1", port());
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_TRUE((*c)->Send(0, "before").ok());
    auto m = (*c)->Receive(absl::Seconds(20));
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->body, "before");
    ASSERT_TRUE((*c)->Send(i % 2 == 0 ? 2 : 3, "").ok());
    EXPECT_TRUE((*c)->WaitForClose(absl::Seconds(20)).ok()) << i;
    std::optional<absl::Status> reason = closes_.ReasonFor((*c)->local_port());
    ASSERT_TRUE(reason.has_value());
    EXPECT_EQ(reason->code(), absl::StatusCode::kInternal) << *reason;
    EXPECT_EQ(reason->message(), i % 2 == 0 ? "handler for message id 2 threw: boom"
                                            : "handler for message id 3 threw");
  }
  EXPECT_TRUE(sink_->WaitFor("closed: INTERNAL: handler for message id 2 threw: boom",
                             absl::Seconds(20)));
  EXPECT_TRUE(WaitForConnectionCount(1));
  EXPECT_TRUE(WaitUntil([&] { return OpenDescriptors() <= descriptors_before; },
                        absl::Seconds(10)));
  EXPECT_TRUE((*canary)->ServesMore(20));
  EXPECT_TRUE(CanaryWasServed((*canary)->Stop(), 20, Relaxed(absl::Milliseconds(500))));
}

// A protocol error closes gracefully: replies to the valid messages that
// arrived in the same read as the bad frame still go out, so what a client
// receives does not depend on TCP segmentation. (Before c130d6b they were
// dropped; found by this suite.)
TEST_F(FaultsTest, RepliesBeforeAnOversizeFrameInTheSameReadAreDelivered) {
  ServerOptions options;
  options.max_body = 1024;
  StartServer(options);
  auto fd = ConnectTo(port());
  ASSERT_TRUE(fd.ok()) << fd.status();
  // One write, one segment on loopback, one read on the server.
  const std::string wire = Frame(0, "accepted") + Header(5000);
  ASSERT_TRUE(WriteAll(fd->get(), wire).ok());
  bool closed = false;
  const std::string got = ReadUntilClosed(fd->get(), absl::Seconds(20), &closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(got, Frame(0, "accepted"));
}

TEST_F(FaultsTest, RepliesBeforeAThrowingHandlerInTheSameReadAreDelivered) {
  StartServer({}, [](TcpServer& s) {
    ASSERT_TRUE(s.AddRouter(2, [](Request&) { throw std::runtime_error("boom"); }).ok());
  });
  auto fd = ConnectTo(port());
  ASSERT_TRUE(fd.ok()) << fd.status();
  ASSERT_TRUE(WriteAll(fd->get(), Frame(0, "one") + Frame(0, "two") + Frame(2, "")).ok());
  bool closed = false;
  const std::string got = ReadUntilClosed(fd->get(), absl::Seconds(20), &closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(got, Frame(0, "one") + Frame(0, "two"));
}

// The framework does not preempt or time out handlers: a handler that blocks
// stalls its own loop (every connection on it, and accepting when that is
// loop 0) and nothing else. Long work belongs on another thread, which
// answers with Connection::Send() (safe from any thread).
TEST_F(FaultsTest, BlockingHandlerStallsOnlyItsOwnLoop) {
  ServerOptions options;
  options.loops = 2;
  StartServer(options, [&](TcpServer& s) {
    ASSERT_TRUE(s.AddRouter(3, [this](Request& r) {
      std::unique_lock<std::mutex> lock(mu_);
      entered_ = true;
      cv_.notify_all();
      // Bounded, so a failing test cannot hang forever.
      cv_.wait_for(lock, std::chrono::seconds(60), [this] { return released_; });
      (void)r.connection().Send(3, "unblocked");
    }).ok());
  });
  // Clients until two sit on different loops, and a third shares the
  // blocked one's loop.
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<EventLoop*> loops;
  int blocked = -1, other = -1, neighbour = -1;
  for (int i = 0; i < 12 && neighbour < 0; ++i) {
    auto c = Client::Connect("127.0.0.1", port());
    ASSERT_TRUE(c.ok()) << c.status();
    ConnectionPtr server_side = ServerSideOf((*c)->fd());
    ASSERT_NE(server_side, nullptr);
    clients.push_back(std::move(*c));
    loops.push_back(server_side->loop());
    const int k = static_cast<int>(clients.size()) - 1;
    if (blocked < 0) {
      blocked = k;
    } else if (other < 0 && loops[k] != loops[blocked]) {
      other = k;
    } else if (loops[k] == loops[blocked]) {
      neighbour = k;
    }
  }
  ASSERT_GE(other, 0);
  ASSERT_GE(neighbour, 0);

  ASSERT_TRUE(clients[blocked]->Send(3, "").ok());
  {
    std::unique_lock<std::mutex> lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, std::chrono::seconds(20), [this] { return entered_; }));
  }
  // The other loop serves at full speed while the handler blocks.
  for (int i = 0; i < 200; ++i) {
    const std::string body = absl::StrCat("other loop ", i);
    const absl::Time start = absl::Now();
    ASSERT_TRUE(clients[other]->Send(0, body).ok());
    auto m = clients[other]->Receive(absl::Seconds(10));
    ASSERT_TRUE(m.ok()) << i << ": " << m.status();
    EXPECT_EQ(m->body, body);
    EXPECT_LT(absl::Now() - start, Relaxed(absl::Milliseconds(500))) << i;
  }
  // A connection on the blocked loop waits (the documented cost)...
  ASSERT_TRUE(clients[neighbour]->Send(0, "neighbour").ok());
  EXPECT_TRUE(absl::IsDeadlineExceeded(
      clients[neighbour]->Receive(absl::Milliseconds(300)).status()));
  Release();
  // ...and loses nothing: once released, everyone is answered.
  auto unblocked = clients[blocked]->Receive(absl::Seconds(20));
  ASSERT_TRUE(unblocked.ok()) << unblocked.status();
  EXPECT_EQ(unblocked->body, "unblocked");
  auto neighbour_reply = clients[neighbour]->Receive(absl::Seconds(20));
  ASSERT_TRUE(neighbour_reply.ok()) << neighbour_reply.status();
  EXPECT_EQ(neighbour_reply->body, "neighbour");
  ASSERT_TRUE(clients[blocked]->Send(0, "after").ok());
  auto after = clients[blocked]->Receive(absl::Seconds(20));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->body, "after");
}

}  // namespace
}  // namespace netman::robustness
