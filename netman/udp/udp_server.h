// Copyright netman authors.
//
// UdpServer: a netman message server over UDP, the third facade over the
// server core (after TcpServer and the WebSocket server). The programming
// model is TcpServer's: the same Router, middleware, groups, hooks, stats,
// logging, loops and shutdown, and handlers get the same Request and
// Connection API (Send, Close, id, peer_address, user_data).
//
//   datagrams ─▶ UdpSocket (one per loop, SO_REUSEPORT, recvmmsg) ─▶ CheckDatagram
//     ─▶ the peer's session (SessionTable; a new one: ServerCore::AddConnection,
//        OnOpen) ─▶ Connection::DeliverReceived ─▶ DatagramProtocol (framed
//        protocol: Router) ─▶ replies ─▶ DatagramTransport ─▶ UdpSocket queue
//     ─▶ one sendmmsg for the whole batch
//
// Rules:
//   * A datagram holds one or more complete messages of the server's Packer
//     (ServerOptions::packer; the Go netman framing by default), and nothing
//     else. Any other datagram (empty, truncated, malformed, a body over
//     max_body, longer than max_datagram_bytes) is dropped whole and counted
//     (udp_stats(), and stats().decode_errors); nothing is buffered across
//     datagrams and no session is created or closed for it.
//   * Each peer address has a session: a Connection without a socket of its
//     own. OnOpen fires on its first valid datagram; OnClose exactly once,
//     when it has been idle for heartbeat_idle_time (DeadlineExceeded), is
//     Close()d (OK), is evicted (Unavailable) or the server stops
//     (Cancelled). A later datagram from the same peer opens a new session.
//   * At most max_sessions sessions (split evenly over the loops: the kernel
//     spreads peers over them): a new peer at the cap evicts the least
//     recently active session of its loop (counted in sessions_evicted).
//   * Replies produced while handling one batch of datagrams leave in one
//     sendmmsg; a handler's Send() whose frame cannot fit in one datagram
//     returns InvalidArgument and sends nothing.
//   * ServerOptions::transport_factory is refused (no TLS over UDP); the TCP
//     options (backlog, keepalive, nodelay, handshake timeout) do not apply.
//
// Example:
//   netman::UdpServer server({.loops = 2});
//   (void)server.AddRouter(0, [](netman::Request& r) {      // echo
//     (void)r.connection().Send(0, r.body());
//   });
//   absl::Status s = server.Start("0.0.0.0:8999");  // blocks until Stop()
//
// Threading: as ServerCore. udp_stats() is safe from any thread once
// started.
#ifndef NETMAN_UDP_UDP_SERVER_H_
#define NETMAN_UDP_UDP_SERVER_H_

#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "absl/time/time.h"
#include "netman/base/log_rate_limiter.h"
#include "netman/codec/packer.h"
#include "netman/server/framed_protocol.h"
#include "netman/server/server_core.h"
#include "netman/server/server_options.h"
#include "netman/udp/datagram_protocol.h"
#include "netman/udp/session_table.h"
#include "netman/udp/udp_counters.h"
#include "netman/udp/udp_socket.h"

namespace netman {

// The largest UDP payload over IPv4 (65535 - 8 - 20).
inline constexpr size_t kMaxUdpPayload = 65507;

struct UdpOptions {
  // Largest datagram received or sent; longer ones are dropped on receipt.
  size_t max_datagram_bytes = kMaxUdpPayload;
  // Datagrams per receive call (recvmmsg); 1 reads and sends one datagram
  // per system call (recvmsg/sendto).
  int batch_size = 32;
  // Cap on sessions for the whole server (at least one per loop).
  size_t max_sessions = 65536;
  // Each loop socket's SO_RCVBUF and SO_SNDBUF, so a burst from many peers
  // waits in the kernel instead of being dropped (capped by
  // net.core.rmem_max / wmem_max); 0 keeps the kernel's default.
  size_t socket_buffer_bytes = size_t{4} << 20;
};

class UdpServer final : public ServerCore {
 public:
  // Sessions idle this long close when ServerOptions::heartbeat_idle_time
  // is zero: a UDP peer never says goodbye, so sessions always expire.
  static constexpr absl::Duration kDefaultSessionIdleTime = absl::Seconds(60);

  explicit UdpServer(ServerOptions options = {}, UdpOptions udp = {});
  ~UdpServer() override;

  const Packer& packer() const { return *packer_; }
  const UdpOptions& udp_options() const { return udp_; }
  // UDP counters summed over the loops (sessions are in stats() as
  // connections).
  UdpStats udp_stats() const;

 private:
  struct LoopState {
    explicit LoopState(size_t session_cap) : sessions(session_cap) {}
    UdpCounters counters;
    std::unique_ptr<UdpSocket> socket;
    SessionTable sessions;
  };

  absl::Status OnStarting() override;
  absl::StatusOr<SocketAddress> OpenListener(const SocketAddress& address) override;
  void CloseListener(int index) override;

  // A datagram arrived on loop `index`'s socket.
  void OnDatagram(int index, const SocketAddress& peer, std::span<char> datagram,
                  bool truncated);
  // The session for `peer` on loop `index`, made (evicting at the cap) if
  // needed; null if the server is draining or the session closed at once.
  Connection* SessionFor(int index, const SocketAddress& peer);
  // From DatagramProtocol: a session closed; forget its peer.
  void OnSessionClosed(Connection& session);

  const UdpOptions udp_;
  // Declared before the protocols: they point at it.
  std::shared_ptr<const Packer> packer_;
  std::unique_ptr<FramedProtocol> framed_;
  std::unique_ptr<DatagramProtocol> protocol_;
  // One per loop, built by OpenListener() before the loops run; fixed after.
  std::vector<std::unique_ptr<LoopState>> udp_loops_;
  LogRateLimiter drop_log_;
};

}  // namespace netman

#endif  // NETMAN_UDP_UDP_SERVER_H_
