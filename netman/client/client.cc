// Copyright netman authors.
#include "netman/client/client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "netman/base/status.h"
#include "netman/client/tls_client_config.h"
#include "netman/client/tls_client_stream.h"
#include "netman/codec/default_packer.h"

namespace netman {
namespace {

// read() asks for at least this much (more when the buffer already has room).
constexpr size_t kReadChunk = 64 << 10;
// An emptied buffer bigger than this is freed rather than kept for reuse, so
// one huge message does not pin its memory for the Client's lifetime.
constexpr size_t kRetainedCapacity = 1 << 20;
// Timeouts at least this long never expire.
constexpr absl::Duration kForever = absl::Hours(24 * 365 * 100);

absl::string_view AbslView(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

// A point in time on the monotonic clock, or never.
class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  static Deadline After(absl::Duration timeout) {
    Deadline d;
    if (timeout >= kForever) return d;
    if (timeout < absl::ZeroDuration()) timeout = absl::ZeroDuration();
    d.infinite_ = false;
    d.at_ = Clock::now() + absl::ToChronoNanoseconds(timeout);
    return d;
  }
  static Deadline Never() { return Deadline(); }

  bool infinite() const { return infinite_; }
  bool Expired() const { return !infinite_ && Clock::now() >= at_; }

  // Time left, clamped at zero. Only for finite deadlines.
  timespec Remaining() const {
    const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(
        at_ - Clock::now());
    const int64_t ns = left.count() > 0 ? left.count() : 0;
    timespec ts;
    ts.tv_sec = static_cast<time_t>(ns / 1000000000);
    ts.tv_nsec = static_cast<long>(ns % 1000000000);
    return ts;
  }

 private:
  bool infinite_ = true;
  Clock::time_point at_;
};

// Waits until `fd` reports one of `events` (or an error/hangup) or the
// deadline passes. Returns the revents, 0 on timeout. Retries EINTR with the
// time that is left.
absl::StatusOr<short> PollUntil(int fd, short events,
                                const Deadline& deadline) {
  for (;;) {
    pollfd p{};
    p.fd = fd;
    p.events = events;
    timespec left;
    const timespec* timeout = nullptr;
    if (!deadline.infinite()) {
      left = deadline.Remaining();
      timeout = &left;
    }
    const int rc = ::ppoll(&p, 1, timeout, nullptr);
    if (rc > 0) return p.revents;
    if (rc == 0) {
      if (deadline.Expired()) return 0;
      continue;
    }
    if (errno == EINTR) continue;
    return ErrnoStatus(errno, "poll");
  }
}

std::string FormatAddress(const sockaddr* addr) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    return absl::StrCat(text, ":", ntohs(in->sin_port));
  }
  if (addr->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    return absl::StrCat("[", text, "]:", ntohs(in6->sin6_port));
  }
  return absl::StrCat("<address family ", addr->sa_family, ">");
}

absl::Status ResolveError(int rc, int saved_errno, const std::string& host) {
  const std::string what = absl::StrCat("resolve \"", host, "\"");
  if (rc == EAI_SYSTEM) return ErrnoStatus(saved_errno, what);
  const std::string message = absl::StrCat(what, ": ", ::gai_strerror(rc));
  switch (rc) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
      return absl::NotFoundError(message);
    case EAI_AGAIN:
      return absl::UnavailableError(message);
    case EAI_MEMORY:
      return absl::ResourceExhaustedError(message);
    case EAI_FAMILY:
    case EAI_SERVICE:
    case EAI_BADFLAGS:
      return absl::InvalidArgumentError(message);
    default:
      return absl::UnknownError(message);
  }
}

// Connects a new non-blocking socket to `ai` before `deadline`.
absl::StatusOr<UniqueFd> ConnectOne(const addrinfo& ai,
                                    const Deadline& deadline) {
  UniqueFd fd(::socket(ai.ai_family,
                       ai.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                       ai.ai_protocol));
  if (!fd.valid()) return ErrnoStatus(errno, "socket");
  if (::connect(fd.get(), ai.ai_addr, ai.ai_addrlen) == 0) return fd;
  // EINTR leaves a non-blocking connect running, like EINPROGRESS.
  if (errno != EINPROGRESS && errno != EINTR) {
    return ErrnoStatus(errno, "connect");
  }
  NETMAN_ASSIGN_OR_RETURN(const short revents,
                          PollUntil(fd.get(), POLLOUT, deadline));
  if (revents == 0) return absl::DeadlineExceededError("connect: timed out");
  int error = 0;
  socklen_t length = sizeof(error);
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
    return ErrnoStatus(errno, "getsockopt(SO_ERROR)");
  }
  if (error != 0) return ErrnoStatus(error, "connect");
  return fd;
}

