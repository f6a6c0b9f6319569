// Copyright netman authors.
#include "tools/loadgen/tls.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "netman/tls/tls_errors.h"

namespace netman::loadgen {
namespace {

TlsIo* IoOf(BIO* bio) { return static_cast<TlsIo*>(BIO_get_data(bio)); }

// Hands the SSL what the worker lent it; "retry" once that is used up.
int LentRead(BIO* bio, char* out, int size) {
  TlsIo* io = IoOf(bio);
  BIO_clear_retry_flags(bio);
  if (io->in_len == 0) {
    BIO_set_retry_read(bio);
    return -1;
  }
  const size_t n = std::min(io->in_len, static_cast<size_t>(size));
  std::memcpy(out, io->in, n);
  io->in += n;
  io->in_len -= n;
  return static_cast<int>(n);
}

// Collects what the SSL writes; the worker sends it.
int CollectWrite(BIO* bio, const char* data, int size) {
  BIO_clear_retry_flags(bio);
  IoOf(bio)->out.append(data, static_cast<size_t>(size));
  return size;
}

long Ctrl(BIO* bio, int cmd, long larg, void* parg) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

const BIO_METHOD* LentBioMethod() {
  // Built once, never changed afterwards.
  static const BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                 "loadgen lent buffers");
    if (m == nullptr) return static_cast<BIO_METHOD*>(nullptr);
    BIO_meth_set_read(m, &LentRead);
    BIO_meth_set_write(m, &CollectWrite);
    BIO_meth_set_ctrl(m, &Ctrl);
    return m;
  }();
  return method;
}

int OnNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* io = static_cast<TlsIo*>(SSL_get_app_data(ssl));
  if (io == nullptr) return 0;
  io->session.reset(session);
  ++io->sessions_issued;
  return 1;  // we took the reference
}

}  // namespace

std::string TlsErrors() {
  std::string out = DrainTlsErrors();
  return out.empty() ? std::string("(no BoringSSL error)") : out;
}

absl::StatusOr<std::unique_ptr<TlsClientContext>> TlsClientContext::Create(
    const TlsOptions& options) {
  if (options.ca_file.empty() == !options.insecure) {
    return absl::InvalidArgumentError(
        "--tls needs exactly one of --tls_ca=PEM and --tls_insecure");
  }
  bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
  if (ctx == nullptr) return absl::InternalError("SSL_CTX_new failed");
  uint16_t min = TLS1_2_VERSION, max = TLS1_3_VERSION;
  if (options.version == "1.2") {
    max = TLS1_2_VERSION;
  } else if (options.version == "1.3") {
    min = TLS1_3_VERSION;
  } else if (!options.version.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls_version=", options.version, ": want 1.2, 1.3 or empty"));
  }
  SSL_CTX_set_min_proto_version(ctx.get(), min);
  SSL_CTX_set_max_proto_version(ctx.get(), max);
  if (options.insecure) {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  } else {
    if (SSL_CTX_load_verify_locations(ctx.get(), options.ca_file.c_str(),
                                      nullptr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--tls_ca=", options.ca_file, ": ", TlsErrors()));
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  }
  if (options.resume) {
    SSL_CTX_set_session_cache_mode(
        ctx.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx.get(), &OnNewSession);
  } else {
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  }
  if (LentBioMethod() == nullptr) {
    return absl::InternalError("BIO_meth_new failed");
  }
  return std::unique_ptr<TlsClientContext>(
      new TlsClientContext(options, std::move(ctx)));
}

bssl::UniquePtr<SSL> TlsClientContext::NewSsl(TlsIo* io) const {
  bssl::UniquePtr<SSL> ssl(SSL_new(ctx_.get()));
  if (ssl == nullptr) return nullptr;
  BIO* bio = BIO_new(LentBioMethod());
  if (bio == nullptr) return nullptr;
  BIO_set_data(bio, io);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl.get(), bio, bio);  // one reference, taken by the SSL
  SSL_set_connect_state(ssl.get());
  SSL_set_app_data(ssl.get(), io);
  if (!options_.server_name.empty()) {
    SSL_set_tlsext_host_name(ssl.get(), options_.server_name.c_str());
  }
  if (!options_.insecure) {
    if (!options_.server_name.empty()) {
      SSL_set1_host(ssl.get(), options_.server_name.c_str());
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()),
                                    options_.host.c_str());
    }
  }
  if (options_.resume && io->session != nullptr) {
    SSL_set_session(ssl.get(), io->session.get());
  }
  return ssl;
}

}  // namespace netman::loadgen
