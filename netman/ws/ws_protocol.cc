// Copyright netman authors.
#include "netman/ws/ws_protocol.h"

#include <cstring>
#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "netman/ws/close_codes.h"
#include "netman/ws/permessage_deflate.h"
#include "netman/ws/utf8_validator.h"
#include "netman/ws/websocket_wire.h"

namespace netman::ws {
namespace {

using websocket_wire::kFin;
using websocket_wire::kMaxControlPayload;
using websocket_wire::kMaxFrameHeaderSize;
using websocket_wire::kOpBinary;
using websocket_wire::kOpClose;
using websocket_wire::kOpPing;
using websocket_wire::kOpPong;
using websocket_wire::kOpText;
using websocket_wire::kRsv1;

constexpr int kMinWindowBits = 9;
constexpr int kMaxWindowBits = 15;

// Broadcast keys: frames are equal for equal keys. Index 0: uncompressed;
// N: compressed with an N-bit window and no context.
constexpr char kEncodingKeys[kMaxWindowBits + 1] = {};

// The payload of a Close frame: the code, then the reason cut to fit.
std::string ClosePayload(uint16_t code, std::string_view reason) {
  if (code == kCloseNoStatus) return {};
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xff));
  reason = reason.substr(0, kMaxControlPayload - 2);
  // Do not cut a UTF-8 sequence in half.
  while (!reason.empty() && !Utf8Validator::IsValid(reason)) reason.remove_suffix(1);
  payload.append(reason);
  return payload;
}

// What every parser of a connection checks: the message cap, and RSV1 on
// data frames when permessage-deflate was agreed.
FrameParser::Options ParserOptions(const WsOptions& options, bool deflate) {
  return {options.max_message, deflate};
}

// Appends one unmasked frame, header and payload in one reservation.
[[gnu::always_inline]] inline void AppendFrame(uint8_t first, std::string_view payload, Buffer& out) {
  char* const frame = out.Writable(kMaxFrameHeaderSize + payload.size());
  const size_t n = websocket_wire::EncodeFrameHeader(first, payload.size(), false, frame);
  if (!payload.empty()) std::memcpy(frame + n, payload.data(), payload.size());
  out.Commit(n + payload.size());
}

[[gnu::cold]] absl::Status ProtocolError(uint16_t code, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("websocket ", code, ": ", std::string(what)));
}

}  // namespace

WsSession::WsSession(const FrameParser::Options& parser_options) : parser(parser_options) {}
WsSession::~WsSession() = default;

WsEndpoint::WsEndpoint(const WsServerContext* context, WsHandler handler)
    : context_(context), handler_(std::move(handler)) {
  plain_ = std::make_unique<WsProtocol>(this, false, 0, nullptr);
  for (int bits = kMinWindowBits; bits <= kMaxWindowBits; ++bits) {
    deflate_[bits] = std::make_unique<WsProtocol>(this, true, bits, nullptr);
  }
}

WsEndpoint::~WsEndpoint() = default;

WsProtocol* WsEndpoint::shared(bool deflate, int window_bits) const {
  return deflate ? deflate_[window_bits].get() : plain_.get();
}

ProtocolPtr WsEndpoint::ProtocolFor(bool deflate, bool context_takeover, int window_bits) const {
  if (!deflate || !context_takeover) return ProtocolPtr::Shared(shared(deflate, window_bits));
  auto session = std::make_unique<WsSession>(ParserOptions(*context_->options, true));
  absl::StatusOr<std::unique_ptr<Deflater>> deflater = Deflater::Create(window_bits);
  if (deflater.ok()) session->deflater = *std::move(deflater);
  return ProtocolPtr::Owned(
      std::make_unique<WsProtocol>(this, true, window_bits, std::move(session)));
}

WsProtocol::WsProtocol(const WsEndpoint* endpoint, bool deflate, int window_bits,
                       std::unique_ptr<WsSession> session)
    : endpoint_(endpoint),
      deflate_(deflate),
      window_bits_(static_cast<uint8_t>(window_bits)),
      session_(std::move(session)) {}

WsProtocol::~WsProtocol() = default;

