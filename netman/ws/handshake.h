// Copyright netman authors.
//
// The WebSocket opening handshake, server side (RFC 6455 section 4.2):
// checks a parsed request head, negotiates the subprotocol and
// permessage-deflate, and writes the HTTP responses: 101 Switching
// Protocols, or a refusal (400 malformed, 403 origin not allowed, 426 wrong
// version with "Sec-WebSocket-Version: 13", or whatever the application
// chose) that the server sends before closing. Never a WebSocket frame.
//
// A request is an upgrade attempt when its Upgrade header lists
// "websocket"; anything else is plain HTTP (the server answers GET / with
// its page and everything else with 404).
//
// Threading: pure functions over their arguments.
#ifndef NETMAN_WS_HANDSHAKE_H_
#define NETMAN_WS_HANDSHAKE_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "netman/ws/http_request.h"
#include "netman/ws/permessage_deflate_offer.h"

namespace netman::ws {

struct HandshakeOptions {
  // Subprotocols the server speaks, in its order of preference: the first
  // one the client also offers is selected. Empty: none is ever selected.
  std::vector<std::string> subprotocols;
  // Origin allow-list (exact, case-insensitive match on the Origin header,
  // e.g. "https://example.com"). Empty: any origin. A request without an
  // Origin header (not a browser) is allowed either way.
  std::vector<std::string> allowed_origins;
  // Offer-driven permessage-deflate; off by default.
  bool permessage_deflate = false;
  // Keep the server's compression context between messages when the client
  // allows it (a compressor per connection: see docs/BENCHMARKS.md).
  bool deflate_context_takeover = false;
};

// An HTTP response that ends the exchange (the connection closes after it).
struct HttpRefusal {
  int status = 400;
  std::string message;  // the text/plain body
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// What an accepted upgrade agreed on.
struct UpgradeAgreement {
  std::string accept;       // Sec-WebSocket-Accept
  std::string subprotocol;  // empty: none
  std::optional<DeflateParams> deflate;
};

// Whether `request` asks for a WebSocket (Upgrade lists "websocket").
bool IsUpgradeRequest(const HttpRequest& request);

// Validates an upgrade request and negotiates. The refusal if invalid.
struct UpgradeCheck {
  std::optional<HttpRefusal> refusal;
  UpgradeAgreement agreement;
};
UpgradeCheck CheckUpgrade(const HttpRequest& request, const HandshakeOptions& options);

// The reason phrase for a status this server sends ("Bad Request").
std::string_view ReasonPhrase(int status);

// "HTTP/1.1 101 Switching Protocols" with the agreed headers.
std::string SwitchingProtocolsResponse(const UpgradeAgreement& agreement);
// The refusal as a complete response with Connection: close.
std::string RefusalResponse(const HttpRefusal& refusal);
// 200 with `body` (Content-Length set), Connection: close.
std::string OkResponse(std::string_view content_type, std::string_view body);

}  // namespace netman::ws

#endif  // NETMAN_WS_HANDSHAKE_H_
