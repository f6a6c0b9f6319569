// Copyright netman authors.
#include "netman/net/socket_address.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace netman {

SocketAddress::SocketAddress() {
  std::memset(&addr_, 0, sizeof(addr_));
  addr_.v4.sin_family = AF_INET;
}

absl::StatusOr<SocketAddress> SocketAddress::FromHostPort(std::string_view host,
                                                          uint16_t port) {
  SocketAddress a;
  std::string h(host);
  if (h.empty()) h = "0.0.0.0";
  if (h == "localhost") h = "127.0.0.1";
  if (::inet_pton(AF_INET, h.c_str(), &a.addr_.v4.sin_addr) == 1) {
    a.addr_.v4.sin_family = AF_INET;
    a.addr_.v4.sin_port = htons(port);
    return a;
  }
  std::memset(&a.addr_, 0, sizeof(a.addr_));
  if (::inet_pton(AF_INET6, h.c_str(), &a.addr_.v6.sin6_addr) == 1) {
    a.addr_.v6.sin6_family = AF_INET6;
    a.addr_.v6.sin6_port = htons(port);
    return a;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("not a numeric IPv4/IPv6 address: '", h, "'"));
}

absl::StatusOr<SocketAddress> SocketAddress::Parse(std::string_view host_port) {
  const std::string text(host_port);
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("address '", text, "' is not host:port"));
  }
  std::string host = text.substr(0, colon);
  const std::string port_text = text.substr(colon + 1);
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 2 || host.back() != ']') {
      return absl::InvalidArgumentError(
          absl::StrCat("address '", text, "' has an unclosed '['"));
    }
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "address '", text, "': write IPv6 hosts in brackets, e.g. [::1]:80"));
  }
  uint32_t port = 0;
  if (!absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("address '", text, "' has a bad port '", port_text, "'"));
  }
  return FromHostPort(host, static_cast<uint16_t>(port));
}

SocketAddress SocketAddress::FromSockaddr(const struct sockaddr* addr,
                                          socklen_t len) {
  SocketAddress a;
  if (addr->sa_family == AF_INET && len >= sizeof(a.addr_.v4)) {
    std::memcpy(&a.addr_.v4, addr, sizeof(a.addr_.v4));
  } else if (addr->sa_family == AF_INET6 && len >= sizeof(a.addr_.v6)) {
    std::memcpy(&a.addr_.v6, addr, sizeof(a.addr_.v6));
  }
  return a;
}

uint16_t SocketAddress::port() const {
  return ntohs(family() == AF_INET6 ? addr_.v6.sin6_port : addr_.v4.sin_port);
}

std::string SocketAddress::HostString() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET6) {
    ::inet_ntop(AF_INET6, &addr_.v6.sin6_addr, text, sizeof(text));
  } else {
    ::inet_ntop(AF_INET, &addr_.v4.sin_addr, text, sizeof(text));
  }
  return text;
}

std::string SocketAddress::ToString() const {
  if (family() == AF_INET6) return absl::StrCat("[", HostString(), "]:", port());
  return absl::StrCat(HostString(), ":", port());
}

}  // namespace netman
