// Copyright netman authors.
#include "netman/net/socket_ops.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "netman/base/status.h"

namespace netman {

absl::StatusOr<UniqueFd> CreateListenSocket(const SocketAddress& address,
                                            int backlog, bool reuse_port) {
  UniqueFd fd(::socket(address.family(),
                       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
  if (!fd) return ErrnoStatus(errno, "socket");
  int one = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
    return ErrnoStatus(errno, "setsockopt(SO_REUSEADDR)");
  }
  if (reuse_port &&
      ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    return ErrnoStatus(errno, "setsockopt(SO_REUSEPORT)");
  }
  if (::bind(fd.get(), address.sockaddr(), address.length()) != 0) {
    return ErrnoStatus(errno, absl::StrCat("bind ", address.ToString()));
  }
  if (::listen(fd.get(), backlog) != 0) {
    return ErrnoStatus(errno, absl::StrCat("listen ", address.ToString()));
  }
  return fd;
}

absl::StatusOr<SocketAddress> LocalAddressOf(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (::getsockname(fd, reinterpret_cast<struct sockaddr*>(&ss), &len) != 0) {
    return ErrnoStatus(errno, "getsockname");
  }
  return SocketAddress::FromSockaddr(reinterpret_cast<struct sockaddr*>(&ss), len);
}

absl::StatusOr<SocketAddress> PeerAddressOf(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (::getpeername(fd, reinterpret_cast<struct sockaddr*>(&ss), &len) != 0) {
    return ErrnoStatus(errno, "getpeername");
  }
  return SocketAddress::FromSockaddr(reinterpret_cast<struct sockaddr*>(&ss), len);
}

absl::Status SetTcpNoDelay(int fd, bool on) {
  int v = on ? 1 : 0;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)) != 0) {
    return ErrnoStatus(errno, "setsockopt(TCP_NODELAY)");
  }
  return absl::OkStatus();
}

absl::Status SetTcpKeepAlive(int fd, absl::Duration idle,
                             absl::Duration interval, int probes) {
  int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) != 0) {
    return ErrnoStatus(errno, "setsockopt(SO_KEEPALIVE)");
  }
  int idle_s = static_cast<int>(std::max<int64_t>(1, absl::ToInt64Seconds(idle)));
  int interval_s =
      static_cast<int>(std::max<int64_t>(1, absl::ToInt64Seconds(interval)));
#if defined(TCP_KEEPIDLE)
  if (::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof(idle_s)) != 0) {
    return ErrnoStatus(errno, "setsockopt(TCP_KEEPIDLE)");
  }
#elif defined(TCP_KEEPALIVE)
  if (::setsockopt(fd, IPPROTO_TCP, TCP_KEEPALIVE, &idle_s, sizeof(idle_s)) != 0) {
    return ErrnoStatus(errno, "setsockopt(TCP_KEEPALIVE)");
  }
#endif
  if (::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval_s,
                   sizeof(interval_s)) != 0) {
    return ErrnoStatus(errno, "setsockopt(TCP_KEEPINTVL)");
  }
  if (::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes)) != 0) {
    return ErrnoStatus(errno, "setsockopt(TCP_KEEPCNT)");
  }
  return absl::OkStatus();
}

int PendingSocketError(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

}  // namespace netman
