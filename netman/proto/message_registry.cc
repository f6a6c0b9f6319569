// Copyright netman authors.
#include "netman/proto/message_registry.h"

#include "absl/strings/str_cat.h"

namespace netman {

absl::Status MessageRegistry::Declare(uint32_t id,
                                      const google::protobuf::Message* prototype) {
  if (prototype == nullptr) return absl::InvalidArgumentError("null message type");
  const google::protobuf::Descriptor* type = prototype->GetDescriptor();
  MutexLock lock(&mu_);
  if (auto it = by_id_.find(id); it != by_id_.end()) {
    return absl::AlreadyExistsError(absl::StrCat(
        "message id ", id, " is already declared as ", it->second->GetTypeName(),
        "; cannot declare it as ", type->full_name()));
  }
  if (auto it = by_type_.find(type); it != by_type_.end()) {
    return absl::AlreadyExistsError(absl::StrCat(
        type->full_name(), " is already declared as message id ", it->second,
        "; cannot declare it as id ", id, " too"));
  }
  by_id_.emplace(id, prototype);
  by_type_.emplace(type, id);
  return absl::OkStatus();
}

void MessageRegistry::Forget(uint32_t id) {
  MutexLock lock(&mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  by_type_.erase(it->second->GetDescriptor());
  by_id_.erase(it);
}

absl::StatusOr<uint32_t> MessageRegistry::IdOf(
    const google::protobuf::Descriptor* type) const {
  auto it = by_type_.find(type);
  if (it == by_type_.end()) {
    return absl::NotFoundError(absl::StrCat(
        type == nullptr ? std::string("(null type)") : type->full_name(),
        " has no message id: Declare() it first"));
  }
  return it->second;
}

const google::protobuf::Message* MessageRegistry::TypeOf(uint32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

}  // namespace netman
