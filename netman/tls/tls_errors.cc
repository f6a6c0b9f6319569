// Copyright netman authors.
#include "netman/tls/tls_errors.h"

#include <openssl/err.h>

#include "absl/strings/str_cat.h"

namespace netman {

std::string DrainTlsErrors() {
  std::string out;
  char text[256];
  for (uint32_t e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    ERR_error_string_n(e, text, sizeof(text));
    absl::StrAppend(&out, out.empty() ? "" : "; ", text);
  }
  return out;
}

absl::Status TlsErrorStatus(absl::StatusCode code, std::string_view what) {
  const absl::string_view what_view(what.data(), what.size());
  const std::string errors = DrainTlsErrors();
  if (errors.empty()) return absl::Status(code, what_view);
  return absl::Status(code, absl::StrCat(what_view, ": ", errors));
}

}  // namespace netman
