// Copyright netman authors.
#include "netman/codec/default_packer.h"

#include <string>

#include "gtest/gtest.h"

namespace netman {
namespace {

std::string Encoded(uint32_t id, std::string_view body) {
  Buffer out;
  DefaultPacker().Encode(id, body, out);
  return std::string(out.readable());
}

// The Go netman's bytes for Pack(NewMsgPackage(1, []byte("hi"))).
TEST(DefaultPackerTest, WireFormatTestVector) {
  const std::string expected("\x02\x00\x00\x00\x01\x00\x00\x00hi", 10);
  EXPECT_EQ(Encoded(1, "hi"), expected);
  EXPECT_EQ(Encoded(0x04030201, ""),
            std::string("\x00\x00\x00\x00\x01\x02\x03\x04", 8));
  std::string big(0x0102, 'z');
  EXPECT_EQ(Encoded(7, big).substr(0, 8),
            std::string("\x02\x01\x00\x00\x07\x00\x00\x00", 8));
}

TEST(DefaultPackerTest, DecodesCompleteMessage) {
  std::string wire = Encoded(42, "payload") + "trailing";
  auto r = DecodeOne(DefaultPacker(), wire);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->complete);
  EXPECT_EQ(r->consumed, 8u + 7u);
  EXPECT_EQ(r->message.id, 42u);
  EXPECT_EQ(r->message.body, "payload");
}

TEST(DefaultPackerTest, ZeroLengthBodyIsAMessage) {
  std::string wire = Encoded(9, "");
  auto r = DecodeOne(DefaultPacker(), wire);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->complete);
  EXPECT_EQ(r->consumed, 8u);
  EXPECT_EQ(r->message.id, 9u);
  EXPECT_TRUE(r->message.body.empty());
}

TEST(DefaultPackerTest, EveryPrefixNeedsMoreAndReportsDeclaredLength) {
  std::string wire = Encoded(3, "abcdef");
  for (size_t cut = 0; cut < wire.size(); ++cut) {
    auto r = DecodeOne(DefaultPacker(), std::string_view(wire).substr(0, cut));
    ASSERT_TRUE(r.ok()) << cut;
    EXPECT_FALSE(r->complete) << cut;
    if (cut < 8) {
      EXPECT_FALSE(r->declared_body_length.has_value()) << cut;
    } else {
      EXPECT_EQ(r->declared_body_length, 6u) << cut;
    }
  }
}

TEST(DefaultPackerTest, HugeDeclaredLengthIsReportedNotAllocated) {
  std::string header("\xff\xff\xff\xff\x01\x00\x00\x00", 8);
  auto r = DecodeOne(DefaultPacker(), header);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->complete);
  EXPECT_EQ(r->declared_body_length, 0xffffffffu);
}

TEST(DefaultPackerTest, RoundTripsManyMessagesBackToBack) {
  Buffer out;
  DefaultPacker packer;
  for (uint32_t i = 0; i < 100; ++i) {
    packer.Encode(i, std::string(i, static_cast<char>('a' + i % 26)), out);
  }
  std::string_view in = out.readable();
  for (uint32_t i = 0; i < 100; ++i) {
    auto r = DecodeOne(packer, in);
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(r->complete);
    EXPECT_EQ(r->message.id, i);
    EXPECT_EQ(r->message.body, std::string(i, static_cast<char>('a' + i % 26)));
    in.remove_prefix(r->consumed);
  }
  EXPECT_TRUE(in.empty());
}

TEST(DefaultPackerTest, DecodeOverwritesEveryFieldOfAReusedResult) {
  // The framework reuses one DecodeResult across a whole read.
  const DefaultPacker packer;
  DecodeResult r;
  const std::string frame = Encoded(5, "abc");
  ASSERT_TRUE(packer.Decode(std::string_view(frame).substr(0, 9), &r).ok());
  EXPECT_FALSE(r.complete);
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_EQ(r.declared_body_length, 3u);
  ASSERT_TRUE(packer.Decode(frame, &r).ok());
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.consumed, 11u);
  EXPECT_FALSE(r.declared_body_length.has_value());
  EXPECT_EQ(r.message.id, 5u);
  EXPECT_EQ(r.message.body, "abc");
  ASSERT_TRUE(packer.Decode(std::string_view(frame).substr(0, 3), &r).ok());
  EXPECT_FALSE(r.complete);
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_FALSE(r.declared_body_length.has_value());
}

TEST(DefaultPackerTest, ThroughThePackerInterface) {
  const DefaultPacker packer;
  const Packer& p = packer;
  DecodeResult r;
  const std::string frame = Encoded(0xdeadbeef, "xyz") + "tail";
  ASSERT_TRUE(p.Decode(frame, &r).ok());
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(r.message.id, 0xdeadbeefu);
  EXPECT_EQ(r.message.body, "xyz");
  // The body points into the input, not at a copy.
  EXPECT_EQ(r.message.body.data(), frame.data() + 8);
}

}  // namespace
}  // namespace netman
