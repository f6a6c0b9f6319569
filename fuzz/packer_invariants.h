// Copyright netman authors.
//
// Invariants every netman::Packer must keep, checked on fuzzer-chosen bytes.
// A fuzz target for a new packer (WebSocket frames, protobuf framing, ...)
// is a few lines:
//
//   extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
//     static const MyPacker packer;
//     netman::fuzz::SplitInput input = netman::fuzz::ParseSplitInput(data, size);
//     netman::fuzz::CheckPackerInvariants(packer, input, {});
//     netman::fuzz::CheckRoundTrip(packer, input.stream, input.chunk_lengths);
//     return 0;
//   }
//
// What CheckPackerInvariants() checks, aborting on the first violation:
//   * every Decode() call: a complete frame consumed 1..input.size() bytes
//     and its body lies inside those bytes; an incomplete one consumed
//     nothing; Decode() reads no byte past its input (the input always ends
//     where addressable memory ends: the rest of its heap block is poisoned,
//     so ASan sees an over-read) and gives the same answer when asked twice;
//   * declared lengths: while a frame is incomplete, every declared body
//     length it reports is the same, and the body it finally decodes to has
//     that length;
//   * splits: the stream decoded whole, in the fuzzer's chunks and one byte
//     at a time (the way a connection feeds a packer: keep the unconsumed
//     bytes, append the next read, decode until it needs more) yields the
//     same messages, then the same error code, or the same incomplete tail
//     with the same declared length (a chunking that is the same as one
//     already decoded is not decoded again);
//   * round trip: Encode() of every decoded message decodes back to the same
//     id and body, consuming exactly the encoded bytes, and no proper prefix
//     of an encoded frame decodes as complete; with canonical_encoding, the
//     re-encoded frame is byte-identical to the one decoded.
// CheckRoundTrip() encodes messages made from the fuzz input and checks that
// decoding the stream (whole and split) gives exactly them back.
//
// The checks allocate (almost) nothing per input, so that a fuzz target runs
// above 10,000 inputs a second under ASan: see packer_invariants.cc.
#ifndef FUZZ_PACKER_INVARIANTS_H_
#define FUZZ_PACKER_INVARIANTS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "fuzz/split_input.h"
#include "netman/codec/packer.h"

namespace netman::fuzz {

struct OwnedMessage {
  uint32_t id = 0;
  std::string body;
  bool operator==(const OwnedMessage& o) const { return id == o.id && body == o.body; }
};

struct PackerCheckOptions {
  // Encode() is the only encoding of a message (true for DefaultPacker; not
  // for formats with optional fields or masking).
  bool canonical_encoding = false;
  // Streams up to this size are also decoded one byte at a time.
  size_t byte_by_byte_limit = 2048;
};

// How a stream decoded. Message bodies are views into the decoded stream.
struct DecodedStream {
  std::vector<Message> messages;
  // Offset and size in the stream of each message's frame.
  std::vector<std::pair<size_t, size_t>> frames;
  // The packer's error, if decoding stopped on one.
  absl::Status error;
  // Without an error: bytes of the incomplete last frame, and the body length
  // it declares if the packer reported one.
  size_t pending = 0;
  std::optional<uint64_t> declared;
};

// Checks everything listed in the file comment for `input`; returns how the
// whole stream decoded (bodies point into input.stream; valid until the next
// call, which reuses it).
const DecodedStream& CheckPackerInvariants(const Packer& packer, const SplitInput& input,
                                           const PackerCheckOptions& options);

// Encodes `messages` into one stream and checks that decoding it whole, in
// chunks of `chunk_lengths` and byte by byte returns exactly `messages`.
void CheckRoundTrip(const Packer& packer, std::span<const Message> messages,
                    std::span<const size_t> chunk_lengths);
// The same for MessagesFromBytes(bytes).
void CheckRoundTrip(const Packer& packer, std::string_view bytes,
                    std::span<const size_t> chunk_lengths);

// Up to 64 messages made from arbitrary bytes: per message a 4-byte id (LE),
// a length byte and that many body bytes (fewer at the end of `bytes`). The
// bodies are views into `bytes`.
std::vector<Message> MessagesFromBytes(std::string_view bytes);
// The same into `messages` (cleared first; its storage is reused).
void MessagesFromBytes(std::string_view bytes, std::vector<Message>& messages);

// The frame Encode() writes for (id, body).
std::string Encoded(const Packer& packer, uint32_t id, std::string_view body);

}  // namespace netman::fuzz

#endif  // FUZZ_PACKER_INVARIANTS_H_
