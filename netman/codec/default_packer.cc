// Copyright netman authors.
#include "netman/codec/default_packer.h"

namespace netman {

void DefaultPacker::Encode(uint32_t id, std::string_view body, Buffer& out) const {
  // Bodies above 4 GiB cannot be expressed in this format; the framework's
  // Send() rejects them before they get here.
  char* p = out.Writable(kHeaderSize + body.size());
  EncodeHeader(id, static_cast<uint32_t>(body.size()), p);
  if (!body.empty()) std::memcpy(p + kHeaderSize, body.data(), body.size());
  out.Commit(kHeaderSize + body.size());
}

void DefaultPacker::EncodeWith(uint32_t id, size_t size, BodyWriter writer,
                               Buffer& out) const {
  char* p = out.Writable(kHeaderSize + size);
  EncodeHeader(id, static_cast<uint32_t>(size), p);
  if (size > 0) writer(p + kHeaderSize);
  out.Commit(kHeaderSize + size);
}

}  // namespace netman
