// Copyright netman authors.
//
// WsServer: a WebSocket server (RFC 6455, with optional permessage-deflate,
// RFC 7692). It is the second facade over ServerCore, like TcpServer: the
// core's loops, acceptor, hooks (OnOpen/OnClose see every WebSocket),
// heartbeat, limits, backpressure, handshake timeout, transport (wss://
// is ServerOptions::transport_factory = a TLS transport), stats and
// shutdown all apply unchanged. What it adds is the protocol: every
// connection starts with the HTTP upgrade (UpgradeProtocol) and continues
// as a WebSocket (WsProtocol), routed by request path to a WsHandler.
// Messages pass through the server's global middleware (Use()) before the
// handler; their Request::id() is ws::kText or ws::kBinary.
//
// Example (an echo server):
//   netman::WsServer server;
//   (void)server.Handle("/echo", {.message = [](netman::Request& r) {
//     (void)r.connection().Send(r.id(), r.body());  // text as text, binary as binary
//   }});
//   (void)server.Start("0.0.0.0:8080");
//
// Threading: as ServerCore. Handle() before Start*(); topics() and
// GoingAway() from any thread.
#ifndef NETMAN_WS_WS_SERVER_H_
#define NETMAN_WS_WS_SERVER_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "netman/base/sync.h"
#include "netman/server/server_core.h"
#include "netman/server/server_options.h"
#include "netman/ws/permessage_deflate.h"
#include "netman/ws/topics.h"
#include "netman/ws/upgrade_protocol.h"
#include "netman/ws/ws_handler.h"
#include "netman/ws/ws_options.h"
#include "netman/ws/ws_protocol.h"

namespace netman {

class WsServer final : public ServerCore {
 public:
  // The path that matches any path without a handler of its own.
  static constexpr std::string_view kAnyPath = "*";

  explicit WsServer(ServerOptions options = {}, ws::WsOptions ws_options = {});
  ~WsServer() override;

  // Serves WebSocket upgrades for `path` (exact, percent-decoded, without
  // the query; kAnyPath for every other path) with `handler`. AlreadyExists
  // for a path with a handler; FailedPrecondition once started.
  absl::Status Handle(std::string path, ws::WsHandler handler);

  // Publish/subscribe over this server's WebSockets.
  ws::Topics& topics() { return topics_; }

  // Graceful shutdown: sends Close 1001 (Going Away) to every WebSocket,
  // waits up to half of `timeout` for the close handshakes, then
  // ServerCore::Shutdown() with the rest. Not from a loop thread.
  void GoingAway(absl::Duration timeout);

  // WebSockets open now (upgraded and not closed).
  size_t open_websockets() const;
  const ws::WsOptions& ws_options() const { return ws_options_; }

 private:
  absl::Status OnStarting() override;
  const ws::WsEndpoint* FindEndpoint(std::string_view path) const;
  void Opened(Connection& connection);
  void Closed(Connection& connection);
  void SchedulePing(Connection& connection);

  const ws::WsOptions ws_options_;
  ws::Topics topics_;
  std::unique_ptr<ws::DeflateCodecs> deflate_;
  ws::WsServerContext context_;
  ws::UpgradeContext upgrade_context_;
  // Where every connection starts (shared: see UpgradeProtocol).
  std::unique_ptr<ws::UpgradeProtocol> upgrade_;
  // Path -> endpoint; filled before start, read-only afterwards.
  Mutex endpoints_mu_;
  bool endpoints_frozen_ ABSL_GUARDED_BY(endpoints_mu_) = false;
  absl::flat_hash_map<std::string, std::unique_ptr<ws::WsEndpoint>> endpoints_;
  const ws::WsEndpoint* any_path_ = nullptr;
  mutable Mutex open_mu_;
  size_t open_ ABSL_GUARDED_BY(open_mu_) = 0;
};

}  // namespace netman

#endif  // NETMAN_WS_WS_SERVER_H_
