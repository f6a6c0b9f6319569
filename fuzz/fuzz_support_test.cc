// Copyright netman authors.
//
// Tests of the fuzzing support: input layout, chunking, and that the packer
// invariant checks fail (abort) for packers that break them, so a fuzz
// target built on them can fail.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/packer_invariants.h"
#include "fuzz/split_input.h"
#include "gtest/gtest.h"
#include "netman/codec/default_packer.h"

namespace netman::fuzz {
namespace {

SplitInput Parse(const std::string& bytes) {
  return ParseSplitInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

TEST(SplitInputTest, ParsesLengthsFlagsAndStream) {
  const std::string bytes = MakeSplitInput({1, 8, 256}, 5, "stream!");
  SplitInput input = Parse(bytes);
  EXPECT_EQ(input.chunk_lengths, (std::vector<size_t>{1, 8, 256}));
  EXPECT_EQ(input.flags, 5);
  EXPECT_EQ(input.stream, "stream!");
}

TEST(SplitInputTest, ShortInputsAreFine) {
  EXPECT_TRUE(ParseSplitInput(nullptr, 0).stream.empty());
  SplitInput input = Parse(std::string("\x1f\x01", 2));  // claims 31 lengths, has 1
  EXPECT_EQ(input.chunk_lengths, (std::vector<size_t>{2}));
  EXPECT_TRUE(input.stream.empty());
}

TEST(SplitInputTest, ChunksCycleThroughLengths) {
  std::vector<std::string_view> chunks = Chunk("abcdefghij", {1, 3});
  EXPECT_EQ(chunks, (std::vector<std::string_view>{"a", "bcd", "e", "fgh", "i", "j"}));
  EXPECT_EQ(Chunk("abc", {}), (std::vector<std::string_view>{"abc"}));
  EXPECT_TRUE(Chunk("", {}).empty());
}

TEST(SplitInputTest, ChunkerCanStopAtAMaximumNumberOfChunks) {
  const std::vector<size_t> lengths = {1, 3};
  auto chunks = [&](std::string_view stream, size_t max_chunks) {
    std::vector<std::string_view> out;
    Chunker chunker(stream, lengths, max_chunks);
    for (std::string_view chunk; chunker.Next(chunk);) out.push_back(chunk);
    return out;
  };
  // The last chunk allowed takes the rest.
  EXPECT_EQ(chunks("abcdefghij", 3), (std::vector<std::string_view>{"a", "bcd", "efghij"}));
  EXPECT_EQ(chunks("abcdefghij", 1), (std::vector<std::string_view>{"abcdefghij"}));
  EXPECT_EQ(chunks("abcdefghij", 6), Chunk("abcdefghij", lengths));
  EXPECT_EQ(chunks("abcdefghij", 100), Chunk("abcdefghij", lengths));
  EXPECT_TRUE(chunks("abcdefghij", 0).empty());
  EXPECT_EQ(ChunkCount("abcdefghij", lengths, 3), 3u);
  EXPECT_EQ(ChunkCount("abcdefghij", lengths, 100), 6u);
}

TEST(SplitInputTest, ChunkCountMatchesChunk) {
  const std::string stream = "abcdefghijklmnopqrstuvwxyz";
  for (size_t size = 0; size <= stream.size(); ++size) {
    const std::string_view s = std::string_view(stream).substr(0, size);
    for (const std::vector<size_t>& lengths : std::vector<std::vector<size_t>>{
             {}, {1}, {3}, {1, 3}, {2, 7, 1}, {30}, {5, 40}}) {
      EXPECT_EQ(ChunkCount(s, lengths), Chunk(s, lengths).size())
          << "size " << size << ", " << lengths.size() << " lengths";
    }
    EXPECT_EQ(ChunkCount(s, kByteByByte), size);
  }
}

TEST(PackerInvariantsTest, DefaultPackerPasses) {
  DefaultPacker packer;
  std::string stream = Encoded(packer, 1, "hi") + Encoded(packer, 0, "") + std::string("\x05\x00\x00", 3);
  const std::string input = MakeSplitInput({3, 1}, 0, stream);  // the bodies point into it
  DecodedStream d = CheckPackerInvariants(packer, Parse(input), {.canonical_encoding = true});
  ASSERT_EQ(d.messages.size(), 2u);
  EXPECT_EQ(d.messages[0].id, 1u);
  EXPECT_EQ(d.messages[0].body, "hi");
  EXPECT_EQ(d.pending, 3u);
  const std::vector<size_t> lengths = {2};
  CheckRoundTrip(packer, MessagesFromBytes("some arbitrary bytes to make messages of"), lengths);
  CheckRoundTrip(packer, "the same, messages made by CheckRoundTrip", lengths);
}

TEST(PackerInvariantsTest, MessagesFromBytes) {
  const std::string bytes("\x01\x00\x00\x00\x02hiX", 8);
  std::vector<Message> m = MessagesFromBytes(bytes);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].id, 1u);
  EXPECT_EQ(m[0].body, "hi");
  EXPECT_EQ(m[1].id, uint32_t{'X'});
  EXPECT_EQ(m[1].body, "");
}

// A DefaultPacker with one deliberate defect.
class BrokenPacker : public Packer {
 public:
  enum class Defect { kOverConsumes, kDeclaresWrongLength, kSplitDependent, kReadsPastEnd };
  explicit BrokenPacker(Defect defect) : defect_(defect) {}

