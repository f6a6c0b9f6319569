// Copyright netman authors.
//
// WebSocket close status codes (RFC 6455 section 7.4 and the IANA
// registry) and which of them may appear in a Close frame on the wire.
//
// Threading: constants and a pure function.
#ifndef NETMAN_WS_CLOSE_CODES_H_
#define NETMAN_WS_CLOSE_CODES_H_

#include <cstdint>

namespace netman::ws {

inline constexpr uint16_t kCloseNormal = 1000;
inline constexpr uint16_t kCloseGoingAway = 1001;
inline constexpr uint16_t kCloseProtocolError = 1002;
inline constexpr uint16_t kCloseUnsupportedData = 1003;
// Never on the wire: reported when a Close frame had no code, or the TCP
// connection ended without a close handshake.
inline constexpr uint16_t kCloseNoStatus = 1005;
inline constexpr uint16_t kCloseAbnormal = 1006;
inline constexpr uint16_t kCloseInvalidPayload = 1007;
inline constexpr uint16_t kClosePolicyViolation = 1008;
inline constexpr uint16_t kCloseMessageTooBig = 1009;
inline constexpr uint16_t kCloseInternalError = 1011;

// Whether `code` may be sent in a Close frame: 1000-1003, 1007-1014
// (1012-1014 are IANA-registered: service restart, try again later, bad
// gateway) and 3000-4999 (registered and private use).
constexpr bool IsValidWireCloseCode(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

}  // namespace netman::ws

#endif  // NETMAN_WS_CLOSE_CODES_H_