WsProtocol* WsProtocol::Of(Connection& connection) {
  return dynamic_cast<WsProtocol*>(connection.protocol());
}

const void* WsProtocol::encoding_key() const {
  if (session_ != nullptr && session_->deflater != nullptr) return nullptr;  // stateful
  return &kEncodingKeys[deflate_ ? window_bits_ : 0];
}

absl::Status WsProtocol::Encode(uint32_t id, std::string_view body, Buffer& out) {
  // The common case first: a data frame, uncompressed, nothing closing.
  if ((id == kOpBinary || id == kOpText) && !deflate_ && session_ == nullptr) [[likely]] {
    AppendFrame(kFin | static_cast<uint8_t>(id), body, out);
    return absl::OkStatus();
  }
  uint8_t first = kFin;
  switch (id) {
    case kOpText:
    case kOpBinary:
      if (session_ != nullptr && session_->close_sent) {
        return absl::FailedPreconditionError("websocket is closing");
      }
      break;
    case kOpClose:
    case kOpPing:
    case kOpPong:
      if (body.size() > kMaxControlPayload) {
        return absl::InvalidArgumentError("control frame payload over 125 bytes");
      }
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("message id ", id, " is not a WebSocket opcode (1 text, 2 binary)"));
  }
  first |= static_cast<uint8_t>(id);
  if (deflate_ && (id == kOpText || id == kOpBinary) &&
      body.size() >= endpoint_->context().options->deflate_min_size) {
    return EncodeCompressed(first, body, out);
  }
  AppendFrame(first, body, out);
  return absl::OkStatus();
}

absl::Status WsProtocol::EncodeCompressed(uint8_t first, std::string_view body, Buffer& out) {
  // Runs on the connection's loop (Connection::Send posts other threads'
  // bodies there), so the loop's shared compressor is free.
  Deflater* deflater = session_ != nullptr ? session_->deflater.get() : nullptr;
  LoopCodecs* codecs = nullptr;
  if (endpoint_->context().deflate != nullptr) {
    // EventLoop identity: the current thread's loop. Encode has no
    // connection, but one LoopCodecs per thread is what we need.
    codecs = &endpoint_->context().deflate->ForThread();
  }
  std::string local;
  std::string& compressed = codecs != nullptr ? codecs->compressed : local;
  if (deflater == nullptr && codecs != nullptr) {
    absl::StatusOr<Deflater*> d = codecs->DeflaterFor(window_bits_);
    if (!d.ok()) return d.status();
    deflater = *d;
  }
  if (deflater != nullptr) {
    const bool reset = session_ == nullptr || session_->deflater == nullptr;
    if (absl::Status s = deflater->Compress(body, reset, compressed); !s.ok()) return s;
    AppendFrame(first | kRsv1, compressed, out);
    return absl::OkStatus();
  }
  // No compressor (the codecs failed to start): the frame goes uncompressed.
  AppendFrame(first, body, out);
  return absl::OkStatus();
}

absl::Status WsProtocol::Inflate(uint8_t opcode, std::string_view& payload,
                                 uint16_t* close_code) {
  const WsServerContext& context = endpoint_->context();
  if (!deflate_ || context.deflate == nullptr) {
    *close_code = kCloseProtocolError;
    return ProtocolError(*close_code, "compressed message without permessage-deflate");
  }
  LoopCodecs& codecs = context.deflate->ForThread();
  if (codecs.inflater == nullptr) {
    absl::StatusOr<std::unique_ptr<Inflater>> inflater = Inflater::Create();
    if (!inflater.ok()) {
      *close_code = kCloseInternalError;
      return inflater.status();
    }
    codecs.inflater = *std::move(inflater);
  }
  absl::Status s =
      codecs.inflater->Decompress(payload, context.options->max_message, codecs.decompressed);
  if (!s.ok()) {
    *close_code = absl::IsResourceExhausted(s) ? kCloseMessageTooBig : kCloseInvalidPayload;
    return ProtocolError(*close_code, std::string(s.message()));
  }
  payload = codecs.decompressed;
  if (opcode == kOpText && !Utf8Validator::IsValid(payload)) {
    *close_code = kCloseInvalidPayload;
    return ProtocolError(*close_code, "invalid UTF-8 in a text message");
  }
  return absl::OkStatus();
}