uint16_t LocalPort(int fd) {
  sockaddr_storage addr{};
  socklen_t length = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    return 0;
  }
  if (addr.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  }
  if (addr.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
  }
  return 0;
}

// Runs the TLS handshake on connected `fd` before `deadline`.
absl::StatusOr<std::unique_ptr<TlsClientStream>> HandshakeTls(
    int fd, std::shared_ptr<const TlsClientConfig> config,
    const std::string& host, uint16_t port, const Deadline& deadline) {
  NETMAN_ASSIGN_OR_RETURN(
      std::unique_ptr<TlsClientStream> stream,
      TlsClientStream::Create(fd, std::move(config), host, port));
  for (;;) {
    short wait = POLLIN;
    switch (stream->Handshake()) {
      case TlsClientStream::Result::kOk:
        return stream;
      case TlsClientStream::Result::kWantRead:
        break;
      case TlsClientStream::Result::kWantWrite:
        wait = POLLOUT;
        break;
      case TlsClientStream::Result::kClosed:
      case TlsClientStream::Result::kError:
        return stream->error();
    }
    NETMAN_ASSIGN_OR_RETURN(const short revents,
                            PollUntil(fd, wait, deadline));
    if (revents == 0) {
      return absl::DeadlineExceededError(absl::StrCat(
          "TLS handshake with ", host, " port ", port, ": timed out"));
    }
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(std::string_view host,
                                                        uint16_t port) {
  return Connect(host, port, Options());
}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(std::string_view host,
                                                        uint16_t port,
                                                        Options options) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("Client::Connect: bad host \"", AbslView(host), "\""));
  }
  const std::string host_string(host);
  const std::string port_string = std::to_string(port);

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  errno = 0;
  const int rc =
      ::getaddrinfo(host_string.c_str(), port_string.c_str(), &hints, &list);
  if (rc != 0) return ResolveError(rc, errno, host_string);
  const std::unique_ptr<addrinfo, void (*)(addrinfo*)> owner(list,
                                                             &::freeaddrinfo);

  const Deadline deadline = Deadline::After(options.connect_timeout);
  absl::StatusCode last_code = absl::StatusCode::kNotFound;
  std::string errors;
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    absl::StatusOr<UniqueFd> fd = ConnectOne(*ai, deadline);
    if (!fd.ok()) {
      last_code = fd.status().code();
      absl::StrAppend(&errors, errors.empty() ? "" : "; ",
                      FormatAddress(ai->ai_addr), ": ", fd.status().message());
      if (deadline.Expired()) break;
      continue;
    }
    if (options.tcp_nodelay) {
      const int one = 1;
      if (::setsockopt(fd->get(), IPPROTO_TCP, TCP_NODELAY, &one,
                       sizeof(one)) != 0) {
        return ErrnoStatus(errno, "setsockopt(TCP_NODELAY)");
      }
    }
    std::shared_ptr<const Packer> packer = std::move(options.packer);
    if (packer == nullptr) packer = std::make_shared<const DefaultPacker>();
    const uint16_t local_port = LocalPort(fd->get());
    std::unique_ptr<TlsClientStream> tls;
    if (options.tls != nullptr) {
      NETMAN_ASSIGN_OR_RETURN(tls, HandshakeTls(fd->get(), options.tls,
                                                host_string, port, deadline));
    }
    return std::unique_ptr<Client>(new Client(*std::move(fd), std::move(packer),
                                              options.max_body, local_port,
                                              std::move(tls)));
  }
  if (errors.empty()) errors = "no addresses";
  return absl::Status(last_code, absl::StrCat("connect to ", host_string,
                                              " port ", port, ": ", errors));
}

Client::Client(UniqueFd fd, std::shared_ptr<const Packer> packer,
               uint64_t max_body, uint16_t local_port,
               std::unique_ptr<TlsClientStream> tls)
    : fd_(std::move(fd)),
      packer_(std::move(packer)),
      max_body_(max_body),
      local_port_(local_port),
      tls_(std::move(tls)),
      read_wait_(POLLIN) {}

Client::~Client() { Close(); }

