// Copyright netman authors.
//
// TypedClient: netman::Client for protobuf services. It sends a message with
// the id its type is declared with and receives replies parsed as the type
// declared for their id, using the same MessageRegistry declarations as the
// server (declare them in one function both sides call).
//
// Example:
//   auto client = netman::TypedClient::Connect("127.0.0.1", 8999);
//   NETMAN_RETURN_IF_ERROR(kv::Declare((*client)->registry()));
//   kv::GetRequest get;
//   get.set_key("a");
//   NETMAN_ASSIGN_OR_RETURN(kv::GetReply reply,
//       (*client)->Call<kv::GetReply>(get, absl::Seconds(5)));
//
// Errors: Client's, plus NotFound for an undeclared type, InvalidArgument
// for a reply body that does not parse as the type declared for its id, and
// FailedPrecondition for a reply with another id than the one asked for.
// None of these affect the connection: the next Receive() reads the next
// message.
//
// Threading: as Client (one thread at a time).
#ifndef NETMAN_PROTO_TYPED_CLIENT_H_
#define NETMAN_PROTO_TYPED_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "netman/client/client.h"
#include "netman/codec/protobuf_codec.h"
#include "netman/proto/message_registry.h"

namespace netman {

class TypedClient {
 public:
  // As Client::Connect.
  static absl::StatusOr<std::unique_ptr<TypedClient>> Connect(std::string_view host,
                                                              uint16_t port,
                                                              Client::Options options = {});
  // Wraps a connected client.
  explicit TypedClient(std::unique_ptr<Client> client) : client_(std::move(client)) {}

  // Declarations shared with the server (Declare() before use).
  MessageRegistry& registry() { return registry_; }
  // The underlying byte client (raw frames, Close(), ...).
  Client& raw() { return *client_; }

  // Sends `message` as message `id` / with its declared id.
  absl::Status Send(uint32_t id, const google::protobuf::Message& message);
  absl::Status Send(const google::protobuf::Message& message);

  // Waits up to `timeout` for one message and parses it into `*message`,
  // which must be of the type declared for its id. Returns the id.
  absl::StatusOr<uint32_t> Receive(google::protobuf::Message* message, absl::Duration timeout);
  // Receives one message that must be a T (its id is T's).
  template <ProtoMessage T>
  absl::StatusOr<T> Receive(absl::Duration timeout) {
    T message;
    absl::StatusOr<uint32_t> id = Receive(&message, timeout);
    if (!id.ok()) return id.status();
    return message;
  }
  // Receives one message of whatever type its id is declared with.
  absl::StatusOr<std::unique_ptr<google::protobuf::Message>> ReceiveAny(absl::Duration timeout);

  // Send(request), then Receive<Reply>(timeout).
  template <ProtoMessage Reply>
  absl::StatusOr<Reply> Call(const google::protobuf::Message& request, absl::Duration timeout) {
    if (absl::Status s = Send(request); !s.ok()) return s;
    return Receive<Reply>(timeout);
  }

 private:
  std::unique_ptr<Client> client_;
  MessageRegistry registry_;
  std::string body_;  // reused serialisation buffer
};

}  // namespace netman

#endif  // NETMAN_PROTO_TYPED_CLIENT_H_
