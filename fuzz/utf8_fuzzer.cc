// Copyright netman authors.
//
// Fuzz target: netman/ws Utf8Validator against a reference decoder written
// from RFC 3629 (decode code points, reject overlongs, surrogates and
// values above U+10FFFF), whole and fed in the input's chunks.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/check.h"
#include "fuzz/split_input.h"
#include "netman/ws/utf8_validator.h"

NETMAN_FUZZ_NO_COVERAGE_BEGIN

namespace {

bool Reference(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<uint8_t>(s[i]);
    int n;
    uint32_t cp;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xe0) == 0xc0) {
      n = 1;
      cp = b & 0x1f;
    } else if ((b & 0xf0) == 0xe0) {
      n = 2;
      cp = b & 0x0f;
    } else if ((b & 0xf8) == 0xf0) {
      n = 3;
      cp = b & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (int k = 1; k <= n; ++k) {
      const auto c = static_cast<uint8_t>(s[i + k]);
      if ((c & 0xc0) != 0x80) return false;
      cp = cp << 6 | (c & 0x3f);
    }
    const uint32_t min = n == 1 ? 0x80 : n == 2 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const netman::fuzz::SplitInput input = netman::fuzz::ParseSplitInput(data, size);
  const bool expected = Reference(input.stream);
  NETMAN_FUZZ_CHECK(netman::ws::Utf8Validator::IsValid(input.stream) == expected,
                    "whole: validator disagrees with the reference (%d)", expected);
  netman::ws::Utf8Validator v;
  bool ok = true;
  for (std::string_view chunk : netman::fuzz::Chunk(input.stream, input.chunk_lengths)) {
    ok = v.Feed(chunk) && ok;
  }
  NETMAN_FUZZ_CHECK((ok && v.complete()) == expected, "chunked: disagrees (%d)", expected);
  return 0;
}

NETMAN_FUZZ_NO_COVERAGE_END
