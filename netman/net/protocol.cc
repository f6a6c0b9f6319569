// Copyright netman authors.
#include "netman/net/protocol.h"

#include <string>

namespace netman {

absl::Status Protocol::EncodeWith(uint32_t id, size_t size, BodyWriter writer,
                                  Buffer& out) {
  std::string body(size, '\0');
  if (size > 0) writer(body.data());
  return Encode(id, body, out);
}

}  // namespace netman
