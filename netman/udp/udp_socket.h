// Copyright netman authors.
//
// UdpSocket: one loop's UDP socket with batched I/O. It receives up to
// `batch_size` datagrams per system call (recvmmsg), hands each to its
// handler, and sends every datagram queued while they were handled with one
// system call (sendmmsg) at the end of the batch: replies produced while
// handling one batch leave as one batch. Datagrams queued outside a batch
// (a send from a timer or another thread) leave at the end of the loop
// iteration, again together. batch_size 1 reads and sends one datagram per
// system call (recvmsg/sendmsg), to measure what batching buys.
//
// Sockets are opened with SO_REUSEPORT, so a server binds one per loop to
// the same address and the kernel spreads peers over them (a peer's
// datagrams always reach the same socket).
//
// Sending never blocks and never buffers beyond one batch: a datagram the
// kernel refuses because the socket buffer is full is dropped and counted
// (UDP is lossy; the peer retries), as is one it rejects outright.
//
// Threading: loop thread only (Open() before the loop runs, or on it).
#ifndef NETMAN_UDP_UDP_SOCKET_H_
#define NETMAN_UDP_UDP_SOCKET_H_

#include <sys/socket.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "netman/base/unique_fd.h"
#include "netman/buffer/buffer.h"
#include "netman/net/event_loop.h"
#include "netman/net/io_handler.h"
#include "netman/net/socket_address.h"
#include "netman/udp/udp_counters.h"

namespace netman {

class UdpSocket final : public IoHandler {
 public:
  struct Options {
    int batch_size = 32;              // datagrams per receive call; 1..1024
    size_t max_datagram_bytes = 65507;  // larger ones arrive cut: `truncated`
    // SO_RCVBUF and SO_SNDBUF (the kernel caps them at net.core.rmem_max /
    // wmem_max); 0 keeps the kernel's default.
    size_t socket_buffer_bytes = 0;
  };
  // One received datagram, valid during the call. `truncated`: it was
  // longer than max_datagram_bytes and the kernel cut it.
  using DatagramHandler =
      std::function<void(const SocketAddress& peer, std::span<char> datagram, bool truncated)>;

  // Binds a non-blocking SO_REUSEPORT UDP socket to `address`. `counters`
  // must outlive the socket.
  static absl::StatusOr<std::unique_ptr<UdpSocket>> Open(EventLoop* loop,
                                                         const SocketAddress& address,
                                                         Options options,
                                                         UdpCounters* counters,
                                                         DatagramHandler handler);
  ~UdpSocket() override;

  // Starts receiving (registers with the loop).
  absl::Status Start();
  // Sends what is queued, then stops and closes the socket. Idempotent.
  void Close();

  const SocketAddress& local_address() const { return local_; }
  size_t max_datagram_bytes() const { return options_.max_datagram_bytes; }
  UdpCounters& counters() { return *counters_; }

  // Queues one datagram to `to` (at most max_datagram_bytes; `bytes` is
  // copied). Sent at the end of the current batch or loop iteration.
  void Queue(const SocketAddress& to, std::string_view bytes);
  // Sends everything queued now.
  void Flush();

  void OnIoEvent(uint32_t events) override;

 private:
  struct Outgoing {
    SocketAddress to;
    size_t offset;  // in out_
    size_t size;
  };

  UdpSocket(EventLoop* loop, UniqueFd fd, Options options, UdpCounters* counters,
            DatagramHandler handler);
  // One receive call; returns the number of datagrams handled (0: none).
  int ReceiveBatch();
  int ReceiveOne();
  void FlushOneByOne();

  EventLoop* const loop_;
  UniqueFd fd_;
  const Options options_;
  UdpCounters* const counters_;
  const DatagramHandler handler_;
  SocketAddress local_;
  bool registered_ = false;
  bool in_batch_ = false;     // handling received datagrams: Flush() follows
  bool flush_posted_ = false;
  // Receive side: batch_size buffers of max_datagram_bytes, and their
  // headers, allocated once.
  std::unique_ptr<char[]> in_;
  std::vector<struct mmsghdr> in_msgs_;
  std::vector<struct iovec> in_iovs_;
  std::vector<struct sockaddr_storage> in_names_;
  // Send side: queued datagrams (their bytes back to back in out_) and the
  // headers of one sendmmsg call.
  Buffer out_;
  std::vector<Outgoing> queue_;
  std::vector<struct mmsghdr> out_msgs_;
  std::vector<struct iovec> out_iovs_;
};

}  // namespace netman

#endif  // NETMAN_UDP_UDP_SOCKET_H_
