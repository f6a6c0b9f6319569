// Copyright netman authors.
#include "netman/ws/websocket_wire.h"

#include <string>

#include "gtest/gtest.h"

namespace netman::websocket_wire {
namespace {

TEST(WebSocketWireTest, AcceptMatchesTheRfcExample) {
  // RFC 6455 section 1.3.
  EXPECT_EQ(AcceptFor("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketWireTest, FrameHeaderUsesTheShortestLengthForm) {
  char h[10];
  ASSERT_EQ(EncodeFrameHeader(kFin | kOpBinary, 125, false, h), 2u);
  EXPECT_EQ(static_cast<uint8_t>(h[0]), 0x82);
  EXPECT_EQ(static_cast<uint8_t>(h[1]), 125);
  ASSERT_EQ(EncodeFrameHeader(kFin | kOpText, 126, true, h), 4u);
  EXPECT_EQ(static_cast<uint8_t>(h[1]), 0x80 | 126);
  EXPECT_EQ(std::string(h + 2, 2), std::string("\x00\x7e", 2));
  ASSERT_EQ(EncodeFrameHeader(kFin | kOpBinary, 65536, false, h), 10u);
  EXPECT_EQ(static_cast<uint8_t>(h[1]), 127);
  EXPECT_EQ(std::string(h + 2, 8), std::string("\0\0\0\0\0\x01\0\0", 8));
}

TEST(WebSocketWireTest, MaskCopyIsItsOwnInverseAtEveryLength) {
  const char wire_key[4] = {'\x37', '\xfa', '\x21', '\x3d'};
  const uint32_t key = LoadMaskKey(wire_key);
  char stored[4];
  StoreMaskKey(key, stored);
  EXPECT_EQ(std::string(stored, 4), std::string(wire_key, 4));
  for (size_t n = 0; n < 40; ++n) {
    std::string plain(n, '\0');
    for (size_t i = 0; i < n; ++i) plain[i] = static_cast<char>('a' + i);
    std::string masked(n, '\0');
    MaskCopy(masked.data(), plain.data(), n, key);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(masked[i], static_cast<char>(plain[i] ^ wire_key[i % 4])) << n << " " << i;
    }
    MaskCopy(masked.data(), masked.data(), n, key);  // in place
    EXPECT_EQ(masked, plain) << n;
  }
}

TEST(WebSocketWireTest, HeaderTokens) {
  EXPECT_TRUE(HasHeaderToken("Upgrade", "upgrade"));
  EXPECT_TRUE(HasHeaderToken("keep-alive, \tUpgrade ", "upgrade"));
  EXPECT_FALSE(HasHeaderToken("keep-alive, Upgraded", "upgrade"));
  EXPECT_FALSE(HasHeaderToken("", "upgrade"));
}

TEST(WebSocketWireTest, Base64) {
  const uint8_t bytes[] = {'f', 'o', 'o', 'b'};
  EXPECT_EQ(Base64(bytes, 4), "Zm9vYg==");
  EXPECT_EQ(Base64(bytes, 3), "Zm9v");
  EXPECT_EQ(Base64(bytes, 0), "");
}

}  // namespace
}  // namespace netman::websocket_wire
