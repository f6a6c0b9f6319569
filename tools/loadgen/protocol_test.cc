// Copyright netman authors.
#include "tools/loadgen/protocol.h"

#include <array>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace netman::loadgen {
namespace {

constexpr uint32_t kMaskKey = 0xa1b2c3d4;

std::unique_ptr<Protocol> Make(std::string_view mode, size_t size, bool verify,
                               uint32_t id = 0) {
  ProtocolOptions options;
  options.size = size;
  options.id = id;
  options.verify_content = verify;
  options.ws_path = "/chat";
  options.ws_host = "example.com:80";
  absl::StatusOr<std::unique_ptr<Protocol>> p = CreateProtocol(mode, options);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? std::move(*p) : nullptr;
}

std::string Requests(const Protocol& p, uint64_t first_seq, size_t count,
                     uint32_t mask_key = kMaskKey) {
  std::string out(count * p.request_size(), '\0');
  p.EncodeRequests(first_seq, count, mask_key, out.data());
  return out;
}

// --- a reference WebSocket echo, written from RFC 6455 5.2 ---------------

uint64_t FrameLength(const std::string& f, size_t* header) {
  const uint8_t code = static_cast<uint8_t>(f[1]) & 0x7f;
  uint64_t len = code;
  size_t ext = 0;
  if (code == 126) ext = 2;
  if (code == 127) ext = 8;
  if (ext > 0) {
    len = 0;
    for (size_t i = 0; i < ext; ++i)
      len = len << 8 | static_cast<uint8_t>(f[2 + i]);
  }
  *header = 2 + ext;
  return len;
}

std::string UnmaskedHeader(uint8_t b0, uint64_t len) {
  std::string h(1, static_cast<char>(b0));
  if (len < 126) {
    h += static_cast<char>(len);
  } else if (len < 65536) {
    h += static_cast<char>(126);
    h += static_cast<char>(len >> 8);
    h += static_cast<char>(len & 0xff);
  } else {
    h += static_cast<char>(127);
    for (int i = 7; i >= 0; --i)
      h += static_cast<char>((len >> (8 * i)) & 0xff);
  }
  return h;
}

// What a server echoes for a stream of masked client frames.
std::string WsEcho(std::string stream) {
  std::string out;
  while (!stream.empty()) {
    size_t header = 0;
    const uint64_t len = FrameLength(stream, &header);
    EXPECT_TRUE(static_cast<uint8_t>(stream[1]) & 0x80) << "unmasked request";
    const std::string key = stream.substr(header, 4);
    std::string payload = stream.substr(header + 4, len);
    for (size_t i = 0; i < payload.size(); ++i) payload[i] ^= key[i % 4];
    out += UnmaskedHeader(static_cast<uint8_t>(stream[0]), len) + payload;
    stream.erase(0, header + 4 + len);
  }
  return out;
}

// The replies a correct server sends for `requests`.
std::string Replies(std::string_view mode, const std::string& requests) {
  return mode == "ws" ? WsEcho(requests) : requests;
}

// Feeds `stream` to Consume in the pieces [0, cuts[0]), [cuts[0], cuts[1]),
// ..., [cuts.back(), end); returns the replies completed or the first error.
absl::StatusOr<uint64_t> ConsumeInPieces(const Protocol& p,
                                         const std::string& stream,
                                         const std::vector<size_t>& cuts,
                                         ReplyCursor& c) {
  uint64_t done = 0;
  size_t from = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(stream.size());
  for (size_t to : ends) {
    absl::StatusOr<uint64_t> r = p.Consume(c, stream.data() + from, to - from);
    if (!r.ok()) return r.status();
    done += *r;
    from = to;
  }
  return done;
}

TEST(ProtocolTest, NetmanWireFormat) {
  auto p = Make("netman", 10, false, /*id=*/7);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->request_size(), 18u);
  const std::string frame = Requests(*p, 0x0102, 1);
  EXPECT_EQ(frame.substr(0, 8),
            std::string("\x0a\x00\x00\x00\x07\x00\x00\x00", 8));
  EXPECT_EQ(frame.substr(8, 3),
            std::string("\x02\x01\x00", 3));  // seq, little-endian
}

