// Copyright netman authors.
#include "netman/udp/udp_socket.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "netman/base/status.h"
#include "netman/net/socket_ops.h"
#include "netman/poller/poller.h"

namespace netman {
namespace {

// Receive calls per readiness event before the loop attends to its other
// work (timers, posted tasks): bounds the time one busy socket holds it.
constexpr int kMaxReceiveCallsPerEvent = 16;
// The most datagrams one sendmmsg call takes (the kernel's UIO_MAXIOV).
constexpr size_t kMaxSendBatch = 1024;
constexpr int kMaxBatchSize = 1024;

bool WouldBlock(int error) { return error == EAGAIN || error == EWOULDBLOCK; }

}  // namespace

absl::StatusOr<std::unique_ptr<UdpSocket>> UdpSocket::Open(EventLoop* loop,
                                                           const SocketAddress& address,
                                                           Options options,
                                                           UdpCounters* counters,
                                                           DatagramHandler handler) {
  if (options.batch_size < 1 || options.batch_size > kMaxBatchSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("UDP batch size ", options.batch_size, " is not in 1..", kMaxBatchSize));
  }
  if (options.max_datagram_bytes == 0) {
    return absl::InvalidArgumentError("max_datagram_bytes must be positive");
  }
  UniqueFd fd(::socket(address.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                       IPPROTO_UDP));
  if (!fd) return ErrnoStatus(errno, "socket(SOCK_DGRAM)");
  int one = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    return ErrnoStatus(errno, "setsockopt(SO_REUSEPORT)");
  }
  if (options.socket_buffer_bytes > 0) {
    // Best effort: the kernel caps it (net.core.rmem_max / wmem_max).
    const int size = static_cast<int>(std::min<size_t>(options.socket_buffer_bytes, 1 << 30));
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  }
  if (::bind(fd.get(), address.sockaddr(), address.length()) != 0) {
    return ErrnoStatus(errno, absl::StrCat("bind ", address.ToString(), " (UDP)"));
  }
  absl::StatusOr<SocketAddress> local = LocalAddressOf(fd.get());
  if (!local.ok()) return local.status();
  std::unique_ptr<UdpSocket> socket(
      new UdpSocket(loop, std::move(fd), options, counters, std::move(handler)));
  socket->local_ = *local;
  return socket;
}

UdpSocket::UdpSocket(EventLoop* loop, UniqueFd fd, Options options, UdpCounters* counters,
                     DatagramHandler handler)
    : loop_(loop),
      fd_(std::move(fd)),
      options_(options),
      counters_(counters),
      handler_(std::move(handler)),
      in_(std::make_unique<char[]>(static_cast<size_t>(options.batch_size) *
                                   options.max_datagram_bytes)),
      in_msgs_(static_cast<size_t>(options.batch_size)),
      in_iovs_(static_cast<size_t>(options.batch_size)),
      in_names_(static_cast<size_t>(options.batch_size)) {
  for (size_t i = 0; i < in_msgs_.size(); ++i) {
    in_iovs_[i].iov_base = in_.get() + i * options_.max_datagram_bytes;
    in_iovs_[i].iov_len = options_.max_datagram_bytes;
    std::memset(&in_msgs_[i], 0, sizeof(in_msgs_[i]));
    in_msgs_[i].msg_hdr.msg_iov = &in_iovs_[i];
    in_msgs_[i].msg_hdr.msg_iovlen = 1;
    in_msgs_[i].msg_hdr.msg_name = &in_names_[i];
  }
}

UdpSocket::~UdpSocket() {
  if (registered_ && fd_.valid() && loop_->IsInLoopThread()) (void)loop_->RemoveFd(fd_.get());
}

absl::Status UdpSocket::Start() {
  absl::Status s = loop_->AddFd(fd_.get(), kPollReadable, this);
  if (s.ok()) registered_ = true;
  return s;
}

void UdpSocket::Close() {
  if (!fd_.valid()) return;
  Flush();
  if (registered_) (void)loop_->RemoveFd(fd_.get());
  registered_ = false;
  fd_.reset();
}

void UdpSocket::OnIoEvent(uint32_t events) {
  if ((events & (kPollReadable | kPollError)) == 0) return;
  for (int i = 0; i < kMaxReceiveCallsPerEvent && fd_.valid(); ++i) {
    const int n = options_.batch_size == 1 ? ReceiveOne() : ReceiveBatch();
    if (n <= 0) break;
    // Replies to this batch leave together.
    Flush();
    if (n < options_.batch_size) break;  // drained
  }
}

