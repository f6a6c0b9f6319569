// Copyright netman authors.
//
// Utf8Validator: incremental, fail-fast UTF-8 validation (RFC 3629) for
// WebSocket text messages, which may be split anywhere, including inside a
// code point, across frames and reads. Rejects overlong forms, surrogates
// (U+D800..U+DFFF) and code points above U+10FFFF as soon as the first byte
// that makes the sequence invalid arrives.
//
// Example:
//   netman::ws::Utf8Validator v;
//   if (!v.Feed(part1) || !v.Feed(part2) || !v.complete()) Fail(1007);
//
// Memory: two bytes of state. Threading: none (a value type).
#ifndef NETMAN_WS_UTF8_VALIDATOR_H_
#define NETMAN_WS_UTF8_VALIDATOR_H_

#include <cstdint>
#include <string_view>

namespace netman::ws {

class Utf8Validator {
 public:
  // Validates the next bytes of the text. False once the text so far cannot
  // be the start of valid UTF-8 (and for every call after that).
  bool Feed(std::string_view bytes);
  // The bytes so far end on a code point boundary (and are valid).
  bool complete() const { return pending_ == 0 && !failed_; }
  bool failed() const { return failed_; }
  void Reset() { *this = Utf8Validator(); }

  // Whole-string check.
  static bool IsValid(std::string_view text) {
    Utf8Validator v;
    return v.Feed(text) && v.complete();
  }

 private:
  uint8_t pending_ = 0;     // continuation bytes still expected
  uint8_t first_range_ = 0; // constraint on the next byte (kAny, kE0, ...)
  bool failed_ = false;
};

}  // namespace netman::ws

#endif  // NETMAN_WS_UTF8_VALIDATOR_H_
