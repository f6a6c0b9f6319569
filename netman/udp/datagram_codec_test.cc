// Copyright netman authors.
#include "netman/udp/datagram_codec.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "netman/codec/default_packer.h"
#include "netman/testing/frames.h"

namespace netman {
namespace {

using ::netman::testing::Frame;

// A packer that rejects any frame whose first byte is 'X', to reach the
// malformed path (the default packer accepts every header).
class PickyPacker final : public Packer {
 public:
  absl::Status Decode(std::string_view in, DecodeResult* r) const override {
    if (!in.empty() && in[0] == 'X') return absl::InvalidArgumentError("X");
    return inner_.Decode(in, r);
  }
  void Encode(uint32_t id, std::string_view body, Buffer& out) const override {
    inner_.Encode(id, body, out);
  }

 private:
  DefaultPacker inner_;
};

TEST(CheckDatagramTest, WholeMessagesAreOk) {
  DefaultPacker p;
  DatagramCheck c = CheckDatagram(p, Frame(1, "a") + Frame(2, "") + Frame(3, "ccc"), 0);
  EXPECT_EQ(c.verdict, DatagramVerdict::kOk);
  EXPECT_EQ(c.messages, 3u);
}

TEST(CheckDatagramTest, EveryKindOfBadDatagramIsNamed) {
  DefaultPacker p;
  const std::string f = Frame(1, "hello");
  EXPECT_EQ(CheckDatagram(p, "", 0).verdict, DatagramVerdict::kEmpty);
  EXPECT_EQ(CheckDatagram(p, f.substr(0, 3), 0).verdict, DatagramVerdict::kTruncated);
  EXPECT_EQ(CheckDatagram(p, f.substr(0, 10), 0).verdict, DatagramVerdict::kTruncated);
  EXPECT_EQ(CheckDatagram(p, f + f.substr(0, 1), 0).verdict, DatagramVerdict::kTruncated);
  EXPECT_EQ(CheckDatagram(p, f, 4).verdict, DatagramVerdict::kOversize);
  EXPECT_EQ(CheckDatagram(p, f.substr(0, 8), 4).verdict, DatagramVerdict::kOversize);
  EXPECT_EQ(CheckDatagram(p, f, 5).verdict, DatagramVerdict::kOk);
  PickyPacker picky;
  EXPECT_EQ(CheckDatagram(picky, f + "X1234567", 0).verdict, DatagramVerdict::kMalformed);
  EXPECT_STREQ(DatagramVerdictName(DatagramVerdict::kMalformed), "malformed");
}

std::vector<std::string> Split(std::string_view frames, size_t max, size_t* skipped) {
  DefaultPacker p;
  std::vector<std::string> out;
  *skipped = SplitIntoDatagrams(p, frames, max,
                                [&](std::string_view d) { out.emplace_back(d); });
  return out;
}

TEST(SplitIntoDatagramsTest, FitsInOneOrIsCutAtFrameBoundaries) {
  const std::string a = Frame(1, std::string(10, 'a'));  // 18 bytes
  const std::string b = Frame(2, std::string(20, 'b'));  // 28 bytes
  size_t skipped = 0;
  EXPECT_EQ(Split(a + b, 100, &skipped), (std::vector<std::string>{a + b}));
  EXPECT_EQ(Split(a + b + a, 46, &skipped), (std::vector<std::string>{a + b, a}));
  EXPECT_EQ(Split(a + b + a, 30, &skipped), (std::vector<std::string>{a, b, a}));
  EXPECT_EQ(skipped, 0u);
  // A frame larger than a datagram cannot go: skipped, the rest still goes.
  EXPECT_EQ(Split(a + b + a, 20, &skipped), (std::vector<std::string>{a, a}));
  EXPECT_EQ(skipped, b.size());
  // Bytes that are not whole frames: what precedes them goes.
  EXPECT_EQ(Split(a + a + "junk", 20, &skipped), (std::vector<std::string>{a, a}));
  EXPECT_EQ(skipped, 4u);
  EXPECT_TRUE(Split("", 20, &skipped).empty());
}

}  // namespace
}  // namespace netman
