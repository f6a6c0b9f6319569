// Copyright netman authors.
//
// ServerOptions: what every netman server (TcpServer, the WebSocket server)
// is configured with. The server core reads every field but `packer`, which
// only servers framing messages with a Packer use. Each part the server is
// assembled from can be replaced here: the poller, the transport (TLS), the
// packer, the clock and the log sink.
//
// Example:
//   netman::TcpServer server({.loops = 4,
//                             .max_body = 1 << 20,
//                             .heartbeat_idle_time = absl::Seconds(30)});
//
// Threading: a plain struct, copied into the server at construction.
#ifndef NETMAN_SERVER_SERVER_OPTIONS_H_
#define NETMAN_SERVER_SERVER_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "absl/time/time.h"
#include "netman/base/clock.h"
#include "netman/base/log.h"
#include "netman/codec/packer.h"
#include "netman/net/acceptor.h"
#include "netman/net/connection_context.h"
#include "netman/net/transport.h"
#include "netman/poller/poller.h"

namespace netman {

// Defaults, named once.
inline constexpr uint64_t kDefaultMaxBody = uint64_t{64} << 20;         // 64 MiB
inline constexpr size_t kDefaultMaxOutputBytes = size_t{64} << 20;      // 64 MiB
inline constexpr size_t kDefaultOutputHighWaterMark = size_t{4} << 20;  // 4 MiB
// What the automatic input cap allows beyond max_body: room for a frame
// header, a WebSocket frame header or a TLS record around the largest body.
inline constexpr size_t kInputCapHeadroom = size_t{64} << 10;           // 64 KiB
inline constexpr absl::Duration kDefaultHandshakeTimeout = absl::Seconds(10);

struct ServerOptions {
  // Event loops (threads); 0 means one per core. Negative is an error.
  int loops = 0;
  // Message framing for servers that use a Packer (TcpServer); null means
  // DefaultPacker (Go netman compatible). Any Packer works, including your
  // own (the Go netman's WithPacker).
  std::shared_ptr<const Packer> packer;
  // Largest accepted message body, enforced for every packer; 0 = unlimited
  // (as in the Go netman). The default keeps one peer from making the server
  // buffer more than 64 MiB for a single message.
  uint64_t max_body = kDefaultMaxBody;
  // Cap on bytes a connection has received that its protocol has not
  // consumed yet (a partial message, an HTTP request head, a TLS record):
  // crossing it closes the connection with ResourceExhausted and a logged
  // reason. Unset (the default): max_body + kInputCapHeadroom, or unlimited
  // when max_body is 0 (the framing then bounds nothing either). 0:
  // unlimited.
  std::optional<uint64_t> max_input_bytes;
  // Unknown message ids are logged (rate-limited) and dropped by default
  // (the connection stays open); true closes the connection instead.
  bool close_on_unknown_id = false;
  bool tcp_nodelay = true;
  // listen(2) backlog and SO_REUSEPORT.
  int backlog = Acceptor::kDefaultBacklog;
  bool reuse_port = false;
  // How long accepting pauses after EMFILE/ENFILE when no connection closes.
  absl::Duration accept_retry_delay = Acceptor::kDefaultRetryDelay;

  // Transport between the socket and the protocol, made per connection
  // (TLS: netman/tls). Empty: plain TCP, which pays nothing for the seam.
  TransportFactory transport_factory;
  // A connection whose transport or protocol handshake (TLS, WebSocket
  // upgrade) has not finished this long after accept is closed
  // (DeadlineExceeded; counted in stats, no OnOpen/OnClose). Zero disables.
  // Connections without a handshake are never affected. Checked by a
  // per-loop wheel (no timer per connection), so a close comes at most an
  // eighth of the timeout late.
  absl::Duration handshake_timeout = kDefaultHandshakeTimeout;

  // Heartbeat: a connection that sends no byte for `heartbeat_idle_time` is
  // closed (reason DeadlineExceeded; OnClose fires). Any inbound bytes count,
  // including part of a message. A connection whose output is backed up, or
  // whose reading is paused by the output limit, is not idle. Zero disables.
  // The check runs every `heartbeat_check_interval` (zero: idle_time / 4),
  // so kicks are late by at most one interval. An interval without an idle
  // time, or longer than it, is a configuration error.
  absl::Duration heartbeat_idle_time = absl::ZeroDuration();
  absl::Duration heartbeat_check_interval = absl::ZeroDuration();

  // TCP keepalive on accepted sockets (SO_KEEPALIVE): first probe after
  // `tcp_keepalive` idle, then every `tcp_keepalive_interval`, giving up after
  // `tcp_keepalive_probes`. Zero disables.
  absl::Duration tcp_keepalive = absl::ZeroDuration();
  absl::Duration tcp_keepalive_interval = absl::Seconds(10);
  int tcp_keepalive_probes = 3;

  // Backpressure. The backlog of output a peer has not taken is capped at
  // `max_output_bytes` per connection (0 = unlimited): a message joining a
  // backlog over the cap either pauses reading from that connection until
  // its output drains to half the cap (kPauseReading; a backlog past twice
  // the cap closes it) or closes it (kClose). A message joining a backlog
  // within the cap is always accepted, so the reply to any message the
  // input limits admit (up to max_body) goes out whatever its size. Either
  // way a client that never reads cannot grow server memory without bound.
  // OnHighWaterMark fires when unsent output reaches `output_high_water_mark`.
  size_t max_output_bytes = kDefaultMaxOutputBytes;
  OutputLimitPolicy output_limit_policy = OutputLimitPolicy::kPauseReading;
  size_t output_high_water_mark = kDefaultOutputHighWaterMark;

  Logger logger;
  // The server hands log lines to a background thread (AsyncLogSink: a
  // bounded queue; lines are dropped and counted in stats when it is full),
  // so a slow or stuck log sink never blocks a loop. false: loops call the
  // sink directly (only for sinks that never block).
  bool async_logging = true;
  // Null means RealClock. Not owned.
  const Clock* clock = nullptr;
  // Empty means CreateDefaultPoller().
  PollerFactory poller_factory;
};

}  // namespace netman

#endif  // NETMAN_SERVER_SERVER_OPTIONS_H_
