// Copyright netman authors.
#include "netman/codec/protobuf_codec.h"

#include <string>

#include "gtest/gtest.h"
#include "netman/codec/default_packer.h"
#include "netman/proto/test_messages.pb.h"

namespace netman {
namespace {

TEST(ProtobufCodecTest, EncodesInPlaceWithTheDefaultHeader) {
  DefaultPacker packer;
  test::Ping ping;
  ping.set_text("hi");
  Buffer out;
  ASSERT_TRUE(EncodeProto(packer, 7, ping, out).ok());
  // 8-byte header (length 4, id 7), then 0a 02 'h' 'i'.
  EXPECT_EQ(out.readable(), std::string("\x04\x00\x00\x00\x07\x00\x00\x00\x0a\x02hi", 12));
  absl::StatusOr<DecodeResult> r = DecodeOne(packer, out.readable());
  ASSERT_TRUE(r.ok() && r->complete);
  test::Ping back;
  ASSERT_TRUE(ParseProto(r->message.body, back).ok());
  EXPECT_EQ(back.text(), "hi");
}

TEST(ProtobufCodecTest, EmptyMessageIsAnEmptyBody) {
  DefaultPacker packer;
  Buffer out;
  ASSERT_TRUE(EncodeProto(packer, 1, test::Ping(), out).ok());
  EXPECT_EQ(out.readable(), std::string("\x00\x00\x00\x00\x01\x00\x00\x00", 8));
  test::Ping ping;
  ping.set_text("stale");
  ASSERT_TRUE(ParseProto("", ping).ok());
  EXPECT_EQ(ping.text(), "");  // cleared first
}

TEST(ProtobufCodecTest, BadBodiesAreInvalidArgumentNamingTheType) {
  test::Blob blob;
  for (std::string_view bad : {std::string_view("\xff\xff", 2),          // bad varint
                               std::string_view("\x0a\x05x", 3),         // truncated field
                               std::string_view("\x0b", 1)}) {           // group start, wire type 3
    absl::Status s = ParseProto(bad, blob);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_NE(s.message().find("does not parse as netman.test.Blob"), std::string::npos) << s;
  }
}

TEST(ProtobufCodecTest, BodySizeIsByteSizeLong) {
  test::Blob blob;
  blob.set_data(std::string(64, 'x'));
  absl::StatusOr<size_t> size = ProtoBodySize(blob);
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 66u);
  std::string out(*size, '\0');
  SerializeProtoTo(blob, out.data());
  EXPECT_EQ(out, blob.SerializeAsString());
}

}  // namespace
}  // namespace netman
