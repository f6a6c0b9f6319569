// Copyright netman authors.
//
// Protobuf framing: protobuf messages as the bodies of netman frames.
//
// The frame is the default 8-byte header (DefaultPacker: body length, then
// the message id, both uint32 little-endian) with the serialised message as
// the body, and the message id says which protobuf type the body holds. So a
// protobuf service speaks the Go netman wire format unchanged: a Go netman
// client (or any default-packer client) talks to it by sending serialised
// bytes under the right id, and the same server can route plain byte
// messages and typed messages side by side. The id <-> type mapping lives in
// netman/proto (MessageRegistry), declared once per service.
//
// Why not a .proto envelope (a wrapper message with a `oneof` or an `Any`)?
// The header already carries the id, so an envelope would add a second
// length-and-tag layer, a second parse per message and a copy of every
// body, and it would shut Go netman clients out. Any Packer still works
// (these functions take the server's Packer): the framing stays pluggable.
//
// Example:
//   netman::DefaultPacker packer;
//   netman::Buffer out;
//   NETMAN_RETURN_IF_ERROR(netman::EncodeProto(packer, /*id=*/7, reply, out));
//   ...
//   MyRequest request;
//   NETMAN_RETURN_IF_ERROR(netman::ParseProto(message.body, request));
//
// This target depends on protobuf; the server core does not.
//
// Threading: stateless functions; safe from any thread on distinct objects.
#ifndef NETMAN_CODEC_PROTOBUF_CODEC_H_
#define NETMAN_CODEC_PROTOBUF_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

#include "absl/status/status.h"
#include "google/protobuf/message_lite.h"
#include "netman/buffer/buffer.h"
#include "netman/codec/packer.h"

namespace netman {

// protobuf cannot serialise or parse a message of 2 GiB or more.
inline constexpr size_t kMaxProtoBytes = std::numeric_limits<int>::max();

// The body size of `message` (ByteSizeLong(), which also caches the sizes
// SerializeProtoTo() needs). InvalidArgument at kMaxProtoBytes or more.
absl::StatusOr<size_t> ProtoBodySize(const google::protobuf::MessageLite& message);

// Writes `message`, whose sizes ProtoBodySize() has just cached, to `dst`
// (exactly that many bytes). For Connection::SendWith / Packer::EncodeWith.
inline void SerializeProtoTo(const google::protobuf::MessageLite& message, char* dst) {
  message.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(dst));
}

// Appends the frame (id, serialised `message`) to `out` with `packer`,
// serialising straight into `out` (no intermediate string). InvalidArgument
// for a message protobuf cannot serialise (2 GiB or more).
absl::Status EncodeProto(const Packer& packer, uint32_t id,
                         const google::protobuf::MessageLite& message, Buffer& out);

// Parses `body` into `message` (cleared first). InvalidArgument naming the
// type when the bytes are not a valid serialisation of it (or miss a
// required proto2 field); `message` is then unspecified.
absl::Status ParseProto(std::string_view body, google::protobuf::MessageLite& message);

}  // namespace netman

#endif  // NETMAN_CODEC_PROTOBUF_CODEC_H_
