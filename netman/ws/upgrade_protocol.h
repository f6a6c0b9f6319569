// Copyright netman authors.
//
// UpgradeProtocol: the first protocol of every WebSocket server connection.
// It reads the HTTP request head (HttpRequestParser: any split, a size
// cap), then either
//   * answers plain HTTP: GET / with the server's page (200), anything
//     else 404, and closes;
//   * refuses an upgrade with an HTTP status (400, 403, 404 for a path with
//     no endpoint, 426, the application's own) and closes; or
//   * sends 101 Switching Protocols and hands the connection to the
//     endpoint's WsProtocol (Connection::SwitchProtocol), which opens it:
//     the HTTP parser and this object are freed then, so an open WebSocket
//     keeps nothing of its handshake. Bytes after the head (frames sent
//     eagerly) go to the WsProtocol in the same read.
// The server core closes connections whose upgrade takes longer than
// ServerOptions::handshake_timeout.
//
// Threading: one per connection, on its loop thread.
#ifndef NETMAN_WS_UPGRADE_PROTOCOL_H_
#define NETMAN_WS_UPGRADE_PROTOCOL_H_

#include <functional>
#include <span>
#include <string_view>

#include "netman/net/connection.h"
#include "netman/net/protocol.h"
#include "netman/ws/handshake.h"
#include "netman/ws/http_request.h"
#include "netman/ws/ws_protocol.h"

namespace netman::ws {

// What the upgrade needs from its server.
struct UpgradeContext {
  const WsOptions* options = nullptr;
  HandshakeOptions handshake;
  // The endpoint for a path, or null (404).
  std::function<const WsEndpoint*(std::string_view path)> find_endpoint;
  // The connection has opened as a WebSocket (after the endpoint's open
  // handler): server bookkeeping.
  std::function<void(Connection&)> on_opened;
};

class UpgradeProtocol final : public Protocol {
 public:
  explicit UpgradeProtocol(const UpgradeContext* context)
      : context_(context), parser_(context->options->max_head_size) {}

  bool OnAttach(Connection& connection) override { return false; }
  absl::StatusOr<size_t> OnData(Connection& connection, std::span<char> input) override;
  // Nothing is sent through the protocol before the upgrade.
  absl::Status Encode(uint32_t id, std::string_view body, Buffer& out) override {
    return absl::FailedPreconditionError("websocket not open yet");
  }

 private:
  size_t Refuse(Connection& connection, const HttpRefusal& refusal, size_t consumed);

  const UpgradeContext* const context_;
  HttpRequestParser parser_;
};

}  // namespace netman::ws

#endif  // NETMAN_WS_UPGRADE_PROTOCOL_H_
