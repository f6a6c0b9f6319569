// Copyright netman authors.
//
// permessage-deflate negotiation (RFC 7692 section 7.1): picks the first
// acceptable offer in a client's Sec-WebSocket-Extensions header(s) and
// writes the server's answer. The server always asks both sides to drop the
// compression context between messages (server_no_context_takeover and
// client_no_context_takeover), unless configured to keep its own context:
// with no context on either side, one compressor and one decompressor per
// event loop serve every connection, so an idle compressed connection costs
// no zlib memory at all.
//
// Threading: pure functions.
#ifndef NETMAN_WS_PERMESSAGE_DEFLATE_OFFER_H_
#define NETMAN_WS_PERMESSAGE_DEFLATE_OFFER_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace netman::ws {

// What a connection compresses with once permessage-deflate is agreed.
struct DeflateParams {
  // LZ77 window the server compresses with (the client may cap it with
  // server_max_window_bits; 9..15, zlib cannot do 8).
  int server_window_bits = 15;
  // The server keeps its compression context between messages (only when
  // configured and the client did not forbid it); then the connection
  // needs a compressor of its own.
  bool server_context_takeover = false;
  // The value of the Sec-WebSocket-Extensions response header.
  std::string response;
};

// The first acceptable permessage-deflate offer among `header_values` (each
// a Sec-WebSocket-Extensions value), or nullopt when there is none: no
// offer, or only offers with unknown, repeated or invalid parameters.
// `allow_server_context_takeover`: keep the server's context when the
// client allows it.
std::optional<DeflateParams> NegotiatePermessageDeflate(
    const std::vector<std::string_view>& header_values, bool allow_server_context_takeover);

}  // namespace netman::ws

#endif  // NETMAN_WS_PERMESSAGE_DEFLATE_OFFER_H_
