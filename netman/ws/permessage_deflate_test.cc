// Copyright netman authors.
#include "netman/ws/permessage_deflate.h"

#include <string>

#include "gtest/gtest.h"

namespace netman::ws {
namespace {

TEST(PermessageDeflateTest, RoundTripsWithoutTheTail) {
  auto deflater = Deflater::Create(15);
  auto inflater = Inflater::Create();
  ASSERT_TRUE(deflater.ok() && inflater.ok());
  for (const std::string& message :
       {std::string(), std::string("Hello"), std::string(100000, 'a') + "tail"}) {
    std::string compressed, out;
    ASSERT_TRUE((*deflater)->Compress(message, true, compressed).ok());
    EXPECT_FALSE(compressed.size() >= 4 && compressed.substr(compressed.size() - 4) ==
                                               std::string("\0\0\xff\xff", 4));
    ASSERT_TRUE((*inflater)->Decompress(compressed, 0, out).ok());
    EXPECT_EQ(out, message);
  }
}

TEST(PermessageDeflateTest, RfcExampleHello) {
  // RFC 7692 section 7.2.3.1: "Hello" compressed.
  auto inflater = Inflater::Create();
  std::string out;
  ASSERT_TRUE((*inflater)->Decompress("\xf2\x48\xcd\xc9\xc9\x07\x00", 0, out).ok());
  EXPECT_EQ(out, "Hello");
}

TEST(PermessageDeflateTest, RefusesZipBombs) {
  auto deflater = Deflater::Create(15);
  auto inflater = Inflater::Create();
  std::string compressed, out;
  ASSERT_TRUE((*deflater)->Compress(std::string(10 << 20, '\0'), true, compressed).ok());
  EXPECT_LT(compressed.size(), 20000u);  // 10 MiB in a few KiB
  absl::Status s = (*inflater)->Decompress(compressed, 1 << 20, out);
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_LE(out.capacity(), (2u << 20));  // never grew far past the limit
  // Exactly at the limit is fine.
  ASSERT_TRUE((*deflater)->Compress(std::string(1000, 'x'), true, compressed).ok());
  EXPECT_TRUE((*inflater)->Decompress(compressed, 1000, out).ok());
  EXPECT_FALSE((*inflater)->Decompress(compressed, 999, out).ok());
}

TEST(PermessageDeflateTest, CorruptDataIsAnError) {
  auto inflater = Inflater::Create();
  std::string out;
  EXPECT_TRUE(absl::IsInvalidArgument((*inflater)->Decompress("\xff\xff\xff\xff", 0, out)));
}

}  // namespace
}  // namespace netman::ws
