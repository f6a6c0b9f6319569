// Copyright netman authors.
//
// SendProto: sends a protobuf message on a connection, serialised straight
// into the connection's output buffer (Connection::SendWith: the protocol
// reserves the frame, the message writes its body in place; no intermediate
// string).
//
// Example (in a handler):
//   kv::GetReply reply;
//   reply.set_value(...);
//   (void)netman::SendProto(request.connection(), kGetReplyId, reply);
//
// Threading: as Connection::SendWith (from the loop thread the message is
// framed in place; from another thread it is serialised there and posted).
#ifndef NETMAN_PROTO_SEND_PROTO_H_
#define NETMAN_PROTO_SEND_PROTO_H_

#include <cstdint>

#include "absl/status/status.h"
#include "google/protobuf/message_lite.h"
#include "netman/codec/protobuf_codec.h"
#include "netman/net/connection.h"

namespace netman {

// Frames `message` as message `id` on `connection`. InvalidArgument for a
// message protobuf cannot serialise (2 GiB or more); otherwise as
// Connection::SendWith.
inline absl::Status SendProto(Connection& connection, uint32_t id,
                              const google::protobuf::MessageLite& message) {
  absl::StatusOr<size_t> size = ProtoBodySize(message);
  if (!size.ok()) [[unlikely]] return size.status();
  return connection.SendWith(id, *size,
                             [&message](char* dst) { SerializeProtoTo(message, dst); });
}

}  // namespace netman

#endif  // NETMAN_PROTO_SEND_PROTO_H_
