// Copyright netman authors.
#include "tools/loadgen/protocol.h"

#include <cstring>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace netman::loadgen {
namespace {

std::unique_ptr<Protocol> Make(std::string_view mode, size_t size, bool verify,
                               uint32_t id = 0) {
  ProtocolOptions options;
  options.size = size;
  options.id = id;
  options.verify_content = verify;
  absl::StatusOr<std::unique_ptr<Protocol>> p = CreateProtocol(mode, options);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? std::move(*p) : nullptr;
}

std::string Requests(const Protocol& p, uint64_t first_seq, size_t count) {
  std::string out(count * p.request_size(), '\0');
  p.EncodeRequests(first_seq, count, out.data());
  return out;
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
  for (std::string_view mode : {"netman", "raw"}) {
    for (size_t size : {0, 1, 5, 8, 9, 64, 300}) {
      if (mode == "raw" && size == 0) continue;
      auto p = Make(mode, size, true);
      ASSERT_NE(p, nullptr);
      const std::string stream = Requests(*p, 0, 3);
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
  for (std::string_view mode : {"netman", "raw"}) {
    auto strict = Make(mode, 64, true);
    auto lax = Make(mode, 64, false);
    std::string stream = Requests(*strict, 0, 2);
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
  EXPECT_EQ(CreateProtocol("ws", options).status().code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_NE(CreateProtocol("ws", options)
                .status()
                .message()
                .find("not yet supported"),
            std::string_view::npos);
  EXPECT_EQ(CreateProtocol("http", options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.size = 0;
  EXPECT_EQ(CreateProtocol("raw", options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace netman::loadgen