  absl::Status Decode(std::string_view input, DecodeResult* result) const override {
    switch (defect_) {
      case Defect::kOverConsumes: {
        absl::Status s = inner_.Decode(input, result);
        if (s.ok() && result->complete) result->consumed += 1;
        return s;
      }
      case Defect::kDeclaresWrongLength: {
        absl::Status s = inner_.Decode(input, result);
        if (s.ok() && result->declared_body_length) *result->declared_body_length += 1;
        return s;
      }
      case Defect::kSplitDependent:
        // Refuses frames that arrive with fewer than 4 extra bytes behind
        // them: the result depends on where the stream was cut.
        if (input.size() < 12) return absl::InvalidArgumentError("short read");
        return inner_.Decode(input, result);
      case Defect::kReadsPastEnd: {
        volatile char past = input.data()[input.size()];
        (void)past;
        return inner_.Decode(input, result);
      }
    }
    return inner_.Decode(input, result);
  }
  void Encode(uint32_t id, std::string_view body, Buffer& out) const override {
    inner_.Encode(id, body, out);
  }

 private:
  Defect defect_;
  DefaultPacker inner_;
};

void CheckBroken(BrokenPacker::Defect defect, const std::string& stream,
                 std::vector<size_t> lengths) {
  BrokenPacker packer(defect);
  CheckPackerInvariants(packer, Parse(MakeSplitInput(lengths, 0, stream)), {});
}

TEST(PackerInvariantsDeathTest, CatchesBrokenPackers) {
  DefaultPacker good;
  const std::string two = Encoded(good, 1, "hello") + Encoded(good, 2, "world");
  EXPECT_DEATH(CheckBroken(BrokenPacker::Defect::kOverConsumes, Encoded(good, 1, "x"), {}),
               "complete frame consumed");
  EXPECT_DEATH(CheckBroken(BrokenPacker::Defect::kDeclaresWrongLength, two, {10}),
               "declared");
  EXPECT_DEATH(CheckBroken(BrokenPacker::Defect::kSplitDependent, two + "tail", {5}),
               "fuzzer's chunks");
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NETMAN_FUZZ_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define NETMAN_FUZZ_TEST_ASAN 1
#endif

#ifdef NETMAN_FUZZ_TEST_ASAN
// Every Decode() gets input after which nothing is addressable (a copy
// whose tail is poisoned), so ASan sees an over-read: past the end of the
// stream, and past the end of a chunk with more of the stream behind it.
TEST(PackerInvariantsDeathTest, CatchesReadsPastTheEndUnderAsan) {
  DefaultPacker good;
  EXPECT_DEATH(CheckBroken(BrokenPacker::Defect::kReadsPastEnd, Encoded(good, 1, "x"), {}),
               "use-after-poison");
  EXPECT_DEATH(CheckBroken(BrokenPacker::Defect::kReadsPastEnd,
                           Encoded(good, 1, "hello") + Encoded(good, 2, "world"), {3}),
               "use-after-poison");
}
#endif

}  // namespace
}  // namespace netman::fuzz
