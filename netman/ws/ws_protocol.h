// Copyright netman authors.
//
// WsProtocol: a WebSocket connection after the upgrade, as a
// netman::Protocol. It parses client frames with FrameParser, answers pings,
// runs the close handshake, dispatches text and binary messages through the
// server's Router (so the global middleware runs, then the endpoint's
// handler) and frames Connection::Send() as WebSocket frames (message id =
// opcode: 1 text, 2 binary; 8, 9, 10 close/ping/pong).
//
// Memory: an idle WebSocket costs nothing here. Each endpoint has shared,
// stateless instances (ProtocolPtr::Shared: one plain, one for
// permessage-deflate without context takeover); a connection switches to
// an instance of its own, holding a WsSession, only while it needs state (a
// fragmented message or a partly received text frame, a close handshake, a
// ping awaiting its pong, a compressor with context takeover) and back to
// the shared one as soon as it is idle again.
//
// Threading: as Protocol (the connection's loop thread); StartClose() and
// SendPing() are loop-thread only.
#ifndef NETMAN_WS_WS_PROTOCOL_H_
#define NETMAN_WS_WS_PROTOCOL_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "netman/base/log.h"
#include "netman/net/connection.h"
#include "netman/net/protocol.h"
#include "netman/router/router.h"
#include "netman/ws/frame_parser.h"
#include "netman/ws/ws_handler.h"
#include "netman/ws/ws_options.h"

namespace netman::ws {

class DeflateCodecs;
class Deflater;

// What every endpoint of a server shares. Outlives its connections.
struct WsServerContext {
  const WsOptions* options = nullptr;
  const Router* router = nullptr;
  const Logger* logger = nullptr;
  // Per-loop compressors (null unless permessage_deflate).
  DeflateCodecs* deflate = nullptr;
  // Called once for every connection that opened, after its close handler.
  std::function<void(Connection&)> on_closed;
};

class WsProtocol;

// One path's handler and its shared protocol instances.
class WsEndpoint {
 public:
  WsEndpoint(const WsServerContext* context, WsHandler handler);
  ~WsEndpoint();
  const WsHandler& handler() const { return handler_; }
  const WsServerContext& context() const { return *context_; }
  // The protocol for a connection that agreed on this compression.
  ProtocolPtr ProtocolFor(bool deflate, bool context_takeover, int window_bits) const;
  // The shared instance: plain (deflate false) or deflating with a window
  // of `window_bits` (9..15) and no context takeover.
  WsProtocol* shared(bool deflate, int window_bits) const;

 private:
  const WsServerContext* const context_;
  const WsHandler handler_;
  std::unique_ptr<WsProtocol> plain_;
  std::array<std::unique_ptr<WsProtocol>, 16> deflate_;  // by window bits
};

// A connection's WebSocket state while it has any (see above).
struct WsSession {
  FrameParser parser;
  bool close_sent = false;
  bool close_received = false;
  bool awaiting_pong = false;
  bool has_report = false;  // report_code/report_reason are set
  uint16_t report_code = kCloseAbnormal;
  std::string report_reason;
  absl::Time ping_sent;
  std::unique_ptr<Deflater> deflater;  // context takeover only
  // Every session's parser is made with the connection's options (a
  // default FrameParser would refuse compressed frames).
  explicit WsSession(const FrameParser::Options& parser_options);
  ~WsSession();
  bool idle() const {
    return parser.idle() && !close_sent && !close_received && !awaiting_pong &&
           deflater == nullptr;
  }
};

class WsProtocol final : public Protocol {
 public:
  // `session` null: a shared instance. `deflate`: permessage-deflate agreed.
  WsProtocol(const WsEndpoint* endpoint, bool deflate, int window_bits,
             std::unique_ptr<WsSession> session);
  ~WsProtocol() override;

  // Ready once the upgrade has opened the connection (the upgrade protocol
  // marks it ready after the 101); switching between the shared and owned
  // instances keeps it open.
  bool OnAttach(Connection& connection) override { return connection.has_opened(); }
  absl::StatusOr<size_t> OnData(Connection& connection, std::span<char> input) override;
  absl::Status Encode(uint32_t id, std::string_view body, Buffer& out) override;
  const void* encoding_key() const override;
  void OnConnectionClosed(Connection& connection, const absl::Status& reason) override;

  const WsEndpoint& endpoint() const { return *endpoint_; }
  bool deflate() const { return deflate_; }
  WsSession* session() const { return session_.get(); }

  // The WsProtocol of `connection`, or null (still in the upgrade).
  static WsProtocol* Of(Connection& connection);
  // Server-initiated close handshake (loop thread): sends Close(code,
  // reason) unless one was sent, and closes TCP when the peer answers or
  // after WsOptions::close_timeout.
  static void StartClose(Connection& connection, uint16_t code, std::string_view reason);
  // Sends a ping and records that a pong is awaited (loop thread). False if
  // the connection is not an open WebSocket.
  static bool SendPing(Connection& connection, absl::Time now);

 private:
  // The session of `connection`, switching it to an owned instance first
  // if it is on a shared one. Outside OnData only.
  static WsSession& EnsureSession(Connection& connection, WsProtocol* current);
  // Encode() of a data frame to compress (out of line: the plain path
  // stays small).
  [[gnu::noinline]] absl::Status EncodeCompressed(uint8_t first, std::string_view body,
                                                  Buffer& out);
  // Inflates a compressed message in place of `payload` (the loop's
  // buffer), checking text's UTF-8; on error sets the close code.
  [[gnu::noinline]] absl::Status Inflate(uint8_t opcode, std::string_view& payload,
                                         uint16_t* close_code);
  // Inline into OnData: one call per message fewer on the hot path.
  [[gnu::always_inline]] absl::Status DispatchMessage(Connection& connection, uint8_t opcode, std::string_view payload,
                               bool compressed, WsSession* session, uint16_t* close_code);

  const WsEndpoint* const endpoint_;
  const bool deflate_;
  const uint8_t window_bits_;
  std::unique_ptr<WsSession> session_;
};

}  // namespace netman::ws

#endif  // NETMAN_WS_WS_PROTOCOL_H_
