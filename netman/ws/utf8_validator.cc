// Copyright netman authors.
#include "netman/ws/utf8_validator.h"

#include <cstring>

namespace netman::ws {
namespace {

// The allowed range of the byte after a lead byte (RFC 3629 section 4);
// every later continuation byte is 0x80..0xBF.
enum Range : uint8_t {
  kAny = 0,   // 80..BF
  kE0 = 1,    // A0..BF (no overlong 3-byte forms)
  kED = 2,    // 80..9F (no surrogates)
  kF0 = 3,    // 90..BF (no overlong 4-byte forms)
  kF4 = 4,    // 80..8F (nothing above U+10FFFF)
};

constexpr uint8_t kLow[] = {0x80, 0xA0, 0x80, 0x90, 0x80};
constexpr uint8_t kHigh[] = {0xBF, 0xBF, 0x9F, 0xBF, 0x8F};

constexpr uint64_t kHighBits = 0x8080808080808080ull;

}  // namespace

bool Utf8Validator::Feed(std::string_view bytes) {
  if (failed_) return false;
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const uint8_t* const end = p + bytes.size();
  uint8_t pending = pending_;
  uint8_t range = first_range_;
  while (p < end) {
    if (pending == 0) {
      // ASCII fast path, eight bytes at a time.
      while (end - p >= 8) {
        uint64_t word;
        std::memcpy(&word, p, sizeof(word));
        if ((word & kHighBits) != 0) break;
        p += 8;
      }
      if (p == end) break;
      const uint8_t b = *p++;
      if (b < 0x80) continue;
      if (b < 0xC2) {  // continuation byte without a lead, or overlong C0/C1
        failed_ = true;
        return false;
      }
      if (b < 0xE0) {
        pending = 1;
        range = kAny;
      } else if (b < 0xF0) {
        pending = 2;
        range = b == 0xE0 ? kE0 : b == 0xED ? kED : kAny;
      } else if (b < 0xF5) {
        pending = 3;
        range = b == 0xF0 ? kF0 : b == 0xF4 ? kF4 : kAny;
      } else {
        failed_ = true;
        return false;
      }
      continue;
    }
    const uint8_t b = *p++;
    if (b < kLow[range] || b > kHigh[range]) {
      failed_ = true;
      return false;
    }
    range = kAny;
    --pending;
  }
  pending_ = pending;
  first_range_ = range;
  return true;
}

}  // namespace netman::ws
