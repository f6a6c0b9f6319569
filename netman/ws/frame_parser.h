// Copyright netman authors.
//
// FrameParser: the server side of RFC 6455 framing (section 5), driven from
// byte arrays with no socket, so it is unit-tested at every split and
// fuzzed directly. Call Next() with every byte received and not consumed
// yet; it returns the next event (a complete message, a ping, a pong, a
// close, an error, or "need more") and how many bytes it consumed.
//
// What it enforces, failing fast (as soon as the offending byte is there):
//   * client frames must be masked                               -> 1002
//   * RSV bits must be 0, unless RSV1 marks a compressed message
//     (Options::rsv1_allowed, permessage-deflate)                -> 1002
//   * reserved opcodes (3-7, B-F)                                -> 1002
//   * 64-bit lengths with the most significant bit set           -> 1002
//   * control frames: FIN set, payload <= 125 bytes              -> 1002
//   * continuation without a message, data frame inside one      -> 1002
//   * message size above Options::max_message, checked from the
//     frame header, before the payload is buffered                -> 1009
//   * text: UTF-8, validated incrementally across frames and
//     within a frame whose payload has only partly arrived       -> 1007
//   * Close payload: 0 bytes, or a valid code and a UTF-8 reason -> 1002/1007
// Control frames may come between the frames of a fragmented message.
//
// Payloads are unmasked in place in `input` (the connection keeps the bytes
// not consumed as the parser left them). A message in one frame is
// returned as a view into `input` (no copy); a fragmented one is assembled
// in a buffer the parser holds only while the message is incomplete.
//
// Example (a protocol's OnData):
//   for (;;) {
//     FrameParser::Event e = parser.Next(input.subspan(used));
//     used += e.consumed;
//     if (e.kind == FrameParser::Kind::kNeedMore) break;
//     ...
//   }
//
// Threading: none; one parser per connection (on its loop).
#ifndef NETMAN_WS_FRAME_PARSER_H_
#define NETMAN_WS_FRAME_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "netman/ws/utf8_validator.h"
#include "netman/ws/websocket_wire.h"

namespace netman::ws {

inline constexpr uint64_t kDefaultMaxMessage = uint64_t{16} << 20;  // 16 MiB

class FrameParser {
 public:
  struct Options {
    uint64_t max_message = kDefaultMaxMessage;  // 0 = unlimited
    // permessage-deflate was negotiated: RSV1 on a message's first frame
    // marks it compressed (its UTF-8 is then the caller's to check, after
    // inflating).
    bool rsv1_allowed = false;
  };

  enum class Kind : uint8_t { kNeedMore, kMessage, kPing, kPong, kClose, kError };

  struct Event {
    Kind kind = Kind::kNeedMore;
    // Bytes of input consumed by this call (the event's frames and any
    // fragments before them).
    size_t consumed = 0;
    // kMessage: kOpText or kOpBinary.
    uint8_t opcode = 0;
    // kMessage: the message was sent compressed (RSV1).
    bool compressed = false;
    // kMessage, kPing, kPong: valid until the next call.
    std::string_view payload;
    // kClose: the peer's code (kCloseNoStatus if the frame had none).
    // kError: the code to close the connection with.
    uint16_t close_code = 0;
    std::string_view close_reason;  // kClose
    const char* error = nullptr;    // kError: what was wrong
  };

  FrameParser() = default;
  explicit FrameParser(Options options) : options_(options), small_max_(SmallMax(options)) {}
  FrameParser(FrameParser&&) = default;
  FrameParser& operator=(FrameParser&&) = default;

  // Parses the bytes at the front of `input` (everything received and not
  // consumed). After kError the parser must not be used again.
  //
  // Inline for the common frame on its own: a whole unfragmented data
  // message of at most 125 bytes, masked, no RSV bits, between messages.
  // Every check of the general path holds for it by construction, so it is
  // delivered after unmasking (and, for text, UTF-8 validation) alone.
  Event Next(std::span<char> input) {
    if (input.size() >= kSmallHeaderSize && !in_message_ && progress_ == 0) [[likely]] {
      const auto b0 = static_cast<uint8_t>(input[0]);
      const auto b1 = static_cast<uint8_t>(input[1]);
      const size_t length = b1 & websocket_wire::kLengthMask;
      if ((b0 == kFinBinary || b0 == kFinText) && (b1 & websocket_wire::kMaskBit) != 0 &&
          length <= small_max_ && input.size() >= kSmallHeaderSize + length) [[likely]] {
        char* const payload = input.data() + kSmallHeaderSize;
        websocket_wire::MaskCopy(payload, payload, length,
                                 websocket_wire::LoadMaskKey(payload - websocket_wire::kMaskKeySize));
        const std::string_view body(payload, length);
        if (b0 == kFinText && !Utf8Validator::IsValid(body)) [[unlikely]] return FailUtf8();
        if (message_ != nullptr) message_.reset();  // a fragmented message delivered last call
        Event e;
        e.kind = Kind::kMessage;
        e.consumed = kSmallHeaderSize + length;
        e.opcode = b0 & websocket_wire::kOpcodeMask;
        e.payload = body;
        return e;
      }
    }
    return NextSlow(input);
  }

  // Between messages with no partly received frame: nothing here needs to
  // survive until the next bytes arrive.
  bool idle() const { return !in_message_ && progress_ == 0; }
  const Options& options() const { return options_; }

 private:
  struct Header;
  // A masked frame of at most 125 bytes: 2 bytes and the key.
  static constexpr size_t kSmallHeaderSize = 2 + websocket_wire::kMaskKeySize;
  static constexpr uint8_t kFinBinary = websocket_wire::kFin | websocket_wire::kOpBinary;
  static constexpr uint8_t kFinText = websocket_wire::kFin | websocket_wire::kOpText;

  // The largest payload Next() takes inline: 125, or less under a smaller
  // max_message.
  static uint8_t SmallMax(const Options& options) {
    return static_cast<uint8_t>(options.max_message == 0 ||
                                        options.max_message > websocket_wire::kMaxControlPayload
                                    ? websocket_wire::kMaxControlPayload
                                    : options.max_message);
  }

  // Next() for everything but the inline case.
  Event NextSlow(std::span<char> input);
  Event Fail(uint16_t code, const char* error);
  [[gnu::cold, gnu::noinline]] Event FailUtf8();

  Options options_;
  uint8_t small_max_ = SmallMax(Options{});
  // The current frame's payload bytes already unmasked (and, for text,
  // validated) while the rest has not arrived.
  size_t progress_ = 0;
  // A fragmented message in progress.
  bool in_message_ = false;
  bool message_compressed_ = false;
  bool message_text_ = false;
  Utf8Validator utf8_;
  std::unique_ptr<std::string> message_;  // null between fragmented messages
};

}  // namespace netman::ws

#endif  // NETMAN_WS_FRAME_PARSER_H_
