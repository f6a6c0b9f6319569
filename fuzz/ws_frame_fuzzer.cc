// Copyright netman authors.
//
// Fuzz target: netman/ws FrameParser (client frames, RFC 6455).
//
// Input: a SplitInput (fuzz/split_input.h); flag bit 0 allows RSV1
// (permessage-deflate), bit 1 sets a 64-byte max message. The stream is
// parsed whole, in its chunks and byte by byte, keeping unconsumed bytes as
// a connection does; all three must give the same events (the parser's
// answer cannot depend on how TCP cut the bytes), consume no more than
// they were given, and stop at the first error.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/check.h"
#include "fuzz/split_input.h"
#include "netman/ws/frame_parser.h"

NETMAN_FUZZ_NO_COVERAGE_BEGIN

namespace netman::fuzz {
namespace {

using ws::FrameParser;

std::string Run(std::string_view stream, const std::vector<std::string_view>& chunks,
                FrameParser::Options options) {
  FrameParser parser(options);
  std::string out;
  std::string buffered;
  for (std::string_view chunk : chunks) {
    buffered.append(chunk);
    for (;;) {
      FrameParser::Event e = parser.Next(std::span<char>(buffered.data(), buffered.size()));
      NETMAN_FUZZ_CHECK(e.consumed <= buffered.size(), "consumed %zu of %zu", e.consumed,
                        buffered.size());
      out += std::to_string(static_cast<int>(e.kind));
      if (e.kind == FrameParser::Kind::kError) {
        out += "E" + std::to_string(e.close_code);
        return out;
      }
      if (e.kind == FrameParser::Kind::kMessage || e.kind == FrameParser::Kind::kPing ||
          e.kind == FrameParser::Kind::kPong) {
        out += std::to_string(e.opcode) + ":" + std::string(e.payload) + "|";
      }
      if (e.kind == FrameParser::Kind::kClose) {
        out += std::to_string(e.close_code) + std::string(e.close_reason) + "|";
      }
      buffered.erase(0, e.consumed);
      if (e.kind == FrameParser::Kind::kNeedMore) {
        out.pop_back();  // "need more" is not an event: splits differ in them
        break;
      }
    }
  }
  return out;
}

}  // namespace
}  // namespace netman::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using netman::fuzz::Run;
  const netman::fuzz::SplitInput input = netman::fuzz::ParseSplitInput(data, size);
  netman::ws::FrameParser::Options options;
  options.rsv1_allowed = (input.flags & 1) != 0;
  if (input.flags & 2) options.max_message = 64;
  const std::string whole = Run(input.stream, {input.stream}, options);
  const std::string chunked =
      Run(input.stream, netman::fuzz::Chunk(input.stream, input.chunk_lengths), options);
  NETMAN_FUZZ_CHECK(chunked == whole, "chunked parse differs from whole");
  if (input.stream.size() <= 4096) {
    const std::string bytewise =
        Run(input.stream, netman::fuzz::Chunk(input.stream, {1}), options);
    NETMAN_FUZZ_CHECK(bytewise == whole, "byte-by-byte parse differs from whole");
  }
  return 0;
}

NETMAN_FUZZ_NO_COVERAGE_END
