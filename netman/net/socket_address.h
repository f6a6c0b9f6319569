// Copyright netman authors.
//
// SocketAddress: an IPv4 or IPv6 address and port, small enough (28 bytes)
// to keep in every connection.
//
// Example:
//   absl::StatusOr<SocketAddress> a = SocketAddress::Parse("127.0.0.1:8999");
//   absl::StatusOr<SocketAddress> b = SocketAddress::Parse("[::1]:0");
//   absl::StatusOr<SocketAddress> c = SocketAddress::Parse(":8999");  // any
//   a->ToString();  // "127.0.0.1:8999"
//
// Threading: a value type; safe to copy between threads.
#ifndef NETMAN_NET_SOCKET_ADDRESS_H_
#define NETMAN_NET_SOCKET_ADDRESS_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace netman {

class SocketAddress {
 public:
  // 0.0.0.0:0.
  SocketAddress();

  // Parses "host:port" where host is a numeric IPv4 address, a bracketed
  // numeric IPv6 address ("[::1]:80"), "localhost", or empty (any IPv4
  // address). The port is 0..65535 (0 asks for an ephemeral port).
  static absl::StatusOr<SocketAddress> Parse(std::string_view host_port);
  // Numeric host (IPv4 or IPv6, no brackets), "localhost", or "" (any).
  static absl::StatusOr<SocketAddress> FromHostPort(std::string_view host,
                                                    uint16_t port);
  // From a kernel address (AF_INET or AF_INET6); other families give 0.0.0.0:0.
  static SocketAddress FromSockaddr(const struct sockaddr* addr, socklen_t len);

  int family() const { return addr_.v4.sin_family; }
  uint16_t port() const;
  // "1.2.3.4:80" or "[::1]:80".
  std::string ToString() const;
  // The host part alone: "1.2.3.4" or "::1".
  std::string HostString() const;

  const struct sockaddr* sockaddr() const {
    return reinterpret_cast<const struct sockaddr*>(&addr_);
  }
  socklen_t length() const {
    return family() == AF_INET6 ? sizeof(addr_.v6) : sizeof(addr_.v4);
  }

 private:
  union {
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
  } addr_;
};

}  // namespace netman

#endif  // NETMAN_NET_SOCKET_ADDRESS_H_
