// Copyright netman authors.
//
// Fuzz target: the UDP datagram rules (netman/udp/datagram_codec.h) with
// the default packer: CheckDatagram() on one received datagram, and
// SplitIntoDatagrams() on the replies it would produce.
//
// Input: byte 0 picks max_body (0 = unlimited, else that many bytes),
// byte 1 the largest datagram for the split (8 + 4 * byte), the rest is the
// datagram. Checks, against the format written out here independently:
//   * the verdict is kOk exactly when the datagram is one or more whole
//     frames each with a body within max_body, and then the message count
//     is right; empty is kEmpty; otherwise the reason is the first bad
//     frame's (oversize as soon as a header declares too much, else
//     truncated); the default packer never reports malformed;
//   * splitting whole frames emits them all, in order, unchanged, each
//     emitted datagram within the limit and made of whole frames, except
//     frames larger than the limit, which are skipped and counted exactly.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/check.h"
#include "fuzz/wire_reference.h"
#include "netman/codec/default_packer.h"
#include "netman/udp/datagram_codec.h"

NETMAN_FUZZ_NO_COVERAGE_BEGIN

namespace netman::fuzz {
namespace {

// The frame sizes of `d` if it is whole frames (the reference split).
struct Reference {
  DatagramVerdict verdict = DatagramVerdict::kEmpty;
  std::vector<size_t> frames;
};

Reference Expected(std::string_view d, uint64_t max_body) {
  Reference r;
  if (d.empty()) return r;
  size_t pos = 0;
  while (pos < d.size()) {
    const std::string_view rest = d.substr(pos);
    if (rest.size() < 8) {
      r.verdict = DatagramVerdict::kTruncated;
      return r;
    }
    const uint64_t length = Le32(rest);
    if (max_body != 0 && length > max_body) {
      r.verdict = DatagramVerdict::kOversize;
      return r;
    }
    if (rest.size() - 8 < length) {
      r.verdict = DatagramVerdict::kTruncated;
      return r;
    }
    r.frames.push_back(8 + length);
    pos += 8 + length;
  }
  r.verdict = DatagramVerdict::kOk;
  return r;
}

void CheckSplit(const DefaultPacker& packer, std::string_view frames,
                const std::vector<size_t>& sizes, size_t max) {
  std::vector<std::string> out;
  const size_t skipped = SplitIntoDatagrams(
      packer, frames, max, [&](std::string_view d) { out.emplace_back(d); });
  std::string expected;
  size_t expected_skipped = 0;
  size_t pos = 0;
  for (size_t s : sizes) {
    if (s > max) {
      expected_skipped += s;
    } else {
      expected.append(frames.substr(pos, s));
    }
    pos += s;
  }
  NETMAN_FUZZ_CHECK(skipped == expected_skipped, "skipped %zu, expected %zu", skipped,
                    expected_skipped);
  std::string joined;
  for (const std::string& d : out) {
    NETMAN_FUZZ_CHECK(!d.empty() && d.size() <= max, "datagram of %zu bytes (max %zu)",
                      d.size(), max);
    NETMAN_FUZZ_CHECK(CheckDatagram(packer, d, 0).verdict == DatagramVerdict::kOk,
                      "an emitted datagram is not whole frames");
    joined += d;
  }
  NETMAN_FUZZ_CHECK(joined == expected, "the split lost, reordered or changed bytes");
}

}  // namespace
}  // namespace netman::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const netman::DefaultPacker packer;
  if (size < 2) return 0;
  const uint64_t max_body = data[0];
  const size_t max_datagram = 8 + size_t{4} * data[1];
  const std::string_view datagram(reinterpret_cast<const char*>(data) + 2, size - 2);

  const netman::DatagramCheck got = netman::CheckDatagram(packer, datagram, max_body);
  const netman::fuzz::Reference want = netman::fuzz::Expected(datagram, max_body);
  NETMAN_FUZZ_CHECK(got.verdict == want.verdict, "verdict %s, expected %s",
                    netman::DatagramVerdictName(got.verdict),
                    netman::DatagramVerdictName(want.verdict));
  if (want.verdict == netman::DatagramVerdict::kOk) {
    NETMAN_FUZZ_CHECK(got.messages == want.frames.size(), "%zu messages, expected %zu",
                      got.messages, want.frames.size());
    netman::fuzz::CheckSplit(packer, datagram, want.frames, max_datagram);
  }
  return 0;
}

NETMAN_FUZZ_NO_COVERAGE_END
