// Copyright netman authors.
//
// TlsErrorStatus: BoringSSL's thread-local error queue as an absl::Status.
//
// Threading: any thread; reads and clears the calling thread's error queue.
#ifndef NETMAN_TLS_TLS_ERRORS_H_
#define NETMAN_TLS_TLS_ERRORS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace netman {

// Drains this thread's BoringSSL error queue into one string ("reason;
// reason"), empty if the queue is empty.
std::string DrainTlsErrors();

// A status with `code` and the message "<what>: <drained errors>" (or just
// `what` when the queue is empty).
absl::Status TlsErrorStatus(absl::StatusCode code, std::string_view what);

}  // namespace netman

#endif  // NETMAN_TLS_TLS_ERRORS_H_
