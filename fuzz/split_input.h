// Copyright netman authors.
//
// SplitInput: how netman's stream fuzz targets read their input, so that the
// fuzzer controls both the bytes of a stream and where it is cut into reads.
//
//   byte 0          bits 0-4: k, the number of chunk lengths that follow
//                   (0-31); bits 5-7: flags for the target
//   bytes 1..k      chunk lengths: byte b means a chunk of b + 1 bytes
//   the rest        the stream
//
// Chunk() cuts the stream into pieces of those lengths, cycling through the
// list, the last piece taking what is left; with k == 0 the stream is one
// piece. Every target also runs the same stream whole and one byte at a time
// and compares. Chunker yields the same pieces one at a time without
// allocating (fuzz targets run it several times per input).
//
// Example: 02 00 07 | s t r e a m ... -> chunks of 1, 8, 1, 8, ... bytes.
#ifndef FUZZ_SPLIT_INPUT_H_
#define FUZZ_SPLIT_INPUT_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/check.h"

NETMAN_FUZZ_NO_COVERAGE_BEGIN

namespace netman::fuzz {

struct SplitInput {
  std::vector<size_t> chunk_lengths;  // empty: the stream in one piece
  uint8_t flags = 0;                  // bits 5-7 of byte 0, shifted down (0-7)
  std::string_view stream;
};

SplitInput ParseSplitInput(const uint8_t* data, size_t size);

// Cuts `stream` into chunks; see the file comment.
std::vector<std::string_view> Chunk(std::string_view stream,
                                    const std::vector<size_t>& lengths);

// The chunks of Chunk(stream, lengths), one at a time:
//   Chunker chunks(stream, input.chunk_lengths);
//   for (std::string_view chunk; chunks.Next(chunk);) Feed(chunk);
// With `max_chunks`, the max_chunks-th chunk takes all that is left (a bound
// on the work one input can ask for). `lengths` (every one >= 1) must
// outlive the Chunker.
class Chunker {
 public:
  Chunker(std::string_view stream, std::span<const size_t> lengths,
          size_t max_chunks = SIZE_MAX)
      : data_(stream.data()), size_(stream.size()), lengths_(lengths), left_(max_chunks) {}
  // The next chunk, or false after the last one.
  // (Plain arithmetic: it runs per byte, and library templates are not
  // inside NETMAN_FUZZ_NO_COVERAGE.)
  bool Next(std::string_view& chunk) {
    if (size_ == 0 || left_ == 0) return false;
    size_t n = size_;
    if (!lengths_.empty() && --left_ > 0) {
      const size_t want = lengths_[next_];
      next_ = next_ + 1 == lengths_.size() ? 0 : next_ + 1;
      if (want < n) n = want;
    }
    chunk = std::string_view(data_, n);
    data_ += n;
    size_ -= n;
    return true;
  }

 private:
  const char* data_;
  size_t size_;
  std::span<const size_t> lengths_;
  size_t left_;  // chunks still allowed
  size_t next_ = 0;
};

// Chunk(stream, lengths).size(), without building the chunks.
size_t ChunkCount(std::string_view stream, std::span<const size_t> lengths);
// The same for Chunker(stream, lengths, max_chunks).
inline size_t ChunkCount(std::string_view stream, std::span<const size_t> lengths,
                         size_t max_chunks) {
  const size_t n = ChunkCount(stream, lengths);
  return n < max_chunks ? n : max_chunks;
}

// Lengths that cut a stream into single bytes (Chunker(stream, kByteByByte)).
inline constexpr size_t kByteByByteLengths[] = {1};
inline constexpr std::span<const size_t> kByteByByte(kByteByByteLengths);

// The inverse of ParseSplitInput (for writing seeds and tests).
std::string MakeSplitInput(const std::vector<size_t>& chunk_lengths, uint8_t flags,
                           std::string_view stream);

}  // namespace netman::fuzz

NETMAN_FUZZ_NO_COVERAGE_END

#endif  // FUZZ_SPLIT_INPUT_H_
