// Copyright netman authors.
//
// Protocol: how the load generator frames its requests and checks the
// replies, one implementation per --mode:
//
//   netman  netman's default framing (uint32 LE body length, uint32 LE id,
//           body); every reply must carry the request's id and length.
//   raw     raw byte echo of fixed-size chunks; a reply is `size` bytes.
//   ws      WebSocket: not implemented yet. CreateProtocol() returns
//           Unimplemented so the tool refuses the mode instead of silently
//           measuring something else.
//
// Replies are checked as a stream, in place: Consume() is handed whatever
// read(2) returned (any split, several replies at once) and keeps its
// position in a small per-connection ReplyCursor, so nothing is copied or
// buffered per connection. With `verify_content` every body byte is compared
// too: the first 8 bytes of a body carry the request's sequence number
// (little-endian; fewer for smaller bodies), the rest a fixed pattern, so a
// reply that belongs to another request, or bytes out of order, are caught.
//
// Adding a mode (e.g. ws): implement Protocol (the ReplyCursor header array
// has room for a 14-byte WebSocket frame header; an upgrade exchange would be
// a cursor state consumed before the first frame), and return it from
// CreateProtocol().
//
// Threading: a Protocol is immutable after creation and shared by every
// worker thread; each ReplyCursor belongs to one connection (one thread).
#ifndef TOOLS_LOADGEN_PROTOCOL_H_
#define TOOLS_LOADGEN_PROTOCOL_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace netman::loadgen {

struct ProtocolOptions {
  // Body bytes per message (netman) or bytes per chunk (raw).
  size_t size = 64;
  // Message id of requests and expected replies (netman mode).
  uint32_t id = 0;
  // Compare reply bodies byte for byte, not just lengths and ids.
  bool verify_content = false;
};

// Where a connection is in its reply stream. Plain data, kept inline in each
// connection.
struct ReplyCursor {
  uint64_t next_seq = 0;    // sequence number of the reply being parsed
  uint64_t body_got = 0;    // body bytes of that reply seen so far
  uint64_t body_len = 0;    // its body length, once the header is complete
  uint32_t header_got = 0;  // header bytes seen so far
  std::array<char, 16> header{};
};

class Protocol {
 public:
  virtual ~Protocol() = default;

  virtual std::string_view name() const = 0;
  // Wire bytes of one request and of one reply.
  virtual size_t request_size() const = 0;
  virtual size_t reply_size() const = 0;

  // Writes `count` requests with sequence numbers first_seq, first_seq+1, ...
  // to `out` (count * request_size() bytes).
  virtual void EncodeRequests(uint64_t first_seq, size_t count,
                              char* out) const = 0;

  // Parses `n` reply bytes. Returns how many replies they completed, or
  // DataLoss describing the first mismatch (the stream is unusable after it).
  virtual absl::StatusOr<uint64_t> Consume(ReplyCursor& cursor,
                                           const char* data,
                                           size_t n) const = 0;
};

// The Protocol for --mode (`netman`, `raw`); InvalidArgument for an unknown
// mode, Unimplemented for `ws`.
absl::StatusOr<std::unique_ptr<Protocol>> CreateProtocol(
    std::string_view mode, const ProtocolOptions& options);

}  // namespace netman::loadgen

#endif  // TOOLS_LOADGEN_PROTOCOL_H_
