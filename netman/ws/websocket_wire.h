// Copyright netman authors.
//
// WebSocket (RFC 6455) wire pieces shared by netman's WebSocket server
// (netman/ws), the load generator's ws mode (a client) and
// tools/bench:ws_echo_server (the WebSocket ceiling): frame header constants
// and encoding, payload masking, the Sec-WebSocket-Accept value and
// header-token matching. Only what every side needs; parsing stays with each
// side, since a client and a server accept different frames. Depends on
// nothing but BoringSSL (SHA-1, base64), so the tools that measure the
// framework can use it without linking the framework.
//
// Threading: stateless functions, safe from any thread.
#ifndef NETMAN_WS_WEBSOCKET_WIRE_H_
#define NETMAN_WS_WEBSOCKET_WIRE_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace netman::websocket_wire {

inline constexpr uint8_t kFin = 0x80;
inline constexpr uint8_t kOpContinuation = 0x0;
inline constexpr uint8_t kOpText = 0x1;
inline constexpr uint8_t kOpBinary = 0x2;
inline constexpr uint8_t kOpClose = 0x8;
inline constexpr uint8_t kOpPing = 0x9;
inline constexpr uint8_t kOpPong = 0xa;
inline constexpr uint8_t kRsv1 = 0x40;
inline constexpr uint8_t kRsv2 = 0x20;
inline constexpr uint8_t kRsv3 = 0x10;
inline constexpr uint8_t kOpcodeMask = 0x0f;
inline constexpr uint8_t kMaskBit = 0x80;
inline constexpr uint8_t kLengthMask = 0x7f;  // second byte: the 7-bit length
inline constexpr size_t kMaxFrameHeaderSize = 14;  // 2 + 8 length + 4 mask
inline constexpr size_t kMaxControlPayload = 125;
inline constexpr size_t kMaskKeySize = 4;

static_assert(std::endian::native == std::endian::little,
              "MaskCopy's word loop assumes a little-endian host");

// Writes a frame header (without the masking key) for a payload of `len`
// bytes in the shortest length form, as RFC 6455 5.2 requires; `masked` sets
// the mask bit. Returns its size: 2, 4 or 10 bytes.
inline size_t EncodeFrameHeader(uint8_t first_byte, uint64_t len, bool masked,
                                char* out) {
  const uint8_t mask = masked ? kMaskBit : 0;
  out[0] = static_cast<char>(first_byte);
  if (len <= 125) {
    out[1] = static_cast<char>(mask | len);
    return 2;
  }
  if (len <= 0xffff) {
    out[1] = static_cast<char>(mask | 126);
    out[2] = static_cast<char>(len >> 8);
    out[3] = static_cast<char>(len);
    return 4;
  }
  out[1] = static_cast<char>(mask | 127);
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<char>(len >> (56 - 8 * i));
  return 10;
}

// The masking key as it appears on the wire (4 bytes) <-> as a uint32 whose
// byte i is wire byte i.
inline uint32_t LoadMaskKey(const char* wire) {
  uint32_t key;
  std::memcpy(&key, wire, sizeof(key));
  return key;
}
inline void StoreMaskKey(uint32_t key, char* wire) { std::memcpy(wire, &key, sizeof(key)); }

// dst[i] = src[i] ^ (key byte i % 4), 16 bytes at a time where SSE2 is
// there (every x86-64), else eight. Masking and unmasking are the same
// operation; `dst` may equal `src`.
inline void MaskCopy(char* dst, const char* src, size_t n, uint32_t key) {
  const uint64_t key8 = static_cast<uint64_t>(key) << 32 | key;
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i key16 = _mm_set1_epi32(static_cast<int>(key));
  for (; i + 16 <= n; i += 16) {
    const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm_xor_si128(w, key16));
  }
#endif
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, src + i, 8);
    w ^= key8;
    std::memcpy(dst + i, &w, 8);
  }
  for (; i < n; ++i) dst[i] = static_cast<char>(src[i] ^ static_cast<char>(key >> (8 * (i & 3))));
}

// Sec-WebSocket-Accept for a Sec-WebSocket-Key:
// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), 28 characters.
std::string AcceptFor(std::string_view key);

// base64 of `n` bytes (standard alphabet, padded).
std::string Base64(const uint8_t* data, size_t n);

// HTTP header helpers for the opening handshake: ASCII case-insensitive
// comparison, stripping of optional whitespace (spaces and tabs), and
// whether a comma-separated header value holds `token`.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
std::string_view TrimSpaceAndTab(std::string_view s);
bool HasHeaderToken(std::string_view value, std::string_view token);

}  // namespace netman::websocket_wire

#endif  // NETMAN_WS_WEBSOCKET_WIRE_H_
