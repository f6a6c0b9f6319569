// Copyright netman authors.
//
// Test helper: client frames (masked) as a WebSocket client writes them.
#ifndef NETMAN_WS_WS_TEST_FRAMES_H_
#define NETMAN_WS_WS_TEST_FRAMES_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "netman/ws/websocket_wire.h"

namespace netman::ws::testing {

inline std::string ClientFrame(uint8_t first_byte, std::string_view payload, bool masked = true,
                               uint32_t key = 0x12345678) {
  char header[websocket_wire::kMaxFrameHeaderSize];
  size_t n = websocket_wire::EncodeFrameHeader(first_byte, payload.size(), masked, header);
  std::string frame(header, n);
  if (masked) {
    char k[4];
    websocket_wire::StoreMaskKey(key, k);
    frame.append(k, 4);
    std::string body(payload);
    websocket_wire::MaskCopy(body.data(), body.data(), body.size(), key);
    frame += body;
  } else {
    frame.append(payload);
  }
  return frame;
}

inline std::string CloseBody(uint16_t code, std::string_view reason = {}) {
  std::string body;
  body.push_back(static_cast<char>(code >> 8));
  body.push_back(static_cast<char>(code & 0xff));
  body.append(reason);
  return body;
}

}  // namespace netman::ws::testing

#endif  // NETMAN_WS_WS_TEST_FRAMES_H_
