// Copyright netman authors.
#include "netman/ws/frame_parser.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "netman/ws/close_codes.h"
#include "netman/ws/ws_test_frames.h"

namespace netman::ws {
namespace {

using testing::ClientFrame;
using testing::CloseBody;
using websocket_wire::kFin;
using websocket_wire::kOpBinary;
using websocket_wire::kOpClose;
using websocket_wire::kOpContinuation;
using websocket_wire::kOpPing;
using websocket_wire::kOpPong;
using websocket_wire::kOpText;
using Kind = FrameParser::Kind;

// What a stream of bytes parses to, as text: "M1:hello P: C1000: E1002".
struct Parsed {
  std::string events;
  uint16_t error = 0;
};

std::string Describe(const FrameParser::Event& e) {
  switch (e.kind) {
    case Kind::kMessage:
      return "M" + std::to_string(e.opcode) + (e.compressed ? "z" : "") + ":" +
             std::string(e.payload) + " ";
    case Kind::kPing: return "P:" + std::string(e.payload) + " ";
    case Kind::kPong: return "p:" + std::string(e.payload) + " ";
    case Kind::kClose:
      return "C" + std::to_string(e.close_code) + ":" + std::string(e.close_reason) + " ";
    case Kind::kError: return "E" + std::to_string(e.close_code) + " ";
    case Kind::kNeedMore: return "";
  }
  return "?";
}

// Feeds `bytes` in pieces cut at `cuts`, keeping unconsumed bytes as a
// connection does (the parser may have modified them in place).
Parsed Feed(const std::string& bytes, const std::vector<size_t>& cuts,
         FrameParser::Options options = {}) {
  FrameParser parser(options);
  Parsed run;
  std::string buffered;
  size_t from = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(bytes.size());
  for (size_t end : ends) {
    buffered.append(bytes, from, end - from);
    from = end;
    for (;;) {
      FrameParser::Event e = parser.Next(std::span<char>(buffered.data(), buffered.size()));
      run.events += Describe(e);
      if (e.kind == Kind::kError) {
        run.error = e.close_code;
        return run;
      }
      buffered.erase(0, e.consumed);
      if (e.kind == Kind::kNeedMore) break;
    }
  }
  return run;
}

Parsed Whole(const std::string& bytes, FrameParser::Options options = {}) {
  return Feed(bytes, {}, options);
}

// Every split into two and three pieces gives the same events as the whole.
void ExpectSameAtEverySplit(const std::string& bytes, FrameParser::Options options = {}) {
  const Parsed whole = Whole(bytes, options);
  for (size_t a = 0; a <= bytes.size(); ++a) {
    const Parsed two = Feed(bytes, {a}, options);
    ASSERT_EQ(two.events, whole.events) << "split at " << a;
    for (size_t b = a; b <= bytes.size() && bytes.size() <= 64; ++b) {
      ASSERT_EQ(Feed(bytes, {a, b}, options).events, whole.events) << a << "," << b;
    }
  }
}

TEST(FrameParserTest, MessagesPingPongAndCloseAtEverySplit) {
  const std::string bytes = ClientFrame(kFin | kOpText, "héllo") +
                            ClientFrame(kFin | kOpBinary, std::string("\0\1\2", 3)) +
                            ClientFrame(kFin | kOpPing, "pi") + ClientFrame(kFin | kOpPong, "") +
                            ClientFrame(kFin | kOpClose, CloseBody(1000, "bye"));
  EXPECT_EQ(Whole(bytes).events, "M1:héllo M2:" + std::string("\0\1\2", 3) + " P:pi p: C1000:bye ");
  ExpectSameAtEverySplit(bytes);
}

TEST(FrameParserTest, FragmentsWithInterleavedControlFrames) {
  const std::string bytes = ClientFrame(kOpText, "fra") + ClientFrame(kFin | kOpPing, "x") +
                            ClientFrame(kOpContinuation, "gm\xc3") +
                            ClientFrame(kFin | kOpContinuation, "\xa9nt");
  EXPECT_EQ(Whole(bytes).events, "P:x M1:fragmént ");
  ExpectSameAtEverySplit(bytes);
}

TEST(FrameParserTest, AllLengthForms) {
  for (size_t n : {0, 125, 126, 65535, 65536, 100000}) {
    const std::string payload(n, 'a');
    EXPECT_EQ(Whole(ClientFrame(kFin | kOpBinary, payload)).events, "M2:" + payload + " ") << n;
  }
}

TEST(FrameParserTest, ProtocolErrorsAre1002) {
  EXPECT_EQ(Whole(ClientFrame(kFin | kOpText, "x", /*masked=*/false)).error, kCloseProtocolError);
  EXPECT_EQ(Whole(ClientFrame(kFin | 0x40 | kOpText, "x")).error, kCloseProtocolError);  // RSV1
  EXPECT_EQ(Whole(ClientFrame(kFin | 0x20 | kOpText, "x")).error, kCloseProtocolError);  // RSV2
  EXPECT_EQ(Whole(ClientFrame(kFin | 0x10 | kOpText, "x")).error, kCloseProtocolError);  // RSV3
  for (uint8_t op : {3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf}) {
    EXPECT_EQ(Whole(ClientFrame(kFin | op, "")).error, kCloseProtocolError) << int(op);
  }
  EXPECT_EQ(Whole(ClientFrame(kOpPing, "x")).error, kCloseProtocolError);  // fragmented
  EXPECT_EQ(Whole(ClientFrame(kFin | kOpPing, std::string(126, 'x'))).error,
            kCloseProtocolError);
  EXPECT_EQ(Whole(ClientFrame(kFin | kOpContinuation, "x")).error, kCloseProtocolError);
  EXPECT_EQ(Whole(ClientFrame(kOpText, "a") + ClientFrame(kFin | kOpText, "b")).error,
            kCloseProtocolError);
  EXPECT_EQ(Whole(ClientFrame(kFin | kOpClose, "x")).error, kCloseProtocolError);
  EXPECT_EQ(Whole(ClientFrame(kFin | kOpClose, CloseBody(1005))).error, kCloseProtocolError);
  EXPECT_EQ(Whole(ClientFrame(kFin | kOpClose, CloseBody(999))).error, kCloseProtocolError);
  EXPECT_EQ(Whole(ClientFrame(kFin | kOpClose, CloseBody(2000))).error, kCloseProtocolError);
  EXPECT_EQ(Whole(ClientFrame(kFin | kOpClose, CloseBody(4999))).events, "C4999: ");
}

TEST(FrameParserTest, RejectsTheHugeLengthFromItsHeaderAlone) {
  // 14 bytes declaring 2^63 + 1: the Go server crashed on this.
  std::string frame = {static_cast<char>(kFin | kOpBinary), static_cast<char>(0x80 | 127)};
  frame += std::string("\x80\0\0\0\0\0\0\x01", 8) + "mask";
  EXPECT_EQ(Whole(frame).error, kCloseProtocolError);
  EXPECT_EQ(Whole(frame.substr(0, 3)).error, kCloseProtocolError);  // fails on byte 3
  // A legal but oversize length: 1009 before any payload.
  std::string big = {static_cast<char>(kFin | kOpBinary), static_cast<char>(0x80 | 127)};
  big += std::string("\0\0\0\0\x02\0\0\0", 8) + "mask";  // 32 MiB
  EXPECT_EQ(Whole(big).error, kCloseMessageTooBig);
}

TEST(FrameParserTest, MaxMessageCountsEveryFragment) {
  FrameParser::Options options;
  options.max_message = 10;
  EXPECT_EQ(Whole(ClientFrame(kFin | kOpBinary, std::string(10, 'a')), options).events,
            "M2:aaaaaaaaaa ");
  EXPECT_EQ(Whole(ClientFrame(kFin | kOpBinary, std::string(11, 'a')), options).error,
            kCloseMessageTooBig);
  EXPECT_EQ(Whole(ClientFrame(kOpBinary, std::string(6, 'a')) +
                      ClientFrame(kFin | kOpContinuation, std::string(5, 'a')),
                  options)
                .error,
            kCloseMessageTooBig);
}

TEST(FrameParserTest, InvalidUtf8Is1007EvenAcrossFramesAndSplits) {
  EXPECT_EQ(Whole(ClientFrame(kFin | kOpText, "\xed\xa0\x80")).error, kCloseInvalidPayload);
  EXPECT_EQ(Whole(ClientFrame(kFin | kOpText, "ok\xc3")).error, kCloseInvalidPayload);
  EXPECT_EQ(Whole(ClientFrame(kOpText, "\xf0\x9f") + ClientFrame(kFin | kOpContinuation, "!")).error,
            kCloseInvalidPayload);
  EXPECT_EQ(Whole(ClientFrame(kFin | kOpClose, CloseBody(1000, "\xff"))).error,
            kCloseInvalidPayload);
  // Binary is not checked.
  EXPECT_EQ(Whole(ClientFrame(kFin | kOpBinary, "\xff")).error, 0);
}

TEST(FrameParserTest, InvalidUtf8FailsBeforeTheFrameIsComplete) {
  // The first 20 bytes of a 1000-byte text frame hold an invalid sequence.
  const std::string frame = ClientFrame(kFin | kOpText, "valid\xc0\xaf" + std::string(993, 'a'));
  const Parsed run = Feed(frame, {20}, {});
  EXPECT_EQ(run.error, kCloseInvalidPayload);
  // And a valid partial frame keeps its progress (and stays correct).
  const std::string ok = ClientFrame(kFin | kOpText, "κόσμε" + std::string(500, 'b'));
  EXPECT_EQ(Feed(ok, {9, 30, 200}).events, Whole(ok).events);
}

TEST(FrameParserTest, CompressedMessagesNeedTheExtension) {
  FrameParser::Options options;
  options.rsv1_allowed = true;
  EXPECT_EQ(Whole(ClientFrame(kFin | 0x40 | kOpText, "zz"), options).events, "M1z:zz ");
  // RSV1 on a continuation or a control frame stays an error.
  EXPECT_EQ(Whole(ClientFrame(0x40 | kOpText, "a") + ClientFrame(kFin | 0x40, "b"), options).error,
            kCloseProtocolError);
  EXPECT_EQ(Whole(ClientFrame(kFin | 0x40 | kOpPing, ""), options).error, kCloseProtocolError);
}

TEST(FrameParserTest, IdleOnlyBetweenMessages) {
  FrameParser parser;
  std::string bytes = ClientFrame(kOpBinary, "a");
  FrameParser::Event e = parser.Next(std::span<char>(bytes.data(), bytes.size()));
  EXPECT_EQ(e.kind, Kind::kNeedMore);
  EXPECT_EQ(e.consumed, bytes.size());
  EXPECT_FALSE(parser.idle());
  bytes = ClientFrame(kFin | kOpContinuation, "b");
  e = parser.Next(std::span<char>(bytes.data(), bytes.size()));
  EXPECT_EQ(e.kind, Kind::kMessage);
  EXPECT_EQ(e.payload, "ab");
  EXPECT_TRUE(parser.idle());
}

}  // namespace
}  // namespace netman::ws
