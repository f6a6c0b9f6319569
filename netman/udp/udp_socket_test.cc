// Copyright netman authors.
//
// UdpSocket on one thread with a real loop: datagrams waiting in the kernel
// are received with one call per batch, replies queued while handling a
// batch leave with one call, and batch_size 1 makes it one call per
// datagram.
#include "netman/udp/udp_socket.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "netman/base/unique_fd.h"
#include "netman/net/event_loop.h"
#include "netman/poller/poller.h"

namespace netman {
namespace {

std::unique_ptr<EventLoop> NewLoop() {
  EventLoop::Options options;
  options.poller_factory = CreateDefaultPoller;
  auto loop = EventLoop::Create(std::move(options));
  EXPECT_TRUE(loop.ok()) << loop.status();
  return std::move(*loop);
}

// A peer socket bound to 127.0.0.1, connected to `to`.
UniqueFd Peer(const SocketAddress& to) {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  EXPECT_TRUE(fd.valid());
  EXPECT_EQ(::connect(fd.get(), to.sockaddr(), to.length()), 0);
  return fd;
}

std::string ReceiveFrom(int fd) {
  char buf[2048];
  const ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
  return n < 0 ? std::string("<none>") : std::string(buf, static_cast<size_t>(n));
}

class UdpSocketTest : public ::testing::Test {
 protected:
  void Open(int batch_size) {
    loop_ = NewLoop();
    auto socket = UdpSocket::Open(
        loop_.get(), *SocketAddress::Parse("127.0.0.1:0"),
        UdpSocket::Options{batch_size, 1024, 0}, &counters_,
        [this](const SocketAddress& peer, std::span<char> d, bool truncated) {
          seen_.emplace_back(d.data(), d.size());
          truncated_ += truncated;
          // Echo, queued: leaves when the batch ends.
          socket_->Queue(peer, std::string_view(d.data(), d.size()));
        });
    ASSERT_TRUE(socket.ok()) << socket.status();
    socket_ = std::move(*socket);
    ASSERT_TRUE(socket_->Start().ok());
  }
  std::unique_ptr<EventLoop> loop_;
  UdpCounters counters_;
  std::unique_ptr<UdpSocket> socket_;
  std::vector<std::string> seen_;
  int truncated_ = 0;
};

TEST_F(UdpSocketTest, DatagramsWaitingAreReceivedAndAnsweredInOneCallEach) {
  Open(/*batch_size=*/32);
  UniqueFd peer = Peer(socket_->local_address());
  for (int i = 0; i < 10; ++i) {
    const std::string d = absl::StrCat("d", i);
    ASSERT_EQ(::send(peer.get(), d.data(), d.size(), 0), static_cast<ssize_t>(d.size()));
  }
  loop_->RunOnce(absl::Seconds(5));
  ASSERT_EQ(seen_.size(), 10u);
  EXPECT_EQ(counters_.receive_calls.Get(), 1u);
  EXPECT_EQ(counters_.send_calls.Get(), 1u);
  EXPECT_EQ(counters_.datagrams_out.Get(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(ReceiveFrom(peer.get()), absl::StrCat("d", i));
}

TEST_F(UdpSocketTest, BatchSizeOneIsOneCallPerDatagram) {
  Open(/*batch_size=*/1);
  UniqueFd peer = Peer(socket_->local_address());
  for (int i = 0; i < 5; ++i) ASSERT_EQ(::send(peer.get(), "x", 1, 0), 1);
  while (seen_.size() < 5) loop_->RunOnce(absl::Seconds(5));
  EXPECT_EQ(counters_.receive_calls.Get(), 5u);
  EXPECT_EQ(counters_.send_calls.Get(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(ReceiveFrom(peer.get()), "x");
}

TEST_F(UdpSocketTest, ALongerDatagramArrivesMarkedTruncated) {
  Open(/*batch_size=*/4);
  UniqueFd peer = Peer(socket_->local_address());
  const std::string big(2000, 'b');  // over the 1024-byte limit
  ASSERT_EQ(::send(peer.get(), big.data(), big.size(), 0), 2000);
  loop_->RunOnce(absl::Seconds(5));
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].size(), 1024u);
  EXPECT_EQ(truncated_, 1);
}

TEST_F(UdpSocketTest, DatagramsQueuedOutsideABatchLeaveTogetherAtTheEndOfTheIteration) {
  Open(/*batch_size=*/8);
  UniqueFd peer = Peer(socket_->local_address());
  ASSERT_EQ(::send(peer.get(), "hi", 2, 0), 2);
  loop_->RunOnce(absl::Seconds(5));  // learns the peer's address
  ASSERT_EQ(ReceiveFrom(peer.get()), "hi");
  const SocketAddress* peer_address = nullptr;
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  ASSERT_EQ(::getsockname(peer.get(), reinterpret_cast<struct sockaddr*>(&ss), &len), 0);
  const SocketAddress to = SocketAddress::FromSockaddr(reinterpret_cast<struct sockaddr*>(&ss), len);
  peer_address = &to;
  const uint64_t calls = counters_.send_calls.Get();
  loop_->Post([&] {
    socket_->Queue(*peer_address, "one");
    socket_->Queue(*peer_address, "two");
  });
  loop_->RunOnce(absl::ZeroDuration());  // the task queues them
  loop_->RunOnce(absl::ZeroDuration());  // the posted flush sends them
  EXPECT_EQ(counters_.send_calls.Get(), calls + 1);
  EXPECT_EQ(ReceiveFrom(peer.get()), "one");
  EXPECT_EQ(ReceiveFrom(peer.get()), "two");
}

TEST_F(UdpSocketTest, AfterCloseQueuedDatagramsAreDroppedAndCounted) {
  Open(/*batch_size=*/8);
  const SocketAddress to = socket_->local_address();
  socket_->Close();
  socket_->Queue(to, "late");
  EXPECT_EQ(counters_.send_drops.Get(), 1u);
}

TEST(UdpSocketOptionsTest, BadOptionsAreRefused) {
  auto loop = NewLoop();
  UdpCounters counters;
  auto s = UdpSocket::Open(loop.get(), *SocketAddress::Parse("127.0.0.1:0"),
                           UdpSocket::Options{0, 1024, 0}, &counters, nullptr);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace netman
