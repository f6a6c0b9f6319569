// Copyright netman authors.
//
// Protocol: how the load generator frames its requests and checks the
// replies, one implementation per --mode:
//
//   netman  netman's default framing (uint32 LE body length, uint32 LE id,
//           body); every reply must carry the request's id and length.
//   raw     raw byte echo of fixed-size chunks; a reply is `size` bytes.
//   ws      WebSocket (RFC 6455). A connection first sends an HTTP/1.1
//           upgrade request and waits for `101 Switching Protocols` with the
//           right Sec-WebSocket-Accept (its Opening); then each request is a
//           binary frame of `size` payload bytes, masked with the
//           connection's masking key as the RFC requires of clients, and each
//           reply must be an unmasked, unfragmented binary frame of the same
//           length (any other frame, control frames included, is a mismatch).
//
// Replies are checked as a stream, in place: Consume() is handed whatever
// read(2) returned (any split, several replies at once) and keeps its
// position in a small per-connection ReplyCursor, so nothing is copied or
// buffered per connection. With `verify_content` every body byte is compared
// too: the first 8 bytes of a body carry the request's sequence number
// (little-endian; fewer for smaller bodies), the rest a fixed pattern, so a
// reply that belongs to another request, or bytes out of order, are caught.
// (In ws mode the body is the frame's payload, compared after the server
// has unmasked it.)
//
// Requests never depend on anything but the sequence number and, in ws mode,
// the connection's masking key (masks_requests()): with a key fixed per
// connection the load generator encodes a pipeline's worth of requests once
// per connection and sends them again and again.
//
// Adding a mode: implement Protocol (the ReplyCursor header array holds up
// to 16 bytes of a reply header split across reads), an Opening if
// connections need an exchange before their first request, and return it
// from CreateProtocol().
//
// Threading: a Protocol is immutable after creation and shared by every
// worker thread; each ReplyCursor and Opening belongs to one connection (one
// thread).
#ifndef TOOLS_LOADGEN_PROTOCOL_H_
#define TOOLS_LOADGEN_PROTOCOL_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace netman::loadgen {

struct ProtocolOptions {
  // Body bytes per message (netman), bytes per chunk (raw), payload bytes per
  // frame (ws).
  size_t size = 64;
  // Every request's body exactly (netman and ws modes; `size` must be its
  // length), e.g. a serialised protobuf for a typed echo server: no sequence
  // number is embedded, so verify_content compares each reply with it.
  std::optional<std::string> body;
  // Message id of requests and expected replies (netman mode).
  uint32_t id = 0;
  // Compare reply bodies byte for byte, not just lengths and ids.
  bool verify_content = false;
  // ws mode: the request target of the upgrade request (must start with '/'
  // and hold no spaces or control characters) and the Host header's value.
  std::string ws_path = "/";
  std::string ws_host = "127.0.0.1";
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

// What a connection exchanges with the server before its first request (ws:
// the HTTP upgrade). One per connection, alive while the connection opens.
//
//   std::unique_ptr<Opening> o = protocol.NewOpening(nonce);
//   write(fd, o->request());
//   for each read: absl::StatusOr<size_t> used = o->Feed(data, n);
//     error: the connection failed to open; o->done(): open, and the
//     n - *used bytes after the response are the reply stream's first.
class Opening {
 public:
  virtual ~Opening() = default;

  // The bytes the client sends first.
  virtual std::string_view request() const = 0;

  // Parses `n` bytes of the server's answer (any split). Returns how many of
  // them belong to it: all `n` until the answer is complete, then done() is
  // true and the rest is not the Opening's. DataLoss when the server refused
  // or answered wrongly (Feed must not be called again after an error).
  virtual absl::StatusOr<size_t> Feed(const char* data, size_t n) = 0;

  virtual bool done() const = 0;
};

class Protocol {
 public:
  virtual ~Protocol() = default;

  virtual std::string_view name() const = 0;
  // Wire bytes of one request and of one reply.
  virtual size_t request_size() const = 0;
  virtual size_t reply_size() const = 0;

  // Whether requests depend on the connection's masking key (ws). If not,
  // EncodeRequests() ignores `mask_key` and one encoding serves every
  // connection.
  virtual bool masks_requests() const { return false; }

  // Writes `count` requests with sequence numbers first_seq, first_seq+1, ...
  // to `out` (count * request_size() bytes). `mask_key` is the connection's
  // WebSocket masking key: key byte i is `mask_key >> (8 * i)`.
  virtual void EncodeRequests(uint64_t first_seq, size_t count,
                              uint32_t mask_key, char* out) const = 0;

  // A new connection's Opening, or nullptr if the protocol has none (netman,
  // raw). `nonce`: 16 random bytes (ws: the Sec-WebSocket-Key, base64).
  virtual std::unique_ptr<Opening> NewOpening(
      const std::array<uint8_t, 16>& nonce) const {
    return nullptr;
  }

  // Parses `n` reply bytes. Returns how many replies they completed, or
  // DataLoss describing the first mismatch (the stream is unusable after it).
  virtual absl::StatusOr<uint64_t> Consume(ReplyCursor& cursor,
                                           const char* data,
                                           size_t n) const = 0;
};

// The Protocol for --mode (`netman`, `raw`, `ws`); InvalidArgument for an
// unknown mode or options the mode cannot use.
absl::StatusOr<std::unique_ptr<Protocol>> CreateProtocol(
    std::string_view mode, const ProtocolOptions& options);

}  // namespace netman::loadgen

#endif  // TOOLS_LOADGEN_PROTOCOL_H_
