// Copyright netman authors.
#include "netman/client/udp_client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "netman/base/status.h"
#include "netman/buffer/buffer.h"
#include "netman/codec/default_packer.h"

namespace netman {
namespace {

// Waits until `fd` is readable or `timeout` passes.
absl::Status WaitReadable(int fd, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    absl::Duration left = deadline - absl::Now();
    if (left < absl::ZeroDuration()) left = absl::ZeroDuration();
    struct pollfd p = {fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)));
    if (r > 0) return absl::OkStatus();
    if (r == 0) {
      if (absl::Now() >= deadline) return absl::DeadlineExceededError("no datagram in time");
      continue;
    }
    if (errno != EINTR) return ErrnoStatus(errno, "poll");
  }
}

}  // namespace

UdpClient::UdpClient(UniqueFd fd, std::shared_ptr<const Packer> packer, size_t max_datagram,
                     uint16_t local_port)
    : fd_(std::move(fd)), packer_(std::move(packer)), max_datagram_(max_datagram),
      local_port_(local_port) {}

absl::StatusOr<std::unique_ptr<UdpClient>> UdpClient::Connect(std::string_view host,
                                                              uint16_t port) {
  return Connect(host, port, Options{});
}

absl::StatusOr<std::unique_ptr<UdpClient>> UdpClient::Connect(std::string_view host,
                                                              uint16_t port,
                                                              Options options) {
  std::string name(host);
  if (name.size() >= 2 && name.front() == '[' && name.back() == ']') {
    name = name.substr(1, name.size() - 2);
  }
  struct addrinfo hints;
  std::memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  struct addrinfo* found = nullptr;
  const std::string service = absl::StrCat(port);
  if (int rc = ::getaddrinfo(name.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return absl::NotFoundError(absl::StrCat("resolve ", name, ": ", ::gai_strerror(rc)));
  }
  absl::Status last = absl::UnavailableError(absl::StrCat("no address for ", name));
  for (struct addrinfo* a = found; a != nullptr; a = a->ai_next) {
    UniqueFd fd(::socket(a->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
      last = ErrnoStatus(errno, "socket");
      continue;
    }
    if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0) {
      last = ErrnoStatus(errno, "connect");
      continue;
    }
    struct sockaddr_storage local;
    socklen_t len = sizeof(local);
    uint16_t local_port = 0;
    if (::getsockname(fd.get(), reinterpret_cast<struct sockaddr*>(&local), &len) == 0) {
      local_port = ntohs(local.ss_family == AF_INET6
                             ? reinterpret_cast<struct sockaddr_in6*>(&local)->sin6_port
                             : reinterpret_cast<struct sockaddr_in*>(&local)->sin_port);
    }
    ::freeaddrinfo(found);
    std::shared_ptr<const Packer> packer =
        options.packer ? std::move(options.packer) : std::make_shared<const DefaultPacker>();
    return std::unique_ptr<UdpClient>(new UdpClient(std::move(fd), std::move(packer),
                                                    options.max_datagram_bytes, local_port));
  }
  ::freeaddrinfo(found);
  return last;
}

absl::Status UdpClient::Send(uint32_t id, std::string_view body) {
  return SendMessages({{id, std::string(body)}});
}

absl::Status UdpClient::SendMessages(
    const std::vector<std::pair<uint32_t, std::string>>& messages) {
  Buffer out;
  for (const auto& [id, body] : messages) packer_->Encode(id, body, out);
  if (out.size() > max_datagram_) {
    return absl::InvalidArgumentError(absl::StrCat("datagram of ", out.size(),
                                                   " bytes exceeds ", max_datagram_));
  }
  return SendRaw(out.readable());
}

absl::Status UdpClient::SendRaw(std::string_view datagram) {
  if (!fd_) return absl::FailedPreconditionError("closed");
  for (;;) {
    const ssize_t n = ::send(fd_.get(), datagram.data(), datagram.size(), 0);
    if (n >= 0) return absl::OkStatus();
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      struct pollfd p = {fd_.get(), POLLOUT, 0};
      (void)::poll(&p, 1, 1000);
      continue;
    }
    return ErrnoStatus(errno, "send");
  }
}

absl::StatusOr<std::string> UdpClient::ReceiveDatagram(absl::Duration timeout) {
  std::string datagram(max_datagram_ + 1, '\0');
  for (;;) {
    const ssize_t n = ::recv(fd_.get(), datagram.data(), datagram.size(), 0);
    if (n >= 0) {
      datagram.resize(static_cast<size_t>(n));
      return datagram;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return ErrnoStatus(errno, "recv");
    if (absl::Status s = WaitReadable(fd_.get(), timeout); !s.ok()) return s;
    timeout = absl::ZeroDuration();  // readable now; a spurious wake-up times out
  }
}

absl::StatusOr<ReceivedMessage> UdpClient::Receive(absl::Duration timeout) {
  if (pending_.empty()) {
    absl::StatusOr<std::string> datagram = ReceiveDatagram(timeout);
    if (!datagram.ok()) return datagram.status();
    std::string_view rest = *datagram;
    std::deque<ReceivedMessage> messages;
    while (!rest.empty()) {
      DecodeResult r;
      absl::Status s = packer_->Decode(rest, &r);
      if (!s.ok() || !r.complete || r.consumed == 0 || r.consumed > rest.size()) {
        return absl::DataLossError(absl::StrCat("datagram of ", datagram->size(),
                                                " bytes is not whole messages"));
      }
      messages.push_back(ReceivedMessage{r.message.id, std::string(r.message.body)});
      rest.remove_prefix(r.consumed);
    }
    if (messages.empty()) return absl::DataLossError("empty datagram");
    pending_ = std::move(messages);
  }
  ReceivedMessage m = std::move(pending_.front());
  pending_.pop_front();
  return m;
}

}  // namespace netman
