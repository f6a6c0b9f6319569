// Copyright netman authors.
#include "fuzz/split_input.h"

#include <algorithm>

#include "fuzz/check.h"

NETMAN_FUZZ_NO_COVERAGE_BEGIN

namespace netman::fuzz {

SplitInput ParseSplitInput(const uint8_t* data, size_t size) {
  SplitInput input;
  if (size == 0) return input;
  const size_t k = std::min<size_t>(data[0] & 0x1f, size - 1);
  input.flags = static_cast<uint8_t>(data[0] >> 5);
  input.chunk_lengths.reserve(k);
  for (size_t i = 0; i < k; ++i) input.chunk_lengths.push_back(size_t{data[1 + i]} + 1);
  input.stream = std::string_view(reinterpret_cast<const char*>(data) + 1 + k, size - 1 - k);
  return input;
}

std::vector<std::string_view> Chunk(std::string_view stream,
                                    const std::vector<size_t>& lengths) {
  std::vector<std::string_view> chunks;
  Chunker chunker(stream, lengths);
  for (std::string_view chunk; chunker.Next(chunk);) chunks.push_back(chunk);
  return chunks;
}

size_t ChunkCount(std::string_view stream, std::span<const size_t> lengths) {
  if (stream.empty()) return 0;
  if (lengths.empty()) return 1;
  size_t cycle = 0;
  for (size_t n : lengths) cycle += n;
  // Whole cycles, then the lengths of one more cycle until the stream ends.
  size_t count = stream.size() / cycle * lengths.size();
  size_t rest = stream.size() % cycle;
  for (size_t i = 0; rest > 0; ++i) {
    rest -= std::min(lengths[i], rest);
    ++count;
  }
  return count;
}

std::string MakeSplitInput(const std::vector<size_t>& chunk_lengths, uint8_t flags,
                           std::string_view stream) {
  std::string out;
  const size_t k = std::min<size_t>(chunk_lengths.size(), 31);
  out.push_back(static_cast<char>((flags << 5) | k));
  for (size_t i = 0; i < k; ++i) {
    const size_t len = std::clamp<size_t>(chunk_lengths[i], 1, 256);
    out.push_back(static_cast<char>(len - 1));
  }
  out.append(stream);
  return out;
}

}  // namespace netman::fuzz

NETMAN_FUZZ_NO_COVERAGE_END
