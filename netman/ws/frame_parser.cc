// Copyright netman authors.
#include "netman/ws/frame_parser.h"

#include <bit>

#include "netman/ws/close_codes.h"
#include "netman/ws/websocket_wire.h"

namespace netman::ws {
namespace {

using websocket_wire::kFin;
using websocket_wire::kLengthMask;
using websocket_wire::kMaskBit;
using websocket_wire::kMaskKeySize;
using websocket_wire::kMaxControlPayload;
using websocket_wire::kOpBinary;
using websocket_wire::kOpClose;
using websocket_wire::kOpcodeMask;
using websocket_wire::kOpContinuation;
using websocket_wire::kOpPing;
using websocket_wire::kOpPong;
using websocket_wire::kOpText;
using websocket_wire::kRsv1;
using websocket_wire::kRsv2;
using websocket_wire::kRsv3;

constexpr uint8_t kLength16 = 126;
constexpr uint8_t kLength64 = 127;

bool IsControl(uint8_t opcode) { return (opcode & 0x8) != 0; }

// Unmasks `n` bytes at `p`, which start `offset` bytes into the payload.
void UnmaskAt(char* p, size_t n, uint32_t key, size_t offset) {
  // Byte i of the payload uses key byte i % 4: rotate so that p[0] uses
  // byte offset % 4 (the key's byte 0 is its low byte on this host).
  websocket_wire::MaskCopy(p, p, n, std::rotr(key, static_cast<int>(8 * (offset & 3))));
}

}  // namespace

struct FrameParser::Header {
  bool fin;
  uint8_t rsv;
  uint8_t opcode;
  size_t size;  // header bytes, mask key included
  uint64_t length;
  uint32_t mask_key;
};

FrameParser::Event FrameParser::FailUtf8() {
  return Fail(kCloseInvalidPayload, "invalid UTF-8 in a text message");
}

FrameParser::Event FrameParser::Fail(uint16_t code, const char* error) {
  Event e;
  e.kind = Kind::kError;
  e.close_code = code;
  e.error = error;
  return e;
}

FrameParser::Event FrameParser::NextSlow(std::span<char> input) {
  if (message_ != nullptr && !in_message_) message_.reset();  // delivered last call
  size_t pos = 0;
  for (;;) {
    const std::span<char> in = input.subspan(pos);
    Event need_more;
    need_more.consumed = pos;
    if (in.empty()) return need_more;

    // --- the header, checked byte by byte as it arrives -------------------
    Header h;
    const auto b0 = static_cast<uint8_t>(in[0]);
    h.fin = (b0 & kFin) != 0;
    h.rsv = b0 & (kRsv1 | kRsv2 | kRsv3);
    h.opcode = b0 & kOpcodeMask;
    const bool control = IsControl(h.opcode);
    if (h.opcode != kOpContinuation && h.opcode != kOpText && h.opcode != kOpBinary &&
        h.opcode != kOpClose && h.opcode != kOpPing && h.opcode != kOpPong) {
      return Fail(kCloseProtocolError, "reserved opcode");
    }
    // RSV1 may only mark the first frame of a compressed data message.
    const bool rsv1_ok = options_.rsv1_allowed && !control && h.opcode != kOpContinuation;
    if ((h.rsv & ~(rsv1_ok ? kRsv1 : 0)) != 0) {
      return Fail(kCloseProtocolError, "reserved bits set");
    }
    if (control && !h.fin) return Fail(kCloseProtocolError, "fragmented control frame");
    if (!control) {
      if (h.opcode == kOpContinuation && !in_message_) {
        return Fail(kCloseProtocolError, "continuation frame without a message");
      }
      if (h.opcode != kOpContinuation && in_message_) {
        return Fail(kCloseProtocolError, "new data frame inside a fragmented message");
      }
    }
    if (in.size() < 2) return need_more;
    const auto b1 = static_cast<uint8_t>(in[1]);
    if ((b1 & kMaskBit) == 0) return Fail(kCloseProtocolError, "unmasked client frame");
    const uint8_t code = b1 & kLengthMask;
    if (control && code > kMaxControlPayload) {
      return Fail(kCloseProtocolError, "control frame payload over 125 bytes");
    }
    const size_t length_bytes = code == kLength16 ? 2 : code == kLength64 ? 8 : 0;
    h.size = 2 + length_bytes + kMaskKeySize;
    if (code == kLength64 && in.size() >= 3 && (static_cast<uint8_t>(in[2]) & 0x80) != 0) {
      return Fail(kCloseProtocolError, "64-bit length with the most significant bit set");
    }
    if (in.size() < 2 + length_bytes) return need_more;
    h.length = code;
    if (length_bytes != 0) {
      h.length = 0;
      for (size_t i = 0; i < length_bytes; ++i) {
        h.length = h.length << 8 | static_cast<uint8_t>(in[2 + i]);
      }
    }
    if (!control && options_.max_message != 0) {
      const uint64_t so_far = in_message_ && message_ != nullptr ? message_->size() : 0;
      if (h.length > options_.max_message || so_far + h.length > options_.max_message) {
        return Fail(kCloseMessageTooBig, "message exceeds the maximum size");
      }
    }
    if (in.size() < h.size) return need_more;
    h.mask_key = websocket_wire::LoadMaskKey(in.data() + h.size - kMaskKeySize);

    // Text whose UTF-8 this parser checks (not compressed).
    const bool text_message = h.opcode == kOpContinuation
                                  ? message_text_ && !message_compressed_
                                  : h.opcode == kOpText && (h.rsv & kRsv1) == 0;
    char* const payload = in.data() + h.size;
    const size_t available = in.size() - h.size;

    // --- an incomplete payload: unmask and validate what is there --------
    if (available < h.length) {
      if (text_message && available > progress_) {
        UnmaskAt(payload + progress_, available - progress_, h.mask_key, progress_);
        if (!utf8_.Feed(std::string_view(payload + progress_, available - progress_))) {
          return Fail(kCloseInvalidPayload, "invalid UTF-8 in a text message");
        }
        progress_ = available;
      }
      return need_more;
    }

    // --- a complete frame --------------------------------------------------
    const size_t length = static_cast<size_t>(h.length);
    const size_t done = progress_;
    progress_ = 0;
    UnmaskAt(payload + done, length - done, h.mask_key, done);
    const std::string_view body(payload, length);
    pos += h.size + length;
    Event e;
    e.consumed = pos;
    if (control) {
      if (h.opcode == kOpPing || h.opcode == kOpPong) {
        e.kind = h.opcode == kOpPing ? Kind::kPing : Kind::kPong;
        e.payload = body;
        return e;
      }
      // Close.
      e.kind = Kind::kClose;
      e.close_code = kCloseNoStatus;
      if (length == 1) return Fail(kCloseProtocolError, "close frame with a 1-byte payload");
      if (length >= 2) {
        e.close_code = static_cast<uint16_t>(static_cast<uint8_t>(body[0]) << 8 |
                                             static_cast<uint8_t>(body[1]));
        if (!IsValidWireCloseCode(e.close_code)) {
          return Fail(kCloseProtocolError, "invalid close code");
        }
        e.close_reason = body.substr(2);
        if (!Utf8Validator::IsValid(e.close_reason)) {
          return Fail(kCloseInvalidPayload, "close reason is not UTF-8");
        }
      }
      return e;
    }
    if (text_message &&
        !utf8_.Feed(std::string_view(payload + done, length - done))) {
      return Fail(kCloseInvalidPayload, "invalid UTF-8 in a text message");
    }
    if (h.opcode != kOpContinuation) {
      if (h.fin) {
        if (text_message && !utf8_.complete()) {
          return Fail(kCloseInvalidPayload, "text message ends inside a UTF-8 sequence");
        }
        utf8_.Reset();
        e.kind = Kind::kMessage;
        e.opcode = h.opcode;
        e.compressed = (h.rsv & kRsv1) != 0;
        e.payload = body;
        return e;
      }
      // The first fragment.
      in_message_ = true;
      message_text_ = h.opcode == kOpText;
      message_compressed_ = (h.rsv & kRsv1) != 0;
      message_ = std::make_unique<std::string>(body);
      continue;
    }
    message_->append(body);
    if (!h.fin) continue;
    if (text_message && !utf8_.complete()) {
      return Fail(kCloseInvalidPayload, "text message ends inside a UTF-8 sequence");
    }
    utf8_.Reset();
    in_message_ = false;
    e.kind = Kind::kMessage;
    e.opcode = message_text_ ? kOpText : kOpBinary;
    e.compressed = message_compressed_;
    e.payload = *message_;
    return e;
  }
}

}  // namespace netman::ws
