// Copyright netman authors.
#include "netman/client/tls_client_stream.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <openssl/x509.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "netman/base/status.h"
#include "netman/tls/tls_errors.h"

namespace netman {
namespace {

// One SSL_write() takes at most this much (SSL_write counts in int).
constexpr size_t kMaxWriteChunk = size_t{1} << 30;

// A BIO on a non-blocking socket like BIO_s_socket(), except that it writes
// with MSG_NOSIGNAL: a peer's reset is an EPIPE status, not a SIGPIPE.
int SocketBioRead(BIO* bio, char* out, int size) {
  const int fd = static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio)));
  BIO_clear_retry_flags(bio);
  for (;;) {
    const ssize_t n = ::recv(fd, out, static_cast<size_t>(size), 0);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(bio);
    return -1;
  }
}

int SocketBioWrite(BIO* bio, const char* data, int size) {
  const int fd = static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio)));
  BIO_clear_retry_flags(bio);
  for (;;) {
    const ssize_t n =
        ::send(fd, data, static_cast<size_t>(size), MSG_NOSIGNAL);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(bio);
    return -1;
  }
}

long SocketBioCtrl(BIO* bio, int cmd, long larg, void* parg) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

const BIO_METHOD* SocketBioMethod() {
  // Built once, never changed afterwards.
  static const BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                 "netman client socket");
    if (m == nullptr) return static_cast<BIO_METHOD*>(nullptr);
    BIO_meth_set_read(m, &SocketBioRead);
    BIO_meth_set_write(m, &SocketBioWrite);
    BIO_meth_set_ctrl(m, &SocketBioCtrl);
    return m;
  }();
  return method;
}

bssl::UniquePtr<BIO> NewSocketBio(int fd) {
  const BIO_METHOD* method = SocketBioMethod();
  if (method == nullptr) return nullptr;
  bssl::UniquePtr<BIO> bio(BIO_new(method));
  if (bio == nullptr) return nullptr;
  BIO_set_data(bio.get(), reinterpret_cast<void*>(static_cast<intptr_t>(fd)));
  BIO_set_init(bio.get(), 1);
  return bio;
}

bool IsIpLiteral(const std::string& name) {
  unsigned char addr[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, name.c_str(), addr) == 1 ||
         ::inet_pton(AF_INET6, name.c_str(), addr) == 1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TlsClientStream>> TlsClientStream::Create(
    int fd, std::shared_ptr<const TlsClientConfig> config,
    std::string_view host, uint16_t port) {
  const TlsClientConfig::Options& o = config->options();
  const std::string name =
      o.server_name.empty() ? std::string(host) : o.server_name;
  bssl::UniquePtr<SSL> ssl(SSL_new(config->ctx()));
  bssl::UniquePtr<BIO> bio = NewSocketBio(fd);
  if (ssl == nullptr || bio == nullptr) {
    return TlsErrorStatus(absl::StatusCode::kInternal, "TLS: SSL_new");
  }
  BIO* raw_bio = bio.release();
  SSL_set_bio(ssl.get(), raw_bio, raw_bio);  // one reference, taken by ssl
  SSL_set_connect_state(ssl.get());
  const bool ip = IsIpLiteral(name);
  if (!ip && SSL_set_tlsext_host_name(ssl.get(), name.c_str()) != 1) {
    return TlsErrorStatus(absl::StatusCode::kInvalidArgument,
                          absl::StrCat("TLS: server name \"", name, "\""));
  }
  if (o.verify_peer) {
    const int rc =
        ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()),
                                           name.c_str())
           : SSL_set1_host(ssl.get(), name.c_str());
    if (rc != 1) {
      return TlsErrorStatus(absl::StatusCode::kInvalidArgument,
                            absl::StrCat("TLS: server name \"", name, "\""));
    }
  }
  std::string key = absl::StrCat(name, ":", port);
  std::string peer = absl::StrCat(std::string(host), ":", port);
  std::unique_ptr<TlsClientStream> stream(new TlsClientStream(
      std::move(ssl), std::move(config), std::move(key), std::move(peer)));
  if (stream->config_->options().reuse_sessions) {
    SSL_set_app_data(stream->ssl_.get(), &stream->session_key_);
    bssl::UniquePtr<SSL_SESSION> session =
        stream->config_->TakeSession(stream->session_key_);
    if (session != nullptr) SSL_set_session(stream->ssl_.get(), session.get());
  }
  return stream;
}

