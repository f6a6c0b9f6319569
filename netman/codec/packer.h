// Copyright netman authors.
//
// Packer: turns a connection's byte stream into messages and messages into
// bytes. netman calls Decode() on the bytes received so far, as many times
// as it returns complete messages, and Encode() for every Send().
//
// Decode() is on the per-message hot path, so it fills a caller-owned
// DecodeResult and returns a plain absl::Status (OK costs nothing to make or
// destroy) rather than an absl::StatusOr<DecodeResult>.
//
// The framework, not the Packer, enforces the server's max body length: every
// Packer reports the declared body length as soon as its header is complete
// (DecodeResult::declared_body_length) so an oversize message is rejected
// before its body arrives, whatever the Packer.
//
// Example: a custom packer with a 2-byte big-endian length and no id.
//   class TinyPacker : public netman::Packer {
//    public:
//     absl::Status Decode(std::string_view in,
//                         DecodeResult* result) const override {
//       if (in.size() < 2) {
//         *result = DecodeResult::NeedMore();
//       } else if (uint32_t len = (uint8_t(in[0]) << 8) | uint8_t(in[1]);
//                  in.size() < 2 + len) {
//         *result = DecodeResult::NeedMore(len);
//       } else {
//         *result = DecodeResult::Complete(2 + len, 0, in.substr(2, len));
//       }
//       return absl::OkStatus();
//     }
//     ...
//   };
//
// Threading: a Packer is shared by every loop of a server, so Decode() and
// Encode() must be const and thread-safe (the default packer is stateless).
#ifndef NETMAN_CODEC_PACKER_H_
#define NETMAN_CODEC_PACKER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "netman/buffer/buffer.h"

namespace netman {

// One message: an id chosen by the application and an opaque body. The body
// view points into the connection's input and is valid only during the call
// that receives it.
struct Message {
  uint32_t id = 0;
  std::string_view body;
};

struct DecodeResult {
  // True when `message` is complete and `consumed` bytes form its frame.
  bool complete = false;
  size_t consumed = 0;
  Message message;
  // For an incomplete frame whose header has arrived: the body length the
  // header declares. The framework rejects it if it exceeds the limit.
  std::optional<uint64_t> declared_body_length;

  static DecodeResult NeedMore() { return DecodeResult{}; }
  static DecodeResult NeedMore(uint64_t declared_body_length) {
    DecodeResult r;
    r.declared_body_length = declared_body_length;
    return r;
  }
  static DecodeResult Complete(size_t consumed, uint32_t id,
                               std::string_view body) {
    DecodeResult r;
    r.complete = true;
    r.consumed = consumed;
    r.message = Message{id, body};
    return r;
  }
};

class Packer {
 public:
  virtual ~Packer() = default;

  // Looks at the start of `input` (all bytes received and not yet consumed).
  // On OK, `*result` holds a complete message and its frame size
  // (DecodeResult::Complete) or says that `input` holds only part of a frame
  // (DecodeResult::NeedMore); every call overwrites all of `*result`. An
  // error status means bytes that can never form a valid frame (the
  // connection is then closed with that reason; `*result` is unspecified).
  virtual absl::Status Decode(std::string_view input,
                              DecodeResult* result) const = 0;

  // Appends the frame for (id, body) to `out`.
  virtual void Encode(uint32_t id, std::string_view body, Buffer& out) const = 0;

  // Appends the frame for message `id` whose body, exactly `size` bytes, is
  // written by `writer` (zero-copy serialisation: Connection::SendWith).
  // The default builds the body in a temporary and calls Encode(); a packer
  // that knows its header size overrides it to write the body in place.
  virtual void EncodeWith(uint32_t id, size_t size, BodyWriter writer,
                          Buffer& out) const {
    std::string body(size, '\0');
    if (size > 0) writer(body.data());
    Encode(id, body, out);
  }
};

// Decode() as an absl::StatusOr, for code off the per-message path (clients,
// tests, tools).
inline absl::StatusOr<DecodeResult> DecodeOne(const Packer& packer,
                                              std::string_view input) {
  DecodeResult result;
  absl::Status status = packer.Decode(input, &result);
  if (!status.ok()) return status;
  return result;
}

}  // namespace netman

#endif  // NETMAN_CODEC_PACKER_H_
