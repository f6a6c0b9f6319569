// Copyright netman authors.
//
// WsConnection and WsHandler: the application's side of a WebSocket
// endpoint, in the spirit of the Go netman's API.
//
//   handler.upgrade(connection, request)  before the 101: may refuse the
//                                         upgrade with an HTTP status (an
//                                         auth token check), may set the
//                                         connection's user_data()
//   handler.open(ws)                      the WebSocket is open
//   handler.message(request)              a message: request.id() is
//                                         kText or kBinary, request.body()
//                                         the payload (after the server's
//                                         global middleware)
//   handler.close(ws, code, reason)       once per opened connection: the
//                                         peer's close code, or 1006 when
//                                         the TCP connection ended without
//                                         a close handshake
//
// WsConnection is a view of a netman::Connection speaking WebSocket: Text(),
// Binary() and Close() are safe from any thread (like Connection::Send:
// from another thread, hold the ConnectionPtr).
#ifndef NETMAN_WS_WS_HANDLER_H_
#define NETMAN_WS_WS_HANDLER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "netman/net/connection.h"
#include "netman/router/request.h"
#include "netman/ws/close_codes.h"
#include "netman/ws/handshake.h"
#include "netman/ws/http_request.h"
#include "netman/ws/websocket_wire.h"

namespace netman::ws {

// Message ids of WebSocket messages: the frame opcodes.
inline constexpr uint32_t kText = websocket_wire::kOpText;
inline constexpr uint32_t kBinary = websocket_wire::kOpBinary;

class WsConnection {
 public:
  explicit WsConnection(Connection& connection) : connection_(&connection) {}

  // A text message (`text` must be UTF-8) / a binary message.
  absl::Status Text(std::string_view text) { return connection_->Send(kText, text); }
  absl::Status Binary(std::string_view bytes) { return connection_->Send(kBinary, bytes); }
  // Starts the close handshake: sends Close(code, reason), waits up to
  // WsOptions::close_timeout for the peer's Close, then closes TCP.
  // Messages arriving meanwhile are dropped. `code` must be a valid wire
  // code (1000 otherwise); the reason is cut to fit 123 bytes.
  void Close(uint16_t code = kCloseNormal, std::string_view reason = {});

  Connection& connection() const { return *connection_; }
  uint64_t id() const { return connection_->id(); }

 private:
  Connection* connection_;
};

struct WsHandler {
  std::function<std::optional<HttpRefusal>(Connection&, const HttpRequest&)> upgrade;
  std::function<void(WsConnection)> open;
  std::function<void(Request&)> message;
  std::function<void(WsConnection, uint16_t code, std::string_view reason)> close;
};

}  // namespace netman::ws

#endif  // NETMAN_WS_WS_HANDLER_H_
