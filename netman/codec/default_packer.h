// Copyright netman authors.
//
// DefaultPacker: netman's wire format, byte-compatible with the Go netman.
//
//   offset 0   uint32 little-endian   body length N
//   offset 4   uint32 little-endian   message id
//   offset 8   N bytes                body
//
// Example: id 1, body "hi" is 02 00 00 00 01 00 00 00 68 69.
//
// A header split across reads is fine (Decode returns NeedMore until all 8
// bytes are there); zero-length bodies are messages like any other.
//
// Threading: stateless; safe from any thread.
#ifndef NETMAN_CODEC_DEFAULT_PACKER_H_
#define NETMAN_CODEC_DEFAULT_PACKER_H_

#include <cstdint>
#include <cstring>

#include "netman/codec/packer.h"

namespace netman {

class DefaultPacker final : public Packer {
 public:
  static constexpr size_t kHeaderSize = 8;

  absl::StatusOr<DecodeResult> Decode(std::string_view input) const override;
  void Encode(uint32_t id, std::string_view body, Buffer& out) const override;

  // Writes the 8-byte header for a body of `body_length` bytes to `header`.
  static void EncodeHeader(uint32_t id, uint32_t body_length, char* header);
};

}  // namespace netman

#endif  // NETMAN_CODEC_DEFAULT_PACKER_H_
