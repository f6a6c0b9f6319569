// Copyright netman authors.
#include "netman/tls/testing/tls_test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace netman::testing {
namespace {

std::string SslError() {
  const uint32_t e = ERR_get_error();
  ERR_clear_error();
  char text[256];
  ERR_error_string_n(e, text, sizeof(text));
  return text;
}

}  // namespace

int ConnectTcp(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

absl::StatusOr<std::unique_ptr<TlsTestClient>> TlsTestClient::Connect(
    uint16_t port, const TlsClientOptions& o) {
  std::unique_ptr<TlsTestClient> c(new TlsTestClient());
  c->ctx_.reset(SSL_CTX_new(TLS_method()));
  SSL_CTX* ctx = c->ctx_.get();
  SSL_CTX_set_min_proto_version(ctx, o.min_version);
  SSL_CTX_set_max_proto_version(ctx, o.max_version);
  if (!o.ciphers.empty() && !SSL_CTX_set_strict_cipher_list(ctx, o.ciphers.c_str())) {
    return absl::InvalidArgumentError("bad client cipher list");
  }
  // TLS 1.3 tickets arrive after the handshake, as new sessions.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
  SSL_CTX_sess_set_new_cb(ctx, [](SSL* ssl, SSL_SESSION* session) -> int {
    static_cast<TlsTestClient*>(SSL_get_app_data(ssl))->last_session_.reset(session);
    return 1;  // we keep the reference
  });
  if (!o.ca_pem.empty()) {
    bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(o.ca_pem.data(), o.ca_pem.size()));
    bssl::UniquePtr<X509> ca(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca.get());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  }
  if (!o.cert_pem.empty()) {
    bssl::UniquePtr<BIO> cb(BIO_new_mem_buf(o.cert_pem.data(), o.cert_pem.size()));
    bssl::UniquePtr<X509> cert(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
    bssl::UniquePtr<BIO> kb(BIO_new_mem_buf(o.key_pem.data(), o.key_pem.size()));
    bssl::UniquePtr<EVP_PKEY> key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
    if (!SSL_CTX_use_certificate(ctx, cert.get()) || !SSL_CTX_use_PrivateKey(ctx, key.get())) {
      return absl::InvalidArgumentError("bad client certificate");
    }
  }
  c->ssl_.reset(SSL_new(ctx));
  SSL* ssl = c->ssl_.get();
  SSL_set_app_data(ssl, c.get());
  if (!o.server_name.empty()) {
    SSL_set_tlsext_host_name(ssl, o.server_name.c_str());
    if (!o.ca_pem.empty()) {
      X509_VERIFY_PARAM_set1_host(SSL_get0_param(ssl), o.server_name.c_str(),
                                  o.server_name.size());
    }
  }
  if (!o.alpn.empty()) {
    std::string wire;
    for (const std::string& p : o.alpn) {
      wire.push_back(static_cast<char>(p.size()));
      wire += p;
    }
    SSL_set_alpn_protos(ssl, reinterpret_cast<const uint8_t*>(wire.data()), wire.size());
  }
  if (o.session != nullptr) SSL_set_session(ssl, o.session);
  c->fd_ = ConnectTcp(port);
  if (c->fd_ < 0) return absl::UnavailableError("connect failed");
  const int64_t us = absl::ToInt64Microseconds(o.timeout);
  timeval tv{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
  ::setsockopt(c->fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(c->fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  SSL_set_fd(ssl, c->fd_);
  if (SSL_connect(ssl) != 1) {
    return absl::UnavailableError(absl::StrCat("handshake failed: ", SslError()));
  }
  return c;
}

TlsTestClient::~TlsTestClient() {
  ssl_.reset();
  if (fd_ >= 0) ::close(fd_);
}

absl::Status TlsTestClient::Send(std::string_view bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const int rc = SSL_write(ssl_.get(), bytes.data() + done,
                             static_cast<int>(bytes.size() - done));
    if (rc <= 0) return absl::UnavailableError(absl::StrCat("SSL_write: ", SslError()));
    done += static_cast<size_t>(rc);
  }
  return absl::OkStatus();
}

absl::Status TlsTestClient::SendFrame(uint32_t id, std::string_view body) {
  std::string frame(8, '\0');
  const uint32_t n = static_cast<uint32_t>(body.size());
  for (int i = 0; i < 4; ++i) {
    frame[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    frame[4 + i] = static_cast<char>((id >> (8 * i)) & 0xff);
  }
  frame.append(body);
  return Send(frame);
}

absl::StatusOr<std::string> TlsTestClient::ReadExactly(size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    const int rc = SSL_read(ssl_.get(), out.data() + got, static_cast<int>(n - got));
    if (rc <= 0) {
      return absl::UnavailableError(absl::StrCat("SSL_read after ", got, " of ", n,
                                                 " bytes: error ", SSL_get_error(ssl_.get(), rc),
                                                 " ", SslError()));
    }
    got += static_cast<size_t>(rc);
  }
  return out;
}

absl::StatusOr<std::string> TlsTestClient::ReadFrame(uint32_t* id) {
  absl::StatusOr<std::string> header = ReadExactly(8);
  if (!header.ok()) return header.status();
  uint32_t n = 0, frame_id = 0;
  for (int i = 3; i >= 0; --i) {
    n = (n << 8) | static_cast<uint8_t>((*header)[i]);
    frame_id = (frame_id << 8) | static_cast<uint8_t>((*header)[4 + i]);
  }
  if (id != nullptr) *id = frame_id;
  return ReadExactly(n);
}

absl::StatusOr<bool> TlsTestClient::ReadCloseNotify() {
  char byte;
  const int rc = SSL_read(ssl_.get(), &byte, 1);
  if (rc > 0) return absl::FailedPreconditionError("data instead of close_notify");
  const int error = SSL_get_error(ssl_.get(), rc);
  ERR_clear_error();
  if (error == SSL_ERROR_ZERO_RETURN) return true;
  if (error == SSL_ERROR_SYSCALL || error == SSL_ERROR_SSL) return false;
  return absl::DeadlineExceededError(absl::StrCat("SSL_read error ", error));
}

void TlsTestClient::Shutdown() { SSL_shutdown(ssl_.get()); }

bssl::UniquePtr<SSL_SESSION> TlsTestClient::session() const {
  if (last_session_ == nullptr) return nullptr;
  SSL_SESSION_up_ref(last_session_.get());
  return bssl::UniquePtr<SSL_SESSION>(last_session_.get());
}

}  // namespace netman::testing