inline absl::Status WsProtocol::DispatchMessage(Connection& connection, uint8_t opcode,
                                                std::string_view payload, bool compressed,
                                                WsSession* session, uint16_t* close_code) {
  if (compressed) [[unlikely]] {
    if (absl::Status s = Inflate(opcode, payload, close_code); !s.ok()) return s;
  }
  if (session != nullptr && session->close_sent) return absl::OkStatus();  // closing: dropped
  const Message message{opcode, payload};
  Request request(connection, message);
  try {
    const Router& router = *endpoint_->context().router;
    if (!router.has_global_middleware()) [[likely]] {
      // What Dispatch() would do: ids 1 and 2 are WsServer's own
      // ungrouped routes, which call the endpoint's handler.
      if (endpoint_->handler().message) endpoint_->handler().message(request);
    } else {
      (void)router.Dispatch(request);
    }
  } catch (const std::exception& e) {
    *close_code = kCloseInternalError;
    return absl::InternalError(absl::StrCat("websocket handler threw: ", e.what()));
  } catch (...) {
    *close_code = kCloseInternalError;
    return absl::InternalError("websocket handler threw");
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> WsProtocol::OnData(Connection& connection, std::span<char> input) {
  const WsOptions& options = *endpoint_->context().options;
  // A shared instance parses with a parser of its own for this call; if it
  // ends up holding state, the state moves to an owned instance below.
  std::unique_ptr<WsSession> created;
  const FrameParser::Options parser_options = ParserOptions(options, deflate_);
  FrameParser local(parser_options);
  FrameParser& parser = session_ != nullptr ? session_->parser : local;
  auto session = [&]() -> WsSession& {
    if (session_ != nullptr) return *session_;
    if (created == nullptr) created = std::make_unique<WsSession>(parser_options);
    return *created;
  };
  uint64_t messages = 0;  // counted once per call, as the framed protocol does
  size_t used = 0;
  absl::Status error;
  bool handed_over = false;
  while (connection.wants_messages()) {
    FrameParser::Event e = parser.Next(input.subspan(used));
    used += e.consumed;
    if (e.kind == FrameParser::Kind::kNeedMore) break;
    if (e.kind == FrameParser::Kind::kMessage) {
      ++messages;
      uint16_t code = 0;
      error = DispatchMessage(connection, e.opcode, e.payload, e.compressed, session_.get(),
                              &code);
      if (!error.ok()) {
        WsSession& s = session();
        if (!s.close_sent) {
          (void)connection.Send(kOpClose, ClosePayload(code, std::string(error.message())));
          s.close_sent = true;
        }
        s.has_report = true;
        s.report_code = code;
        s.report_reason = std::string(error.message());
        break;
      }
      // A handler closed the WebSocket (switching the connection to an
      // owned instance): the rest of the bytes are the successor's. The
      // parser is idle at a message boundary, so nothing is lost.
      if (connection.protocol() != this) {
        handed_over = true;
        break;
      }
      continue;
    }
    if (e.kind == FrameParser::Kind::kPing) {
      if (session_ == nullptr || !session_->close_sent) {
        (void)connection.Send(kOpPong, e.payload);
      }
      continue;
    }
    if (e.kind == FrameParser::Kind::kPong) {
      if (session_ != nullptr) session_->awaiting_pong = false;  // unsolicited: ignored
      continue;
    }
    WsSession& s = session();
    if (e.kind == FrameParser::Kind::kClose) {
      s.close_received = true;
      if (!s.close_sent) {
        // Echo the peer's code (RFC 6455 5.5.1), then close TCP first.
        (void)connection.Send(kOpClose, ClosePayload(e.close_code, {}));
        s.close_sent = true;
        s.has_report = true;
        s.report_code = e.close_code;
        s.report_reason = std::string(e.close_reason);
      }
      connection.Close();
      used = input.size();  // nothing after a Close frame counts
      break;
    }
    // kError: fail the WebSocket connection (RFC 6455 7.1.7).
    connection.loop()->counters().decode_errors.Add();
    if (!s.close_sent) {
      (void)connection.Send(kOpClose, ClosePayload(e.close_code, e.error));
      s.close_sent = true;
    }
    s.has_report = true;
    s.report_code = e.close_code;
    s.report_reason = e.error;
    error = ProtocolError(e.close_code, e.error);
    break;
  }
  if (messages != 0) connection.loop()->counters().messages_in.Add(messages);
  if (!handed_over) {
    if (session_ == nullptr && (created != nullptr || !local.idle())) {
      std::unique_ptr<WsSession> s = created != nullptr
                                         ? std::move(created)
                                         : std::make_unique<WsSession>(parser_options);
      s->parser = std::move(local);
      connection.SwitchProtocol(ProtocolPtr::Owned(
          std::make_unique<WsProtocol>(endpoint_, deflate_, window_bits_, std::move(s))));
    } else if (session_ != nullptr && session_->idle() && error.ok() &&
               connection.is_open()) {
      connection.SwitchProtocol(ProtocolPtr::Shared(endpoint_->shared(deflate_, window_bits_)));
    }
  }
  if (!error.ok()) return error;
  return used;
}

void WsProtocol::OnConnectionClosed(Connection& connection, const absl::Status& reason) {
  if (!connection.has_opened()) return;
  uint16_t code = kCloseAbnormal;
  std::string_view why;
  if (session_ != nullptr && session_->has_report) {
    code = session_->report_code;
    why = session_->report_reason;
  }
  const WsServerContext& context = endpoint_->context();
  if (endpoint_->handler().close) {
    try {
      endpoint_->handler().close(WsConnection(connection), code, why);
    } catch (...) {
      context.logger->Error("connection %d: websocket close handler threw", connection.id());
    }
  }
  if (context.on_closed) context.on_closed(connection);
}

WsSession& WsProtocol::EnsureSession(Connection& connection, WsProtocol* current) {
  if (current->session_ != nullptr) return *current->session_;
  auto owned = std::make_unique<WsProtocol>(
      current->endpoint_, current->deflate_, current->window_bits_,
      std::make_unique<WsSession>(
          ParserOptions(*current->endpoint_->context().options, current->deflate_)));
  WsSession& session = *owned->session_;
  connection.SwitchProtocol(ProtocolPtr::Owned(std::move(owned)));
  return session;
}

void WsProtocol::StartClose(Connection& connection, uint16_t code, std::string_view reason) {
  if (!connection.is_open()) return;
  WsProtocol* current = Of(connection);
  if (current == nullptr) return;
  if (current->session_ != nullptr && current->session_->close_sent) return;
  if (!IsValidWireCloseCode(code)) code = kCloseNormal;
  (void)connection.Send(kOpClose, ClosePayload(code, reason));
  WsSession& session = EnsureSession(connection, current);
  session.close_sent = true;
  if (!session.has_report) {
    session.has_report = true;
    session.report_code = code;
    session.report_reason = std::string(reason);
  }
  const absl::Duration timeout = current->endpoint_->context().options->close_timeout;
  connection.loop()->RunAfter(timeout, [weak = std::weak_ptr<Connection>(
                                            connection.shared_from_this())] {
    if (ConnectionPtr c = weak.lock()) {
      c->ForceClose(absl::DeadlineExceededError("websocket close handshake timed out"));
    }
  });
}

bool WsProtocol::SendPing(Connection& connection, absl::Time now) {
  if (!connection.is_open()) return false;
  WsProtocol* current = Of(connection);
  if (current == nullptr) return false;
  if (current->session_ != nullptr && current->session_->close_sent) return false;
  if (!connection.Send(kOpPing, {}).ok()) return false;
  WsSession& session = EnsureSession(connection, current);
  session.awaiting_pong = true;
  session.ping_sent = now;
  return true;
}

void WsConnection::Close(uint16_t code, std::string_view reason) {
  Connection* c = connection_;
  if (c->loop()->IsInLoopThread()) {
    WsProtocol::StartClose(*c, code, reason);
    return;
  }
  c->loop()->RunInLoop([self = c->shared_from_this(), code, reason = std::string(reason)] {
    WsProtocol::StartClose(*self, code, reason);
  });
}

}  // namespace netman::ws
