// Copyright netman authors.
#include "netman/base/status.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace netman {

absl::Status ErrnoStatus(int error_number, std::string_view what) {
  return absl::Status(
      absl::ErrnoToStatusCode(error_number),
      absl::StrCat(absl::string_view(what.data(), what.size()), ": ",
                   std::strerror(error_number)));
}

}  // namespace netman
