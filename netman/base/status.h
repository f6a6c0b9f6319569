// Copyright netman authors.
//
// Status helpers: errno to absl::Status, and the RETURN_IF_ERROR /
// ASSIGN_OR_RETURN macros that abseil 20220623 does not ship.
//
// Example:
//   absl::StatusOr<UniqueFd> OpenSocket() {
//     int fd = ::socket(AF_INET, SOCK_STREAM, 0);
//     if (fd < 0) return ErrnoStatus(errno, "socket");
//     return UniqueFd(fd);
//   }
//   absl::Status Listen() {
//     NETMAN_ASSIGN_OR_RETURN(UniqueFd fd, OpenSocket());
//     NETMAN_RETURN_IF_ERROR(Bind(fd));
//     return absl::OkStatus();
//   }
#ifndef NETMAN_BASE_STATUS_H_
#define NETMAN_BASE_STATUS_H_

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace netman {

// Converts `error_number` (an errno value) into a Status whose code follows
// absl::ErrnoToStatusCode and whose message is "<what>: <strerror>".
absl::Status ErrnoStatus(int error_number, std::string_view what);

}  // namespace netman

#define NETMAN_STATUS_CONCAT_INNER_(a, b) a##b
#define NETMAN_STATUS_CONCAT_(a, b) NETMAN_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function
// when it is not OK.
#define NETMAN_RETURN_IF_ERROR(expr)                         \
  do {                                                       \
    ::absl::Status netman_status_ = (expr);                  \
    if (!netman_status_.ok()) return netman_status_;         \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status from
// the enclosing function, otherwise moves the value into `lhs`, which may be
// a declaration (`NETMAN_ASSIGN_OR_RETURN(auto fd, Open());`).
#define NETMAN_ASSIGN_OR_RETURN(lhs, rexpr) \
  NETMAN_ASSIGN_OR_RETURN_IMPL_(            \
      NETMAN_STATUS_CONCAT_(netman_statusor_, __LINE__), lhs, rexpr)

#define NETMAN_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()

#endif  // NETMAN_BASE_STATUS_H_
