// Copyright netman authors.
#include "netman/codec/default_packer.h"

#include <limits>

#include "absl/strings/str_cat.h"

namespace netman {
namespace {

inline uint32_t LoadLe32(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(b[0]) | static_cast<uint32_t>(b[1]) << 8 |
         static_cast<uint32_t>(b[2]) << 16 | static_cast<uint32_t>(b[3]) << 24;
}

inline void StoreLe32(uint32_t v, char* p) {
  auto* b = reinterpret_cast<unsigned char*>(p);
  b[0] = static_cast<unsigned char>(v);
  b[1] = static_cast<unsigned char>(v >> 8);
  b[2] = static_cast<unsigned char>(v >> 16);
  b[3] = static_cast<unsigned char>(v >> 24);
}

}  // namespace

absl::StatusOr<DecodeResult> DefaultPacker::Decode(std::string_view input) const {
  if (input.size() < kHeaderSize) return DecodeResult::NeedMore();
  const uint32_t length = LoadLe32(input.data());
  const uint32_t id = LoadLe32(input.data() + 4);
  const uint64_t frame = kHeaderSize + static_cast<uint64_t>(length);
  if (input.size() < frame) return DecodeResult::NeedMore(length);
  return DecodeResult::Complete(static_cast<size_t>(frame), id,
                                input.substr(kHeaderSize, length));
}

void DefaultPacker::EncodeHeader(uint32_t id, uint32_t body_length, char* header) {
  StoreLe32(body_length, header);
  StoreLe32(id, header + 4);
}

void DefaultPacker::Encode(uint32_t id, std::string_view body, Buffer& out) const {
  // Bodies above 4 GiB cannot be expressed in this format; the framework's
  // Send() rejects them before they get here.
  char* p = out.Writable(kHeaderSize + body.size());
  EncodeHeader(id, static_cast<uint32_t>(body.size()), p);
  if (!body.empty()) std::memcpy(p + kHeaderSize, body.data(), body.size());
  out.Commit(kHeaderSize + body.size());
}

}  // namespace netman
