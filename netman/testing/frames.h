// Copyright netman authors.
//
// Frame(): the bytes of one message in the default wire format (8-byte
// header, then the body), for tests that write or expect raw frames.
//
// Threading: a pure function.
#ifndef NETMAN_TESTING_FRAMES_H_
#define NETMAN_TESTING_FRAMES_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "netman/buffer/buffer.h"
#include "netman/codec/default_packer.h"

namespace netman::testing {

inline std::string Frame(uint32_t id, std::string_view body) {
  Buffer b;
  DefaultPacker().Encode(id, body, b);
  return std::string(b.readable());
}

}  // namespace netman::testing

#endif  // NETMAN_TESTING_FRAMES_H_
