// Copyright netman authors.
#include "netman/ws/ws_server.h"

#include <utility>

#include "netman/ws/close_codes.h"

namespace netman {
namespace {

// The WebSocket input cap: the largest message plus room for frame headers,
// unless the options set one.
ServerOptions WithWsDefaults(ServerOptions options, const ws::WsOptions& ws_options) {
  if (!options.max_input_bytes.has_value()) {
    options.max_input_bytes =
        ws_options.max_message == 0 ? 0 : ws_options.max_message + kInputCapHeadroom;
  }
  return options;
}

}  // namespace

WsServer::WsServer(ServerOptions options, ws::WsOptions ws_options)
    : ServerCore(WithWsDefaults(std::move(options), ws_options),
                 // Called on the loops only after Start(): everything below exists.
                 [this](Connection&) { return ProtocolPtr::Shared(upgrade_.get()); }),
      ws_options_(std::move(ws_options)) {
  if (ws_options_.permessage_deflate) deflate_ = std::make_unique<ws::DeflateCodecs>();
  context_.options = &ws_options_;
  context_.router = &router();
  context_.logger = &logger();
  context_.deflate = deflate_.get();
  context_.on_closed = [this](Connection& c) { Closed(c); };
  upgrade_context_.options = &ws_options_;
  upgrade_context_.handshake.subprotocols = ws_options_.subprotocols;
  upgrade_context_.handshake.allowed_origins = ws_options_.allowed_origins;
  upgrade_context_.handshake.permessage_deflate = ws_options_.permessage_deflate;
  upgrade_context_.handshake.deflate_context_takeover = ws_options_.deflate_context_takeover;
  upgrade_context_.find_endpoint = [this](std::string_view path) { return FindEndpoint(path); };
  upgrade_context_.on_opened = [this](Connection& c) { Opened(c); };
  upgrade_ = std::make_unique<ws::UpgradeProtocol>(&upgrade_context_);
  // Text and binary messages go through the router (global middleware
  // first) to the handler of the connection's endpoint. With no global
  // middleware WsProtocol calls that handler itself, skipping this hop.
  const Handler dispatch = [](Request& request) {
    // Only WsProtocol dispatches these ids.
    auto* protocol = static_cast<ws::WsProtocol*>(request.connection().protocol());
    const ws::WsHandler& handler = protocol->endpoint().handler();
    if (handler.message) handler.message(request);
  };
  (void)AddRouter(ws::kText, dispatch);
  (void)AddRouter(ws::kBinary, dispatch);
}

// Stops the loops before the endpoints, codecs and contexts go.
WsServer::~WsServer() { Stop(); }

absl::Status WsServer::Handle(std::string path, ws::WsHandler handler) {
  MutexLock lock(&endpoints_mu_);
  if (endpoints_frozen_) return absl::FailedPreconditionError("Handle() after Start()");
  if (endpoints_.contains(path)) {
    return absl::AlreadyExistsError("a handler for " + path + " exists");
  }
  auto endpoint = std::make_unique<ws::WsEndpoint>(&context_, std::move(handler));
  if (path == kAnyPath) any_path_ = endpoint.get();
  endpoints_.emplace(std::move(path), std::move(endpoint));
  return absl::OkStatus();
}

absl::Status WsServer::OnStarting() {
  MutexLock lock(&endpoints_mu_);
  endpoints_frozen_ = true;
  if (ws_options_.pong_timeout > absl::ZeroDuration() &&
      ws_options_.ping_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("pong_timeout needs a ping_interval");
  }
  return absl::OkStatus();
}

const ws::WsEndpoint* WsServer::FindEndpoint(std::string_view path) const {
  // Frozen before any connection exists: read without the lock.
  auto it = endpoints_.find(absl::string_view(path.data(), path.size()));
  return it != endpoints_.end() ? it->second.get() : any_path_;
}

void WsServer::Opened(Connection& connection) {
  {
    MutexLock lock(&open_mu_);
    ++open_;
  }
  if (ws_options_.ping_interval > absl::ZeroDuration()) SchedulePing(connection);
}

void WsServer::Closed(Connection& connection) {
  topics_.RemoveConnection(connection.id());
  MutexLock lock(&open_mu_);
  --open_;
}

size_t WsServer::open_websockets() const {
  MutexLock lock(&open_mu_);
  return open_;
}

void WsServer::SchedulePing(Connection& connection) {
  EventLoop* loop = connection.loop();
  loop->RunAfter(ws_options_.ping_interval,
                 [this, loop, weak = std::weak_ptr<Connection>(connection.shared_from_this())] {
                   ConnectionPtr c = weak.lock();
                   if (c == nullptr || !c->is_open()) return;
                   ws::WsProtocol* protocol = ws::WsProtocol::Of(*c);
                   if (protocol == nullptr) return;
                   if (protocol->session() != nullptr && protocol->session()->awaiting_pong) {
                     c->ForceClose(absl::DeadlineExceededError("no pong before the next ping"));
                     return;
                   }
                   const absl::Time now = loop->clock().Now();
                   if (!ws::WsProtocol::SendPing(*c, now)) return;
                   if (ws_options_.pong_timeout > absl::ZeroDuration()) {
                     loop->RunAfter(ws_options_.pong_timeout, [weak, now] {
                       ConnectionPtr c = weak.lock();
                       if (c == nullptr || !c->is_open()) return;
                       ws::WsProtocol* p = ws::WsProtocol::Of(*c);
                       if (p != nullptr && p->session() != nullptr &&
                           p->session()->awaiting_pong && p->session()->ping_sent == now) {
                         c->ForceClose(absl::DeadlineExceededError("pong timeout"));
                       }
                     });
                   }
                   SchedulePing(*c);
                 });
}

void WsServer::GoingAway(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  connections().ForEach([](const ConnectionPtr& c) {
    c->loop()->RunInLoop([c] { ws::WsProtocol::StartClose(*c, ws::kCloseGoingAway, "server shutting down"); });
  });
  {
    MutexLock lock(&open_mu_);
    open_mu_.AwaitWithTimeout([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return open_ == 0; },
                              timeout / 2);
  }
  Shutdown(std::max(deadline - absl::Now(), absl::ZeroDuration()));
}

}  // namespace netman