int UdpSocket::ReceiveBatch() {
  const unsigned batch = static_cast<unsigned>(options_.batch_size);
  for (unsigned i = 0; i < batch; ++i) {
    in_msgs_[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    in_msgs_[i].msg_hdr.msg_flags = 0;
  }
  const int n = ::recvmmsg(fd_.get(), in_msgs_.data(), batch, MSG_DONTWAIT, nullptr);
  if (n < 0) {
    if (!WouldBlock(errno) && errno != EINTR) {
      loop_->logger().Debug("UDP %s: recvmmsg: %s", local_.ToString(), std::strerror(errno));
    }
    return 0;
  }
  counters_->receive_calls.Add();
  counters_->datagrams_in.Add(static_cast<uint64_t>(n));
  in_batch_ = true;
  for (int i = 0; i < n; ++i) {
    const struct msghdr& h = in_msgs_[static_cast<size_t>(i)].msg_hdr;
    const SocketAddress peer = SocketAddress::FromSockaddr(
        static_cast<const struct sockaddr*>(h.msg_name), h.msg_namelen);
    const size_t len = std::min<size_t>(in_msgs_[static_cast<size_t>(i)].msg_len,
                                        options_.max_datagram_bytes);
    handler_(peer, std::span<char>(static_cast<char*>(h.msg_iov->iov_base), len),
             (h.msg_flags & MSG_TRUNC) != 0);
  }
  in_batch_ = false;
  return n;
}

int UdpSocket::ReceiveOne() {
  struct msghdr& h = in_msgs_[0].msg_hdr;
  h.msg_namelen = sizeof(struct sockaddr_storage);
  h.msg_flags = 0;
  const ssize_t n = ::recvmsg(fd_.get(), &h, MSG_DONTWAIT);
  if (n < 0) {
    if (!WouldBlock(errno) && errno != EINTR) {
      loop_->logger().Debug("UDP %s: recvmsg: %s", local_.ToString(), std::strerror(errno));
    }
    return 0;
  }
  counters_->receive_calls.Add();
  counters_->datagrams_in.Add();
  in_batch_ = true;
  const SocketAddress peer = SocketAddress::FromSockaddr(
      static_cast<const struct sockaddr*>(h.msg_name), h.msg_namelen);
  handler_(peer,
           std::span<char>(static_cast<char*>(h.msg_iov->iov_base),
                           std::min<size_t>(static_cast<size_t>(n), options_.max_datagram_bytes)),
           (h.msg_flags & MSG_TRUNC) != 0);
  in_batch_ = false;
  return 1;
}

void UdpSocket::Queue(const SocketAddress& to, std::string_view bytes) {
  if (!fd_.valid()) {
    counters_->send_drops.Add();
    return;
  }
  const size_t offset = out_.size();
  out_.Append(bytes);
  queue_.push_back(Outgoing{to, offset, bytes.size()});
  if (in_batch_ || flush_posted_) return;
  // Outside a batch: everything queued this iteration leaves together.
  flush_posted_ = true;
  loop_->Post([this] {
    flush_posted_ = false;
    Flush();
  });
}

void UdpSocket::Flush() {
  if (queue_.empty()) return;
  if (!fd_.valid()) {
    counters_->send_drops.Add(queue_.size());
  } else if (options_.batch_size == 1) {
    FlushOneByOne();
  } else {
    const size_t chunk = std::min(queue_.size(), kMaxSendBatch);
    if (out_msgs_.size() < chunk) {
      out_msgs_.resize(chunk);
      out_iovs_.resize(chunk);
    }
    char* const base = out_.mutable_data();
    size_t next = 0;
    while (next < queue_.size()) {
      const size_t count = std::min(queue_.size() - next, kMaxSendBatch);
      for (size_t i = 0; i < count; ++i) {
        Outgoing& o = queue_[next + i];
        out_iovs_[i].iov_base = base + o.offset;
        out_iovs_[i].iov_len = o.size;
        struct msghdr& h = out_msgs_[i].msg_hdr;
        std::memset(&h, 0, sizeof(h));
        h.msg_name = const_cast<struct sockaddr*>(o.to.sockaddr());
        h.msg_namelen = o.to.length();
        h.msg_iov = &out_iovs_[i];
        h.msg_iovlen = 1;
      }
      const int sent = ::sendmmsg(fd_.get(), out_msgs_.data(), static_cast<unsigned>(count), 0);
      counters_->send_calls.Add();
      if (sent > 0) {
        counters_->datagrams_out.Add(static_cast<uint64_t>(sent));
        next += static_cast<size_t>(sent);
        continue;
      }
      if (sent < 0 && errno == EINTR) continue;
      if (sent < 0 && WouldBlock(errno)) {
        counters_->send_drops.Add(queue_.size() - next);  // the socket buffer is full
        break;
      }
      // The first datagram was refused (e.g. an unreachable address): skip it.
      counters_->send_errors.Add();
      loop_->logger().Debug("UDP %s: sendmmsg to %s: %s", local_.ToString(),
                            queue_[next].to.ToString(), std::strerror(errno));
      ++next;
    }
  }
  queue_.clear();
  out_.Clear();
}

void UdpSocket::FlushOneByOne() {
  for (const Outgoing& o : queue_) {
    ssize_t n;
    do {
      n = ::sendto(fd_.get(), out_.data() + o.offset, o.size, 0, o.to.sockaddr(), o.to.length());
    } while (n < 0 && errno == EINTR);
    counters_->send_calls.Add();
    if (n >= 0) {
      counters_->datagrams_out.Add();
    } else if (WouldBlock(errno)) {
      counters_->send_drops.Add();
    } else {
      counters_->send_errors.Add();
    }
  }
}

}  // namespace netman
