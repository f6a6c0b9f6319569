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
// Memory: a server has one shared, stateless instance (Shared()), where
// every connection starts. A head that arrives in one read (the usual case)
// is handled there, so a handshake allocates nothing per connection that
// outlives it (allocations interleaved with the connections' own would stay
// as heap holes). Only a head split over several reads moves the connection
// to an instance of its own, which keeps the parser's progress so that each
// read is scanned once, whatever the split.
//
// Threading: the shared instance is used by every loop (it keeps no state);
// an owned one by its connection's loop thread.
#ifndef NETMAN_WS_UPGRADE_PROTOCOL_H_
#define NETMAN_WS_UPGRADE_PROTOCOL_H_

#include <functional>
#include <optional>
#include <span>
#include <utility>
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
  // Without `parser`: the server's shared instance. With one: a
  // connection's own, continuing that parser's progress.
  explicit UpgradeProtocol(const UpgradeContext* context,
                           std::optional<HttpRequestParser> parser = std::nullopt)
      : context_(context), parser_(std::move(parser)) {}

  bool OnAttach(Connection& connection) override { return false; }
  absl::StatusOr<size_t> OnData(Connection& connection, std::span<char> input) override;
  // Nothing is sent through the protocol before the upgrade.
  absl::Status Encode(uint32_t id, std::string_view body, Buffer& out) override {
    return absl::FailedPreconditionError("websocket not open yet");
  }

 private:
  // Handles a complete head (`parser` returned kDone).
  absl::StatusOr<size_t> Upgrade(Connection& connection, std::span<char> input,
                                 const HttpRequest& request, size_t head_size);
  size_t Refuse(Connection& connection, const HttpRefusal& refusal, size_t consumed);

  const UpgradeContext* const context_;
  // Engaged in an owned instance only (a head split over reads).
  std::optional<HttpRequestParser> parser_;
};

}  // namespace netman::ws

#endif  // NETMAN_WS_UPGRADE_PROTOCOL_H_
