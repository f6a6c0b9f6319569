// Copyright netman authors.
#include "netman/proto/typed_client.h"

namespace netman {

absl::StatusOr<std::unique_ptr<TypedClient>> TypedClient::Connect(std::string_view host,
                                                                  uint16_t port,
                                                                  Client::Options options) {
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect(host, port, std::move(options));
  if (!client.ok()) return client.status();
  return std::make_unique<TypedClient>(std::move(*client));
}

absl::Status TypedClient::Send(uint32_t id, const google::protobuf::Message& message) {
  absl::StatusOr<size_t> size = ProtoBodySize(message);
  if (!size.ok()) return size.status();
  body_.resize(*size);
  SerializeProtoTo(message, body_.data());
  return client_->Send(id, body_);
}

absl::Status TypedClient::Send(const google::protobuf::Message& message) {
  absl::StatusOr<uint32_t> id = registry_.IdOf(message);
  if (!id.ok()) return id.status();
  return Send(*id, message);
}

absl::StatusOr<uint32_t> TypedClient::Receive(google::protobuf::Message* message,
                                              absl::Duration timeout) {
  absl::StatusOr<ReceivedMessage> received = client_->Receive(timeout);
  if (!received.ok()) return received.status();
  const google::protobuf::Message* declared = registry_.TypeOf(received->id);
  if (declared == nullptr) {
    return absl::NotFoundError(absl::StrCat("received message id ", received->id,
                                            ", which has no declared type"));
  }
  if (declared->GetDescriptor() != message->GetDescriptor()) {
    return absl::FailedPreconditionError(
        absl::StrCat("received message id ", received->id, " (", declared->GetTypeName(),
                     "), expected a ", message->GetTypeName()));
  }
  if (absl::Status s = ParseProto(received->body, *message); !s.ok()) return s;
  return received->id;
}

absl::StatusOr<std::unique_ptr<google::protobuf::Message>> TypedClient::ReceiveAny(
    absl::Duration timeout) {
  absl::StatusOr<ReceivedMessage> received = client_->Receive(timeout);
  if (!received.ok()) return received.status();
  const google::protobuf::Message* declared = registry_.TypeOf(received->id);
  if (declared == nullptr) {
    return absl::NotFoundError(absl::StrCat("received message id ", received->id,
                                            ", which has no declared type"));
  }
  std::unique_ptr<google::protobuf::Message> message(declared->New());
  if (absl::Status s = ParseProto(received->body, *message); !s.ok()) return s;
  return message;
}

}  // namespace netman
