// Copyright netman authors.
#include "netman/ws/handshake.h"

#include <string>

#include "gtest/gtest.h"

namespace netman::ws {
namespace {

HttpRequest Parse(const std::string& head) {
  HttpRequestParser parser;
  HttpRequest request;
  EXPECT_EQ(parser.Parse(head, &request), HttpRequestParser::Result::kDone) << head;
  return request;
}

std::string Upgrade(std::string extra = "", std::string version = "13") {
  return "GET /x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: " +
         version + "\r\n" + extra + "\r\n";
}

TEST(HandshakeTest, AcceptsAValidUpgrade) {
  UpgradeCheck c = CheckUpgrade(Parse(Upgrade()), {});
  ASSERT_FALSE(c.refusal.has_value());
  EXPECT_EQ(c.agreement.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");  // RFC 6455 1.3
  const std::string response = SwitchingProtocolsResponse(c.agreement);
  EXPECT_EQ(response,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
}

TEST(HandshakeTest, WrongVersionIs426WithTheSupportedVersion) {
  UpgradeCheck c = CheckUpgrade(Parse(Upgrade("", "8")), {});
  ASSERT_TRUE(c.refusal.has_value());
  EXPECT_EQ(c.refusal->status, 426);
  const std::string r = RefusalResponse(*c.refusal);
  EXPECT_EQ(r.rfind("HTTP/1.1 426 Upgrade Required\r\n", 0), 0u);
  EXPECT_NE(r.find("\r\nSec-WebSocket-Version: 13\r\n"), std::string::npos);
}

TEST(HandshakeTest, RefusesMalformedUpgrades) {
  auto status = [](const std::string& head) {
    UpgradeCheck c = CheckUpgrade(Parse(head), {});
    return c.refusal ? c.refusal->status : 101;
  };
  EXPECT_EQ(status("POST /x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
            400);
  EXPECT_EQ(status("GET /x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
            400);
  EXPECT_EQ(status("GET /x HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
            400);  // no Host
  EXPECT_EQ(status("GET /x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
                   "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n"),
            400);  // key of 5 bytes
  EXPECT_EQ(status("GET /x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n"),
            400);  // no key
  EXPECT_EQ(status(Upgrade("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")), 400);  // two keys
}

TEST(HandshakeTest, SelectsTheServersPreferredSubprotocolTheClientOffers) {
  HandshakeOptions options;
  options.subprotocols = {"v2.chat", "v1.chat"};
  UpgradeCheck c =
      CheckUpgrade(Parse(Upgrade("Sec-WebSocket-Protocol: v1.chat, v2.chat\r\n")), options);
  EXPECT_EQ(c.agreement.subprotocol, "v2.chat");
  EXPECT_NE(SwitchingProtocolsResponse(c.agreement).find("Sec-WebSocket-Protocol: v2.chat\r\n"),
            std::string::npos);
  c = CheckUpgrade(Parse(Upgrade("Sec-WebSocket-Protocol: other\r\n")), options);
  EXPECT_EQ(c.agreement.subprotocol, "");
}

TEST(HandshakeTest, OriginAllowList) {
  HandshakeOptions options;
  options.allowed_origins = {"https://good.example"};
  EXPECT_FALSE(CheckUpgrade(Parse(Upgrade("Origin: https://GOOD.example\r\n")), options).refusal);
  UpgradeCheck bad = CheckUpgrade(Parse(Upgrade("Origin: https://evil.example\r\n")), options);
  ASSERT_TRUE(bad.refusal);
  EXPECT_EQ(bad.refusal->status, 403);
  EXPECT_FALSE(CheckUpgrade(Parse(Upgrade()), options).refusal);  // not a browser
}

TEST(HandshakeTest, NegotiatesPermessageDeflate) {
  HandshakeOptions options;
  options.permessage_deflate = true;
  UpgradeCheck c = CheckUpgrade(
      Parse(Upgrade("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n")),
      options);
  ASSERT_TRUE(c.agreement.deflate);
  EXPECT_EQ(c.agreement.deflate->response,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
  EXPECT_EQ(c.agreement.deflate->server_window_bits, 15);
  // The first acceptable offer wins; a bad one is skipped.
  c = CheckUpgrade(Parse(Upgrade("Sec-WebSocket-Extensions: permessage-deflate; x=1, "
                                 "permessage-deflate; server_max_window_bits=10\r\n")),
                   options);
  ASSERT_TRUE(c.agreement.deflate);
  EXPECT_EQ(c.agreement.deflate->server_window_bits, 10);
  EXPECT_NE(c.agreement.deflate->response.find("server_max_window_bits=10"), std::string::npos);
  // zlib cannot compress with 8 bits; repeated parameters are invalid.
  EXPECT_FALSE(CheckUpgrade(Parse(Upgrade("Sec-WebSocket-Extensions: permessage-deflate; "
                                          "server_max_window_bits=8\r\n")),
                            options)
                   .agreement.deflate);
  EXPECT_FALSE(CheckUpgrade(Parse(Upgrade("Sec-WebSocket-Extensions: permessage-deflate; "
                                          "server_no_context_takeover; "
                                          "server_no_context_takeover\r\n")),
                            options)
                   .agreement.deflate);
  // Off unless configured.
  EXPECT_FALSE(CheckUpgrade(Parse(Upgrade("Sec-WebSocket-Extensions: permessage-deflate\r\n")), {})
                   .agreement.deflate);
}

}  // namespace
}  // namespace netman::ws
