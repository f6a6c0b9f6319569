// Copyright netman authors.
//
// WsOptions: what the WebSocket layer adds to ServerOptions (which
// configures everything the server core does: loops, heartbeat, limits,
// handshake timeout, transport/TLS, logging).
//
// Threading: a plain struct, copied into the server at construction.
#ifndef NETMAN_WS_WS_OPTIONS_H_
#define NETMAN_WS_WS_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "netman/ws/frame_parser.h"
#include "netman/ws/http_request.h"

namespace netman::ws {

inline constexpr absl::Duration kDefaultCloseTimeout = absl::Seconds(5);

struct WsOptions {
  // Largest message accepted (after reassembly and inflating); larger closes
  // the connection with 1009. 0 = unlimited (then only
  // ServerOptions::max_input_bytes bounds a single frame).
  uint64_t max_message = kDefaultMaxMessage;
  // Cap on the HTTP request head of the upgrade (431 beyond).
  size_t max_head_size = HttpRequestParser::kDefaultMaxHeadSize;
  // permessage-deflate (RFC 7692), negotiated when the client offers it.
  bool permessage_deflate = false;
  // With deflate: keep the server's compression context between messages
  // when the client allows it (better ratio, one zlib stream of ~256 KiB
  // per connection). Off: one compressor per loop serves every connection.
  bool deflate_context_takeover = false;
  // Messages shorter than this are sent uncompressed even with deflate.
  size_t deflate_min_size = 32;
  // Server pings every `ping_interval` (0: never); a connection that has
  // not answered with a pong `pong_timeout` after a ping (0: before the
  // next ping) is closed.
  absl::Duration ping_interval = absl::ZeroDuration();
  absl::Duration pong_timeout = absl::ZeroDuration();
  // How long the server waits for the peer's Close after sending its own
  // before it closes the TCP connection.
  absl::Duration close_timeout = kDefaultCloseTimeout;
  // Subprotocols in preference order; Origin allow-list (empty: any).
  std::vector<std::string> subprotocols;
  std::vector<std::string> allowed_origins;
  // Served for a plain "GET /" (no Upgrade) as text/html; empty: 404.
  std::string http_page;
};

}  // namespace netman::ws

#endif  // NETMAN_WS_WS_OPTIONS_H_