TEST(ProtocolTest, EchoedStreamVerifiesAtEverySplit) {
  for (std::string_view mode : {"netman", "raw", "ws"}) {
    for (size_t size : {0, 1, 5, 8, 9, 64, 125, 126, 300}) {
      if (mode == "raw" && size == 0) continue;
      auto p = Make(mode, size, true);
      ASSERT_NE(p, nullptr);
      const std::string stream = Replies(mode, Requests(*p, 0, 3));
      for (size_t cut1 = 0; cut1 <= stream.size(); ++cut1) {
        for (size_t cut2 = cut1; cut2 <= stream.size(); cut2 += 7) {
          ReplyCursor c;
          uint64_t done = 0;
          for (auto [from, to] : {std::pair<size_t, size_t>{0, cut1},
                                  {cut1, cut2},
                                  {cut2, stream.size()}}) {
            absl::StatusOr<uint64_t> r =
                p->Consume(c, stream.data() + from, to - from);
            ASSERT_TRUE(r.ok())
                << mode << " size " << size << ": " << r.status();
            done += *r;
          }
          ASSERT_EQ(done, 3u)
              << mode << " size " << size << " cuts " << cut1 << "," << cut2;
          EXPECT_EQ(c.next_seq, 3u);
        }
      }
    }
  }
}

TEST(ProtocolTest, NetmanRejectsWrongIdOrLength) {
  auto p = Make("netman", 16, false, /*id=*/3);
  std::string frame = Requests(*p, 0, 1);
  frame[4] = 4;  // id 4
  ReplyCursor c;
  absl::StatusOr<uint64_t> r = p->Consume(c, frame.data(), frame.size());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("id 4"), std::string_view::npos)
      << r.status();

  frame = Requests(*p, 0, 1);
  frame[0] = 15;  // length 15
  ReplyCursor c2;
  r = p->Consume(c2, frame.data(), frame.size());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
}

TEST(ProtocolTest, ContentCheckedOnlyWhenAsked) {
  for (std::string_view mode : {"netman", "raw", "ws"}) {
    auto strict = Make(mode, 64, true);
    auto lax = Make(mode, 64, false);
    std::string stream = Replies(mode, Requests(*strict, 0, 2));
    stream[stream.size() - 5] ^= 1;  // a body byte of the second message
    ReplyCursor c1, c2;
    EXPECT_EQ(strict->Consume(c1, stream.data(), stream.size()).status().code(),
              absl::StatusCode::kDataLoss)
        << mode;
    absl::StatusOr<uint64_t> r = lax->Consume(c2, stream.data(), stream.size());
    ASSERT_TRUE(r.ok()) << mode;
    EXPECT_EQ(*r, 2u);
  }
}

