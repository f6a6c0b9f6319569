// Copyright netman authors.
#include "netman/codec/protobuf_codec.h"

#include "absl/strings/str_cat.h"

namespace netman {

absl::StatusOr<size_t> ProtoBodySize(const google::protobuf::MessageLite& message) {
  const size_t size = message.ByteSizeLong();
  if (size >= kMaxProtoBytes) [[unlikely]] {
    return absl::InvalidArgumentError(absl::StrCat(
        message.GetTypeName(), " of ", size, " bytes: protobuf cannot serialise 2 GiB or more"));
  }
  return size;
}

absl::Status EncodeProto(const Packer& packer, uint32_t id,
                         const google::protobuf::MessageLite& message, Buffer& out) {
  absl::StatusOr<size_t> size = ProtoBodySize(message);
  if (!size.ok()) return size.status();
  packer.EncodeWith(id, *size, [&message](char* dst) { SerializeProtoTo(message, dst); },
                    out);
  return absl::OkStatus();
}

absl::Status ParseProto(std::string_view body, google::protobuf::MessageLite& message) {
  if (body.size() >= kMaxProtoBytes ||
      // Partial + IsInitialized(): ParseFromArray() would also log missing
      // required fields itself, unlimited; the caller logs rate-limited.
      !message.ParsePartialFromArray(body.data(), static_cast<int>(body.size())) ||
      !message.IsInitialized()) [[unlikely]] {
    return absl::InvalidArgumentError(absl::StrCat(
        "body of ", body.size(), " bytes does not parse as ", message.GetTypeName()));
  }
  return absl::OkStatus();
}

}  // namespace netman