std::optional<Client::TlsInfo> Client::tls_info() const {
  if (tls_ == nullptr) return std::nullopt;
  TlsInfo info;
  info.version = tls_->version();
  info.cipher = tls_->cipher();
  info.alpn = tls_->alpn();
  info.session_reused = tls_->session_reused();
  return info;
}

absl::Status Client::CheckOpen() const {
  if (!fd_.valid()) return absl::FailedPreconditionError("client is closed");
  return absl::OkStatus();
}

Client::ReadOutcome Client::ReadSome() {
  if (tls_ != nullptr) return ReadSomeTls();
  for (;;) {
    char* space = in_.Writable(kReadChunk);
    const ssize_t n = ::read(fd_.get(), space, in_.writable_size());
    if (n > 0) {
      in_.Commit(static_cast<size_t>(n));
      return ReadOutcome::kData;
    }
    if (n == 0) {
      peer_closed_ = true;
      return ReadOutcome::kClosed;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return ReadOutcome::kWouldBlock;
    }
    read_error_ = ErrnoStatus(errno, "read");
    return ReadOutcome::kClosed;
  }
}

Client::ReadOutcome Client::ReadSomeTls() {
  char* space = in_.Writable(kReadChunk);
  size_t n = 0;
  switch (tls_->Read(space, in_.writable_size(), &n)) {
    case TlsClientStream::Result::kOk:
      in_.Commit(n);
      return ReadOutcome::kData;
    case TlsClientStream::Result::kWantRead:
      read_wait_ = POLLIN;
      return ReadOutcome::kWouldBlock;
    case TlsClientStream::Result::kWantWrite:
      read_wait_ = POLLOUT;
      return ReadOutcome::kWouldBlock;
    case TlsClientStream::Result::kClosed:
      peer_closed_ = true;
      return ReadOutcome::kClosed;
    case TlsClientStream::Result::kError:
      break;
  }
  read_error_ = tls_->error();
  return ReadOutcome::kClosed;
}

