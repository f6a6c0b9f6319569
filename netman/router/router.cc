// Copyright netman authors.
#include "netman/router/router.h"

#include "absl/strings/str_cat.h"

namespace netman {

absl::Status Router::AddRouter(uint32_t id, Handler handler) {
  if (!handler) {
    return absl::InvalidArgumentError(
        absl::StrCat("empty handler for message id ", id));
  }
  if (Find(id) != nullptr) {
    return absl::AlreadyExistsError(
        absl::StrCat("message id ", id, " already has a handler"));
  }
  if (id < kDenseIds) {
    if (dense_.size() <= id) dense_.resize(id + 1);
    dense_[id] = std::move(handler);
  } else {
    sparse_.emplace(id, std::move(handler));
  }
  ++count_;
  return absl::OkStatus();
}

}  // namespace netman
