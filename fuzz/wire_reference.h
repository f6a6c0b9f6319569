// Copyright netman authors.
//
// Le32: the fuzz targets' own reading of the netman frame header's
// little-endian fields, written independently of the codec under test so
// that they can check its decoding against it.
//
// Threading: a pure function.
#ifndef FUZZ_WIRE_REFERENCE_H_
#define FUZZ_WIRE_REFERENCE_H_

#include <cstdint>
#include <string_view>

namespace netman::fuzz {

// The first 4 bytes of `s` (at least 4) as a little-endian uint32.
inline uint32_t Le32(std::string_view s) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<unsigned char>(s[i])} << (8 * i);
  return v;
}

}  // namespace netman::fuzz

#endif  // FUZZ_WIRE_REFERENCE_H_