TEST(ProtocolTest, ReplyOfAnotherRequestIsCaught) {
  // Replies must come back in order: the body of request 1 where request 0's
  // reply is expected is a mismatch (its sequence number differs).
  auto p = Make("netman", 64, true);
  const std::string second = Requests(*p, 1, 1);
  ReplyCursor c;
  EXPECT_EQ(p->Consume(c, second.data(), second.size()).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(ProtocolTest, Modes) {
  ProtocolOptions options;
  absl::StatusOr<std::unique_ptr<Protocol>> ws = CreateProtocol("ws", options);
  ASSERT_TRUE(ws.ok()) << ws.status();
  EXPECT_EQ((*ws)->name(), "ws");
  EXPECT_TRUE((*ws)->masks_requests());
  for (const char* path : {"", "chat", "/a b", "/a\r\nX: y", "/\x7f"}) {
    options.ws_path = path;
    EXPECT_EQ(CreateProtocol("ws", options).status().code(),
              absl::StatusCode::kInvalidArgument)
        << path;
  }
  options.ws_path = "/";
  EXPECT_EQ(CreateProtocol("http", options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.size = 0;
  EXPECT_EQ(CreateProtocol("raw", options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ProtocolTest, OnlyWsHasAnOpening) {
  const std::array<uint8_t, 16> nonce{};
  EXPECT_EQ(Make("netman", 8, false)->NewOpening(nonce), nullptr);
  EXPECT_EQ(Make("raw", 8, false)->NewOpening(nonce), nullptr);
  EXPECT_FALSE(Make("netman", 8, false)->masks_requests());
  EXPECT_NE(Make("ws", 8, false)->NewOpening(nonce), nullptr);
}

// --- ws: frames -----------------------------------------------------------

TEST(WsProtocolTest, FrameEncodingInEveryLengthForm) {
  struct Case {
    size_t size;
    std::string length;  // the frame's second byte and extended length
  };
  const Case cases[] = {
      {0, std::string("\x80", 1)},
      {125, std::string("\xfd", 1)},
      {126, std::string("\xfe\x00\x7e", 3)},
      {65535, std::string("\xfe\xff\xff", 3)},
      {65536, std::string("\xff\x00\x00\x00\x00\x00\x01\x00\x00", 9)},
  };
  for (const Case& k : cases) {
    auto p = Make("ws", k.size, false);
    ASSERT_NE(p, nullptr);
    const size_t header = 1 + k.length.size();
    EXPECT_EQ(p->request_size(), header + 4 + k.size) << k.size;
    EXPECT_EQ(p->reply_size(), header + k.size) << k.size;
    const std::string frame = Requests(*p, 0x0102, 1);
    ASSERT_EQ(frame.size(), p->request_size());
    EXPECT_EQ(frame[0], '\x82') << "FIN + binary";
    EXPECT_EQ(frame.substr(1, k.length.size()), k.length) << k.size;
    // Key byte i is mask_key >> 8i.
    EXPECT_EQ(frame.substr(header, 4), std::string("\xd4\xc3\xb2\xa1", 4));
    // Unmasked, the payload is the body raw mode sends for the same request.
    std::string payload = frame.substr(header + 4);
    const std::string masked = payload;
    for (size_t i = 0; i < payload.size(); ++i)
      payload[i] ^= frame[header + i % 4];
    if (k.size > 0) {
      EXPECT_EQ(payload, Requests(*Make("raw", k.size, false), 0x0102, 1))
          << k.size;
      EXPECT_EQ(payload.substr(0, 3), std::string("\x02\x01\x00", 3));
      EXPECT_NE(payload, masked) << "the payload goes out masked";
    }
    // The reply is the same frame unmasked.
    EXPECT_EQ(WsEcho(frame), UnmaskedHeader(0x82, k.size) + payload);
  }
}

TEST(WsProtocolTest, EveryConnectionMasksWithItsOwnKey) {
  auto p = Make("ws", 64, false);
  const std::string a = Requests(*p, 5, 2, 0x01020304);
  const std::string b = Requests(*p, 5, 2, 0xfffefdfc);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.substr(2, 4), std::string("\x04\x03\x02\x01", 4));
  EXPECT_EQ(WsEcho(a), WsEcho(b));  // the same messages underneath
  // A key of zero leaves the payload as it is.
  EXPECT_EQ(Requests(*p, 5, 1, 0).substr(6),
            Requests(*Make("raw", 64, false), 5, 1));
}

TEST(WsProtocolTest, LargeRepliesVerifyAtEverySplit) {
  for (size_t size : {65535, 65536}) {
    auto strict = Make("ws", size, true);
    auto lax = Make("ws", size, false);
    const std::string stream = WsEcho(Requests(*strict, 7, 3));
    const size_t frame = strict->reply_size();
    ASSERT_EQ(stream.size(), 3 * frame);
    // Every split point for the framing (lengths only: O(1) per call) ...
    for (size_t cut = 0; cut <= stream.size(); ++cut) {
      ReplyCursor c;
      absl::StatusOr<uint64_t> done = ConsumeInPieces(*lax, stream, {cut}, c);
      ASSERT_TRUE(done.ok()) << size << " cut " << cut << ": " << done.status();
      ASSERT_EQ(*done, 3u) << size << " cut " << cut;
    }
    // ... and the contents around every frame boundary and header byte.
    for (size_t f = 0; f < 3; ++f) {
      for (size_t d = 0; d < 32; ++d) {
        for (size_t cut : {f * frame + d, (f + 1) * frame - d}) {
          ReplyCursor c;
          c.next_seq = 7;
          absl::StatusOr<uint64_t> done = ConsumeInPieces(
              *strict, stream, {cut, std::min(cut + 3, stream.size())}, c);
          ASSERT_TRUE(done.ok())
              << size << " cut " << cut << ": " << done.status();
          EXPECT_EQ(*done, 3u);
          EXPECT_EQ(c.next_seq, 10u);
        }
      }
    }
  }
}

// The reply stream `good` with frame header bytes [at, at + with.size())
// replaced.
std::string Patch(std::string good, size_t at, const std::string& with) {
  good.replace(at, with.size(), with);
  return good;
}

TEST(WsProtocolTest, BadRepliesAreDataLoss) {
  auto p = Make("ws", 64, true);
  const std::string request = Requests(*p, 0, 1);
  const std::string good = WsEcho(request);
  ASSERT_EQ(good.substr(0, 2), std::string("\x82\x40", 2));
  struct Case {
    std::string reply;
    const char* says;
  };
  const Case cases[] = {
      {request, "masked length 64"},                    // the server masked
      {Patch(good, 0, "\x81"), "opcode 0x1 (text)"},    // wrong opcode
      {Patch(good, 0, "\x02"), "FIN=0"},                // a fragment
      {Patch(good, 0, "\xc2"), "RSV set"},              // an extension bit
      {Patch(good, 1, "\x3f"), "length 63"},            // wrong length
      {std::string("\x88\x02\x03\xe8", 4), "(close)"},  // the server closes
      {std::string("\x89\x00", 2) + good, "(ping)"},    // a ping first
      {UnmaskedHeader(0x82, 64).replace(1, 1, "\x7e") +
           std::string("\x00\x40", 2) + good.substr(2),
       "code 126"},                           // not the shortest length form
      {Patch(good, 5, "x"), "body differs"},  // content
      {WsEcho(Requests(*p, 1, 1)), "body differs"},  // another request's reply
  };
  for (const Case& k : cases) {
    // Whole, and byte by byte.
    ReplyCursor c;
    absl::StatusOr<uint64_t> r = p->Consume(c, k.reply.data(), k.reply.size());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << k.says;
    EXPECT_NE(r.status().message().find(k.says), std::string_view::npos)
        << r.status();
    ReplyCursor c2;
    absl::Status last;
    for (size_t i = 0; i < k.reply.size() && last.ok(); ++i)
      last = p->Consume(c2, k.reply.data() + i, 1).status();
    EXPECT_EQ(last.code(), absl::StatusCode::kDataLoss) << k.says;
  }
  ReplyCursor c;
  absl::StatusOr<uint64_t> r = p->Consume(c, request.data(), request.size());
  EXPECT_NE(r.status().message().find(
                "expected FIN=1 opcode 0x2 (binary) unmasked length 64"),
            std::string_view::npos)
      << r.status();
}

// --- ws: the opening handshake --------------------------------------------

// RFC 6455 1.3's example: this nonce is the key dGhlIHNhbXBsZSBub25jZQ==.
std::array<uint8_t, 16> SampleNonce() {
  std::array<uint8_t, 16> nonce;
  std::memcpy(nonce.data(), "the sample nonce", 16);
  return nonce;
}

constexpr std::string_view kGoodResponse =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    "\r\n";

TEST(WsOpeningTest, Request) {
  auto o = Make("ws", 64, false)->NewOpening(SampleNonce());
  EXPECT_EQ(o->request(),
            "GET /chat HTTP/1.1\r\n"
            "Host: example.com:80\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "\r\n");
  EXPECT_FALSE(o->done());
}

TEST(WsOpeningTest, GoodResponseAtEverySplit) {
  auto p = Make("ws", 64, true);
  const std::string after = WsEcho(Requests(*p, 0, 1)).substr(0, 10);
  const std::string response = std::string(kGoodResponse) + after;
  for (size_t cut = 0; cut <= response.size(); ++cut) {
    auto o = p->NewOpening(SampleNonce());
    size_t used = 0;
    for (auto [from, to] :
         {std::pair<size_t, size_t>{0, cut}, {cut, response.size()}}) {
      if (o->done()) break;
      absl::StatusOr<size_t> r = o->Feed(response.data() + from, to - from);
      ASSERT_TRUE(r.ok()) << "cut " << cut << ": " << r.status();
      used += *r;
    }
    EXPECT_TRUE(o->done()) << cut;
    EXPECT_EQ(used, kGoodResponse.size()) << cut;
  }
  // Byte by byte: done exactly at the last byte of the response.
  auto o = p->NewOpening(SampleNonce());
  for (size_t i = 0; i < kGoodResponse.size(); ++i) {
    ASSERT_FALSE(o->done()) << i;
    absl::StatusOr<size_t> r = o->Feed(kGoodResponse.data() + i, 1);
    ASSERT_TRUE(r.ok()) << i << ": " << r.status();
    EXPECT_EQ(*r, 1u);
  }
  EXPECT_TRUE(o->done());
}

TEST(WsOpeningTest, HeaderCaseAndListsAndOtherHeaders) {
  const std::string response =
      "HTTP/1.1 101 Switching Protocols\r\n"
      "Server: test\r\n"
      "upgrade: WebSocket\r\n"
      "CONNECTION: keep-alive, upgrade\r\n"
      "sec-websocket-accept:s3pPLMBiTxaQ9kYGzzhZRbK+xOo=  \r\n"
      "Sec-WebSocket-Extensions: \r\n"
      "\r\n";
  auto o = Make("ws", 64, false)->NewOpening(SampleNonce());
  absl::StatusOr<size_t> r = o->Feed(response.data(), response.size());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, response.size());
  EXPECT_TRUE(o->done());
}

std::string WithLine(std::string_view replaced, std::string_view by) {
  std::string r(kGoodResponse);
  const size_t at = r.find(replaced);
  EXPECT_NE(at, std::string::npos) << replaced;
  return r.replace(at, replaced.size(), by);
}

TEST(WsOpeningTest, BadResponsesAreDataLoss) {
  struct Case {
    std::string response;
    const char* says;
  };
  const Case cases[] = {
      {WithLine("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "s3pPLMBiTxaQ9kYGzzhZRbK+xOp="),
       "Sec-WebSocket-Accept is \"s3pPLMBiTxaQ9kYGzzhZRbK+xOp=\", expected"},
      {WithLine("101 Switching Protocols", "400 Bad Request"),
       "\"HTTP/1.1 400 Bad Request\", expected status 101"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "expected status 101"},
      {"GET /chat HTTP/1.1\r\nHost: x\r\n\r\n", "not an HTTP response"},
      {"HTTP/1.1 1010 x\r\n\r\n", "not an HTTP response"},
      {WithLine("Upgrade: websocket\r\n", ""), "no \"Upgrade: websocket\""},
      {WithLine("Upgrade: websocket", "Upgrade: h2c"),
       "no \"Upgrade: websocket\""},
      {WithLine("Connection: Upgrade\r\n", ""), "no \"Connection: Upgrade\""},
      {WithLine("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", ""),
       "no Sec-WebSocket-Accept"},
      {WithLine("Connection: Upgrade\r\n",
                "Connection: Upgrade\r\nSec-WebSocket-Extensions: "
                "permessage-deflate\r\n"),
       "did not offer"},
      {WithLine("Connection: Upgrade\r\n", "Connection: Upgrade\r\nbroken\r\n"),
       "malformed header line"},
      {"HTTP/1.1 101 Switching Protocols\r\nX: " + std::string(9000, 'a'),
       "no end of the response headers within 8192 bytes"},
  };
  for (const Case& k : cases) {
    // Whole, and byte by byte.
    auto o = Make("ws", 64, false)->NewOpening(SampleNonce());
    absl::StatusOr<size_t> r = o->Feed(k.response.data(), k.response.size());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << k.says;
    EXPECT_NE(r.status().message().find(k.says), std::string_view::npos)
        << r.status();
    EXPECT_FALSE(o->done());
    auto o2 = Make("ws", 64, false)->NewOpening(SampleNonce());
    absl::Status last;
    for (size_t i = 0; i < k.response.size() && last.ok(); ++i)
      last = o2->Feed(k.response.data() + i, 1).status();
    EXPECT_EQ(last.code(), absl::StatusCode::kDataLoss) << k.says;
  }
}

TEST(ProtocolTest, FixedBodyIsSentAsIsAndVerified) {
  // --body_hex: e.g. a serialised protobuf; no sequence number inside.
  ProtocolOptions options;
  options.body = std::string("\x0a\x03" "abc", 5);
  options.size = options.body->size();
  options.id = 2;
  options.verify_content = true;
  absl::StatusOr<std::unique_ptr<Protocol>> p = CreateProtocol("netman", options);
  ASSERT_TRUE(p.ok()) << p.status();
  const std::string frames = Requests(**p, 7, 2);
  const std::string one = std::string("\x05\x00\x00\x00\x02\x00\x00\x00", 8) + *options.body;
  EXPECT_EQ(frames, one + one);
  ReplyCursor c;
  absl::StatusOr<uint64_t> r = (*p)->Consume(c, frames.data(), frames.size());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, 2u);
  std::string wrong = one;
  wrong.back() = 'x';
  ReplyCursor c2;
  EXPECT_EQ((*p)->Consume(c2, wrong.data(), wrong.size()).status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace netman::loadgen
