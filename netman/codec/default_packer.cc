// Copyright netman authors.
#include "netman/codec/default_packer.h"

namespace netman {

void DefaultPacker::EncodeWith(uint32_t id, size_t size, BodyWriter writer,
                               Buffer& out) const {
  char* p = out.Writable(kHeaderSize + size);
  EncodeHeader(id, static_cast<uint32_t>(size), p);
  if (size > 0) writer(p + kHeaderSize);
  out.Commit(kHeaderSize + size);
}

}  // namespace netman
