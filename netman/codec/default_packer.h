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

#include <bit>
#include <cstdint>
#include <cstring>

#include "netman/codec/packer.h"

namespace netman {

class DefaultPacker final : public Packer {
 public:
  static constexpr size_t kHeaderSize = 8;

  // Never fails: every 8-byte header is valid (the framework enforces the
  // body length limit). Inline so that callers holding a DefaultPacker
  // (rather than a Packer) parse without a call.
  absl::Status Decode(std::string_view input, DecodeResult* result) const override {
    // Fields are stored one by one: assigning a DecodeResult temporary makes
    // the compiler copy it with 16-byte moves over smaller stores, which
    // stalls store forwarding and costs ~10x this whole function.
    result->consumed = 0;
    result->declared_body_length.reset();
    if (input.size() < kHeaderSize) {
      result->complete = false;
      return absl::OkStatus();
    }
    const uint32_t length = LoadLe32(input.data());
    const uint64_t frame = kHeaderSize + static_cast<uint64_t>(length);
    if (input.size() < frame) {
      result->complete = false;
      result->declared_body_length = length;
      return absl::OkStatus();
    }
    result->complete = true;
    result->consumed = static_cast<size_t>(frame);
    result->message.id = LoadLe32(input.data() + 4);
    result->message.body = std::string_view(input.data() + kHeaderSize, length);
    return absl::OkStatus();
  }
  // Inline, like Decode: callers holding a DefaultPacker encode without a
  // call. Bodies above 4 GiB cannot be expressed in this format; the
  // framework rejects them before they get here.
  void Encode(uint32_t id, std::string_view body, Buffer& out) const override {
    char* p = out.Writable(kHeaderSize + body.size());
    EncodeHeader(id, static_cast<uint32_t>(body.size()), p);
    if (!body.empty()) std::memcpy(p + kHeaderSize, body.data(), body.size());
    out.Commit(kHeaderSize + body.size());
  }
  // Writes the header, then lets `writer` fill the body in place.
  void EncodeWith(uint32_t id, size_t size, BodyWriter writer, Buffer& out) const override;

  // Writes the 8-byte header for a body of `body_length` bytes to `header`.
  static void EncodeHeader(uint32_t id, uint32_t body_length, char* header) {
    StoreLe32(body_length, header);
    StoreLe32(id, header + 4);
  }

  // Little-endian loads and stores at any alignment, on any host: one move
  // each on little-endian machines.
  static uint32_t LoadLe32(const char* p) {
    uint32_t v;
    std::memcpy(&v, p, sizeof(v));
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap32(v);
    return v;
  }
  static void StoreLe32(uint32_t v, char* p) {
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap32(v);
    std::memcpy(p, &v, sizeof(v));
  }
};

}  // namespace netman

#endif  // NETMAN_CODEC_DEFAULT_PACKER_H_
