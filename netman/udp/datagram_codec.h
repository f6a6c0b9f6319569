// Copyright netman authors.
//
// datagram_codec: the rules that turn one UDP datagram into messages and
// messages back into datagrams, with no socket (so they are unit-tested and
// fuzzed directly).
//
// A datagram carries one or more complete messages of the server's Packer,
// back to back, and nothing else. CheckDatagram() accepts a datagram only if
// every byte of it belongs to a complete, valid message within the body
// limit; anything else (empty, a message cut short, bytes the packer
// rejects, a body over max_body) rejects the whole datagram: nothing from it
// is dispatched and nothing is kept for the next one.
//
// SplitIntoDatagrams() cuts a run of encoded frames (every reply produced
// while handling one datagram) into as few datagrams of at most
// `max_datagram` bytes as it can, at frame boundaries.
//
// Example:
//   DatagramCheck c = CheckDatagram(packer, bytes, /*max_body=*/1 << 20);
//   if (c.verdict != DatagramVerdict::kOk) Drop(c.verdict);
//
// Threading: pure functions; the Packer must be thread-safe (all are).
#ifndef NETMAN_UDP_DATAGRAM_CODEC_H_
#define NETMAN_UDP_DATAGRAM_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

#include "netman/codec/packer.h"

namespace netman {

enum class DatagramVerdict : uint8_t {
  kOk,         // one or more complete messages, nothing else
  kEmpty,      // zero bytes
  kTruncated,  // ends inside a message (a header or body cut short)
  kMalformed,  // the packer rejects its bytes
  kOversize,   // a message declares a body over max_body
};

// "ok", "empty", "truncated", "malformed", "oversize".
const char* DatagramVerdictName(DatagramVerdict verdict);

struct DatagramCheck {
  DatagramVerdict verdict = DatagramVerdict::kEmpty;
  size_t messages = 0;  // complete messages (all of them when kOk)
};

// Checks that `datagram` is a whole number of valid messages of `packer`,
// each body at most `max_body` bytes (0 = unlimited).
DatagramCheck CheckDatagram(const Packer& packer, std::string_view datagram,
                            uint64_t max_body);

// Calls `emit` with consecutive slices of `frames` (encoded with `packer`),
// each at most `max_datagram` bytes and made of whole frames, as few as
// fit. A single frame larger than `max_datagram`, or bytes that do not
// decode as whole frames, cannot be sent: they are skipped, and the number
// of bytes skipped is returned (0 normally).
size_t SplitIntoDatagrams(const Packer& packer, std::string_view frames,
                          size_t max_datagram,
                          const std::function<void(std::string_view)>& emit);

}  // namespace netman

#endif  // NETMAN_UDP_DATAGRAM_CODEC_H_
