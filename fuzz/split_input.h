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
// and compares.
//
// Example: 02 00 07 | s t r e a m ... -> chunks of 1, 8, 1, 8, ... bytes.
#ifndef FUZZ_SPLIT_INPUT_H_
#define FUZZ_SPLIT_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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

// The inverse of ParseSplitInput (for writing seeds and tests).
std::string MakeSplitInput(const std::vector<size_t>& chunk_lengths, uint8_t flags,
                           std::string_view stream);

}  // namespace netman::fuzz

#endif  // FUZZ_SPLIT_INPUT_H_
