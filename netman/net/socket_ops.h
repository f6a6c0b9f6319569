// Copyright netman authors.
//
// Thin wrappers over socket system calls that return absl::Status. Used by
// Acceptor, Connection and the client.
//
// Threading: stateless functions; safe from any thread.
#ifndef NETMAN_NET_SOCKET_OPS_H_
#define NETMAN_NET_SOCKET_OPS_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "netman/base/unique_fd.h"
#include "netman/net/socket_address.h"

namespace netman {

// A non-blocking, close-on-exec TCP socket bound to `address` with
// SO_REUSEADDR (and SO_REUSEPORT when `reuse_port`), listening with `backlog`.
absl::StatusOr<UniqueFd> CreateListenSocket(const SocketAddress& address,
                                            int backlog, bool reuse_port);

// getsockname / getpeername.
absl::StatusOr<SocketAddress> LocalAddressOf(int fd);
absl::StatusOr<SocketAddress> PeerAddressOf(int fd);

absl::Status SetTcpNoDelay(int fd, bool on);

// SO_KEEPALIVE with TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT.
absl::Status SetTcpKeepAlive(int fd, absl::Duration idle,
                             absl::Duration interval, int probes);

// The pending SO_ERROR of a socket (0 if none).
int PendingSocketError(int fd);

}  // namespace netman

#endif  // NETMAN_NET_SOCKET_OPS_H_
