// Copyright netman authors.
//
// Fuzz target: DefaultPacker's stream decoder (netman's Go-compatible wire
// format: u32 LE body length, u32 LE id, body).
//
// Input: a SplitInput (fuzz/split_input.h): chunk lengths, then the stream.
// Checks the generic Packer invariants (fuzz/packer_invariants.h) with
// canonical encoding, a reference decoder for this format (the first frame
// decodes exactly as the format says), and decode(encode(x)) == x for
// messages made from the same bytes.
#include <cstddef>
#include <cstdint>

#include "fuzz/check.h"
#include "fuzz/packer_invariants.h"
#include "fuzz/split_input.h"
#include "fuzz/wire_reference.h"
#include "netman/codec/default_packer.h"

NETMAN_FUZZ_NO_COVERAGE_BEGIN

namespace netman::fuzz {
namespace {

// The format, written out independently of DefaultPacker::Decode.
void CheckAgainstReference(const DecodedStream& got, std::string_view stream) {
  size_t pos = 0;
  for (size_t i = 0;; ++i) {
    const std::string_view rest = stream.substr(pos);
    if (rest.size() < 8 || rest.size() - 8 < Le32(rest)) {
      NETMAN_FUZZ_CHECK(got.messages.size() == i, "%zu messages, the format gives %zu",
                        got.messages.size(), i);
      NETMAN_FUZZ_CHECK(got.error.ok(), "DefaultPacker never fails, got %s",
                        got.error.ToString().c_str());
      NETMAN_FUZZ_CHECK(got.pending == rest.size(), "pending %zu, expected %zu",
                        got.pending, rest.size());
      if (rest.size() >= 8) {
        NETMAN_FUZZ_CHECK(got.declared == std::optional<uint64_t>(Le32(rest)),
                          "a complete header must declare its length");
      } else {
        NETMAN_FUZZ_CHECK(!got.declared.has_value(),
                          "a partial header cannot declare a length");
      }
      return;
    }
    const uint32_t length = Le32(rest);
    NETMAN_FUZZ_CHECK(i < got.messages.size(), "message %zu missing", i);
    NETMAN_FUZZ_CHECK(got.messages[i].id == Le32(rest.substr(4)), "message %zu: wrong id", i);
    NETMAN_FUZZ_CHECK(got.messages[i].body == rest.substr(8, length),
                      "message %zu: wrong body", i);
    NETMAN_FUZZ_CHECK(got.frames[i] == std::make_pair(pos, size_t{8} + length),
                      "message %zu: wrong frame extent", i);
    pos += size_t{8} + length;
  }
}

}  // namespace
}  // namespace netman::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const netman::DefaultPacker packer;
  const netman::fuzz::SplitInput input = netman::fuzz::ParseSplitInput(data, size);
  const netman::fuzz::DecodedStream& whole = netman::fuzz::CheckPackerInvariants(
      packer, input, {.canonical_encoding = true});
  netman::fuzz::CheckAgainstReference(whole, input.stream);
  netman::fuzz::CheckRoundTrip(packer, input.stream, input.chunk_lengths);
  return 0;
}

NETMAN_FUZZ_NO_COVERAGE_END