TlsClientStream::TlsClientStream(bssl::UniquePtr<SSL> ssl,
                                 std::shared_ptr<const TlsClientConfig> config,
                                 std::string session_key, std::string peer)
    : ssl_(std::move(ssl)),
      config_(std::move(config)),
      session_key_(std::move(session_key)),
      peer_(std::move(peer)) {}

TlsClientStream::~TlsClientStream() = default;

TlsClientStream::Result TlsClientStream::Fail(int rc, const char* what) {
  const int saved_errno = errno;
  switch (SSL_get_error(ssl_.get(), rc)) {
    case SSL_ERROR_WANT_READ:
      return Result::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return Result::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return Result::kClosed;
    case SSL_ERROR_SYSCALL: {
      const std::string queued = DrainTlsErrors();
      if (queued.empty() && (rc == 0 || saved_errno == 0)) {
        return Result::kClosed;  // TCP EOF without close_notify
      }
      if (saved_errno != 0) {
        error_ = ErrnoStatus(saved_errno, what);
      } else {
        error_ = absl::UnavailableError(absl::StrCat(what, ": ", queued));
      }
      return Result::kError;
    }
    default:
      break;
  }
  const uint32_t first = ERR_peek_error();
  if (ERR_GET_LIB(first) == ERR_LIB_SSL &&
      ERR_GET_REASON(first) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    const long verify = SSL_get_verify_result(ssl_.get());
    DrainTlsErrors();
    error_ = absl::UnauthenticatedError(absl::StrCat(
        "TLS handshake with ", peer_, ": certificate verify failed: ",
        X509_verify_cert_error_string(verify)));
    return Result::kError;
  }
  error_ = TlsErrorStatus(absl::StatusCode::kUnavailable,
                          absl::StrCat(what, " (", peer_, ")"));
  return Result::kError;
}

TlsClientStream::Result TlsClientStream::Handshake() {
  ERR_clear_error();
  errno = 0;
  const int rc = SSL_do_handshake(ssl_.get());
  if (rc == 1) return Result::kOk;
  const Result result = Fail(rc, "TLS handshake");
  if (result == Result::kClosed) {
    error_ = absl::UnavailableError(absl::StrCat(
        "TLS handshake with ", peer_, ": connection closed by peer"));
    return Result::kError;
  }
  return result;
}

TlsClientStream::Result TlsClientStream::Read(char* data, size_t size,
                                              size_t* n) {
  ERR_clear_error();
  errno = 0;
  const int rc = SSL_read(ssl_.get(), data,
                          static_cast<int>(size < INT_MAX ? size : INT_MAX));
  if (rc > 0) {
    *n = static_cast<size_t>(rc);
    return Result::kOk;
  }
  return Fail(rc, "read");
}

TlsClientStream::Result TlsClientStream::Write(std::string_view bytes,
                                               size_t* n) {
  ERR_clear_error();
  errno = 0;
  const size_t chunk = bytes.size() < kMaxWriteChunk ? bytes.size()
                                                     : kMaxWriteChunk;
  const int rc = SSL_write(ssl_.get(), bytes.data(), static_cast<int>(chunk));
  if (rc > 0) {
    *n = static_cast<size_t>(rc);
    return Result::kOk;
  }
  const Result result = Fail(rc, "send");
  if (result == Result::kClosed) {
    error_ = absl::UnavailableError("send: connection closed by peer");
    return Result::kError;
  }
  return result;
}

void TlsClientStream::SendCloseNotify() {
  ERR_clear_error();
  SSL_shutdown(ssl_.get());
  ERR_clear_error();
}

std::string TlsClientStream::version() const {
  return SSL_get_version(ssl_.get());
}

std::string TlsClientStream::cipher() const {
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl_.get());
  return cipher == nullptr ? std::string() : SSL_CIPHER_standard_name(cipher);
}

std::string TlsClientStream::alpn() const {
  const uint8_t* data = nullptr;
  unsigned length = 0;
  SSL_get0_alpn_selected(ssl_.get(), &data, &length);
  if (data == nullptr) return std::string();
  return std::string(reinterpret_cast<const char*>(data), length);
}

bool TlsClientStream::session_reused() const {
  return SSL_session_reused(ssl_.get()) == 1;
}

}  // namespace netman
