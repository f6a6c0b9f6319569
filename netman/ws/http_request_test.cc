// Copyright netman authors.
#include "netman/ws/http_request.h"

#include <string>

#include "gtest/gtest.h"

namespace netman::ws {
namespace {

constexpr char kRequest[] =
    "GET /chat%20room?token=a%2Bb&name=J+D&flag HTTP/1.1\r\n"
    "host: example.com\r\n"
    "UPGRADE: websocket\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    "Cookie: a=1\r\n"
    "Sec-WebSocket-Key:dGhlIHNhbXBsZSBub25jZQ==  \r\n"
    "\r\n";

TEST(HttpRequestParserTest, ParsesAHeadSplitAtEveryByte) {
  const std::string bytes = std::string(kRequest) + "\x81\x80";  // a frame follows
  const size_t head = sizeof(kRequest) - 1;
  for (size_t split = 0; split <= bytes.size(); ++split) {
    HttpRequestParser parser;
    HttpRequest req;
    HttpRequestParser::Result r = parser.Parse(std::string_view(bytes).substr(0, split), &req);
    if (split < head) {
      ASSERT_EQ(r, HttpRequestParser::Result::kNeedMore) << split;
      r = parser.Parse(bytes, &req);
    }
    ASSERT_EQ(r, HttpRequestParser::Result::kDone) << split;
    EXPECT_EQ(parser.head_size(), head);
    EXPECT_EQ(req.method, "GET");
    EXPECT_EQ(req.path, "/chat room");
    EXPECT_EQ(req.QueryParam("token"), "a+b");
    EXPECT_EQ(req.QueryParam("name"), "J D");
    EXPECT_EQ(req.QueryParam("flag"), "");
    EXPECT_EQ(req.Header("HOST"), "example.com");
    EXPECT_EQ(req.Header("sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==");
    EXPECT_TRUE(req.HasToken("connection", "upgrade"));
    EXPECT_TRUE(req.HasToken("Upgrade", "WebSocket"));
    EXPECT_EQ(req.Header("Cookie"), "a=1");
  }
}

TEST(HttpRequestParserTest, ByteByByte) {
  const std::string bytes = kRequest;
  HttpRequestParser parser;
  HttpRequest req;
  for (size_t n = 1; n < bytes.size(); ++n) {
    ASSERT_EQ(parser.Parse(std::string_view(bytes).substr(0, n), &req),
              HttpRequestParser::Result::kNeedMore);
  }
  EXPECT_EQ(parser.Parse(bytes, &req), HttpRequestParser::Result::kDone);
  EXPECT_EQ(req.path, "/chat room");
}

int StatusOf(std::string bytes, size_t max = HttpRequestParser::kDefaultMaxHeadSize) {
  HttpRequestParser parser(max);
  HttpRequest request;
  const HttpRequestParser::Result r = parser.Parse(bytes, &request);
  if (r == HttpRequestParser::Result::kNeedMore) return 0;
  if (r == HttpRequestParser::Result::kDone) return 200;
  return parser.error_status();
}

TEST(HttpRequestParserTest, RejectsMalformedHeads) {
  EXPECT_EQ(StatusOf("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 200);
  EXPECT_EQ(StatusOf("GET /  HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(StatusOf("GET / HTTP/1.1 x\r\n\r\n"), 400);
  EXPECT_EQ(StatusOf("G(T / HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(StatusOf("GET / HTTP/2.0\r\n\r\n"), 505);
  EXPECT_EQ(StatusOf("GET / HTTQ/1.1\r\n\r\n"), 400);
  EXPECT_EQ(StatusOf("GET / HTTP/1.1\r\nNo colon\r\n\r\n"), 400);
  EXPECT_EQ(StatusOf("GET / HTTP/1.1\r\nName : v\r\n\r\n"), 400);
  EXPECT_EQ(StatusOf("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n"), 400);
  constexpr char kNul[] = "GET / HTTP/1.1\r\nA: b\0c\r\n\r\n";
  EXPECT_EQ(StatusOf(std::string(kNul, sizeof(kNul) - 1)), 400);
  EXPECT_EQ(StatusOf("GET /%zz HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(StatusOf("GET /?a=%4 HTTP/1.1\r\n\r\n"), 400);
}

TEST(HttpRequestParserTest, CapsTheHeadSize) {
  std::string big = "GET / HTTP/1.1\r\nX: " + std::string(200, 'a');
  EXPECT_EQ(StatusOf(big, 100), 431);  // no end yet, already too long
  EXPECT_EQ(StatusOf(big + "\r\n\r\n", 100), 431);
  EXPECT_EQ(StatusOf(big + "\r\n\r\n", 1000), 200);
}

TEST(PercentDecodeTest, Decodes) {
  EXPECT_EQ(*PercentDecode("a%20b+c", false), "a b+c");
  EXPECT_EQ(*PercentDecode("a%20b+c", true), "a b c");
  EXPECT_FALSE(PercentDecode("%", true).ok());
  EXPECT_FALSE(PercentDecode("%g0", true).ok());
}

}  // namespace
}  // namespace netman::ws