absl::Status Client::WriteAllTls(std::string_view bytes) {
  while (!bytes.empty()) {
    size_t n = 0;
    short wait = POLLOUT;
    switch (tls_->Write(bytes, &n)) {
      case TlsClientStream::Result::kOk:
        bytes.remove_prefix(n);
        continue;
      case TlsClientStream::Result::kWantWrite:
        break;
      case TlsClientStream::Result::kWantRead:
        wait = POLLIN;
        break;
      case TlsClientStream::Result::kClosed:
      case TlsClientStream::Result::kError:
        return tls_->error();
    }
    // As in WriteAll(): take in what the peer sends while the socket is full.
    const bool drain = !peer_closed_ && read_error_.ok();
    NETMAN_ASSIGN_OR_RETURN(
        const short revents,
        PollUntil(fd_.get(), static_cast<short>(wait | (drain ? POLLIN : 0)),
                  Deadline::Never()));
    if (drain && (revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
      while (ReadSomeTls() == ReadOutcome::kData) {
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Client::WriteAll(std::string_view bytes) {
  if (tls_ != nullptr) return WriteAllTls(bytes);
  while (!bytes.empty()) {
    const ssize_t n =
        ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return ErrnoStatus(errno, "send");
    }
    // The socket is full. Take in what the peer sends meanwhile: a peer that
    // echoes stops reading once its own writes to us block.
    const bool drain = !peer_closed_ && read_error_.ok();
    NETMAN_ASSIGN_OR_RETURN(
        const short revents,
        PollUntil(fd_.get(), static_cast<short>(POLLOUT | (drain ? POLLIN : 0)),
                  Deadline::Never()));
    if (drain && (revents & (POLLIN | POLLERR | POLLHUP)) != 0) ReadSome();
  }
  return absl::OkStatus();
}

absl::Status Client::Send(uint32_t id, std::string_view body) {
  NETMAN_RETURN_IF_ERROR(CheckOpen());
  if (body.size() > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Send: body of ", body.size(), " bytes is over 4 GiB - 1"));
  }
  out_.Clear();
  packer_->Encode(id, body, out_);
  absl::Status status = WriteAll(out_.readable());
  out_.Clear();
  if (out_.capacity() > kRetainedCapacity) out_.Release();
  return status;
}

absl::Status Client::SendRaw(std::string_view bytes) {
  NETMAN_RETURN_IF_ERROR(CheckOpen());
  return WriteAll(bytes);
}

absl::Status Client::FailStream(absl::Status status) {
  stream_error_ = std::move(status);
  in_.Release();
  return stream_error_;
}

absl::StatusOr<std::optional<ReceivedMessage>> Client::DecodeBuffered() {
  if (!stream_error_.ok()) return stream_error_;
  if (in_.empty()) return std::nullopt;
  absl::StatusOr<DecodeResult> result = DecodeOne(*packer_, in_.readable());
  if (!result.ok()) {
    return FailStream(
        absl::Status(result.status().code(),
                     absl::StrCat("decode: ", result.status().message())));
  }
  if (!result->complete) {
    if (result->declared_body_length.has_value() && max_body_ != 0 &&
        *result->declared_body_length > max_body_) {
      return FailStream(absl::ResourceExhaustedError(
          absl::StrCat("message body of ", *result->declared_body_length,
                       " bytes exceeds max_body ", max_body_)));
    }
    return std::nullopt;
  }
  if (result->consumed == 0 || result->consumed > in_.size()) {
    return FailStream(absl::InternalError(absl::StrCat(
        "packer consumed ", result->consumed, " bytes of ", in_.size())));
  }
  if (max_body_ != 0 && result->message.body.size() > max_body_) {
    return FailStream(absl::ResourceExhaustedError(
        absl::StrCat("message body of ", result->message.body.size(),
                     " bytes exceeds max_body ", max_body_)));
  }
  ReceivedMessage message;
  message.id = result->message.id;
  message.body.assign(result->message.body.data(), result->message.body.size());
  in_.Consume(result->consumed);
  if (in_.empty() && in_.capacity() > kRetainedCapacity) in_.Release();
  return message;
}

absl::StatusOr<ReceivedMessage> Client::Receive(absl::Duration timeout) {
  NETMAN_RETURN_IF_ERROR(CheckOpen());
  const Deadline deadline = Deadline::After(timeout);
  bool tried_read = false;
  for (;;) {
    NETMAN_ASSIGN_OR_RETURN(std::optional<ReceivedMessage> message,
                            DecodeBuffered());
    if (message.has_value()) return *std::move(message);
    if (!read_error_.ok()) return read_error_;
    if (peer_closed_) {
      if (in_.empty()) {
        return absl::UnavailableError("connection closed by peer");
      }
      return absl::UnavailableError(
          absl::StrCat("connection closed by peer; ", in_.size(),
                       " bytes of an incomplete message left"));
    }
    // Reads at least once, so a zero timeout still sees what has arrived.
    if (tried_read && deadline.Expired()) break;
    tried_read = true;
    if (ReadSome() != ReadOutcome::kWouldBlock) continue;
    NETMAN_ASSIGN_OR_RETURN(const short revents,
                            PollUntil(fd_.get(), read_wait_, deadline));
    if (revents == 0) break;
  }
  return absl::DeadlineExceededError(
      absl::StrCat("no complete message within ", absl::FormatDuration(timeout),
                   " (", in_.size(), " bytes buffered)"));
}

absl::Status Client::ShutdownWrite() {
  NETMAN_RETURN_IF_ERROR(CheckOpen());
  if (tls_ != nullptr) tls_->SendCloseNotify();
  if (::shutdown(fd_.get(), SHUT_WR) != 0) {
    return ErrnoStatus(errno, "shutdown");
  }
  return absl::OkStatus();
}

absl::Status Client::WaitForClose(absl::Duration timeout) {
  NETMAN_RETURN_IF_ERROR(CheckOpen());
  in_.Clear();
  const Deadline deadline = Deadline::After(timeout);
  bool tried_read = false;
  while (!peer_closed_ && read_error_.ok()) {
    // Reads at least once, so a zero timeout still sees a close that arrived.
    if (tried_read && deadline.Expired()) break;
    tried_read = true;
    const ReadOutcome outcome = ReadSome();
    in_.Clear();
    if (outcome != ReadOutcome::kWouldBlock) continue;
    NETMAN_ASSIGN_OR_RETURN(const short revents,
                            PollUntil(fd_.get(), read_wait_, deadline));
    if (revents == 0) break;
  }
  if (in_.capacity() > kRetainedCapacity) in_.Release();
  if (!peer_closed_ && read_error_.ok()) {
    return absl::DeadlineExceededError(
        absl::StrCat("peer did not close the connection within ",
                     absl::FormatDuration(timeout)));
  }
  return absl::OkStatus();
}

void Client::Close() {
  if (tls_ != nullptr && fd_.valid()) tls_->SendCloseNotify();
  tls_.reset();
  fd_.reset();
  in_.Release();
  out_.Release();
}

}  // namespace netman
