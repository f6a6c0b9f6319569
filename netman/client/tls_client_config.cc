// Copyright netman authors.
#include "netman/client/tls_client_config.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "netman/base/status.h"
#include "netman/tls/tls_errors.h"

namespace netman {
namespace {

// Where Linux distributions keep their trusted roots as one PEM bundle
// (Debian/Ubuntu, Fedora/RHEL, openSUSE, Alpine), tried in this order.
constexpr const char* kSystemRootBundles[] = {
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
};

// The wire form of an ALPN list: each name prefixed by its length.
absl::StatusOr<std::string> AlpnWire(const std::vector<std::string>& names) {
  std::string wire;
  for (const std::string& name : names) {
    if (name.empty() || name.size() > 255) {
      return absl::InvalidArgumentError(
          absl::StrCat("TLS: ALPN protocol name \"", name,
                       "\" must be 1 to 255 bytes"));
    }
    wire.push_back(static_cast<char>(name.size()));
    wire += name;
  }
  return wire;
}

uint16_t WireVersion(TlsClientConfig::Version version) {
  return version == TlsClientConfig::Version::kTls13 ? TLS1_3_VERSION
                                                     : TLS1_2_VERSION;
}

absl::Status AddCaPem(X509_STORE* store, const std::string& pem) {
  bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), pem.size()));
  int added = 0;
  for (;;) {
    bssl::UniquePtr<X509> cert(
        PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (cert == nullptr) break;
    if (X509_STORE_add_cert(store, cert.get()) == 1) ++added;
  }
  ERR_clear_error();  // the end of the PEM text reads as an error
  if (added == 0) {
    return absl::InvalidArgumentError("TLS: ca_pem holds no certificate");
  }
  return absl::OkStatus();
}

absl::Status LoadClientCertificate(SSL_CTX* ctx,
                                   const TlsClientConfig::Options& o) {
  const bool any_cert = !o.cert_file.empty() || !o.cert_pem.empty();
  const bool any_key = !o.key_file.empty() || !o.key_pem.empty();
  if (!any_cert && !any_key) return absl::OkStatus();
  if (any_cert != any_key) {
    return absl::InvalidArgumentError(
        "TLS: a client certificate needs both the certificate and its key");
  }
  if (!o.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, o.cert_file.c_str()) != 1) {
      return TlsErrorStatus(absl::StatusCode::kInvalidArgument,
                            absl::StrCat("TLS: load cert_file ", o.cert_file));
    }
  } else {
    bssl::UniquePtr<BIO> bio(
        BIO_new_mem_buf(o.cert_pem.data(), o.cert_pem.size()));
    bssl::UniquePtr<X509> leaf(
        PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (leaf == nullptr || SSL_CTX_use_certificate(ctx, leaf.get()) != 1) {
      return TlsErrorStatus(absl::StatusCode::kInvalidArgument,
                            "TLS: parse cert_pem");
    }
    for (;;) {
      bssl::UniquePtr<X509> extra(
          PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
      if (extra == nullptr) break;
      if (SSL_CTX_add1_chain_cert(ctx, extra.get()) != 1) {
        return TlsErrorStatus(absl::StatusCode::kInvalidArgument,
                              "TLS: add cert_pem chain certificate");
      }
    }
    ERR_clear_error();
  }
  if (!o.key_file.empty()) {
    if (SSL_CTX_use_PrivateKey_file(ctx, o.key_file.c_str(),
                                    SSL_FILETYPE_PEM) != 1) {
      return TlsErrorStatus(absl::StatusCode::kInvalidArgument,
                            absl::StrCat("TLS: load key_file ", o.key_file));
    }
  } else {
    bssl::UniquePtr<BIO> bio(
        BIO_new_mem_buf(o.key_pem.data(), o.key_pem.size()));
    bssl::UniquePtr<EVP_PKEY> key(
        PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (key == nullptr || SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) {
      return TlsErrorStatus(absl::StatusCode::kInvalidArgument,
                            "TLS: parse key_pem");
    }
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return TlsErrorStatus(absl::StatusCode::kInvalidArgument,
                          "TLS: the client key does not match its certificate");
  }
  return absl::OkStatus();
}

// Called by BoringSSL when the server issues a session (TLS 1.2: at the end
// of the handshake; TLS 1.3: whenever a NewSessionTicket is read).
int OnNewSession(SSL* ssl, SSL_SESSION* session) {
  const auto* config =
      static_cast<const TlsClientConfig*>(SSL_CTX_get_app_data(
          SSL_get_SSL_CTX(ssl)));
  const auto* key = static_cast<const std::string*>(SSL_get_app_data(ssl));
  if (config == nullptr || key == nullptr) return 0;
  config->StoreSession(*key, bssl::UniquePtr<SSL_SESSION>(session));
  return 1;  // we took the reference
}

}  // namespace

TlsClientConfig::TlsClientConfig(Options options)
    : options_(std::move(options)) {}

absl::StatusOr<std::shared_ptr<const TlsClientConfig>> TlsClientConfig::Create(
    Options options) {
  std::shared_ptr<TlsClientConfig> config(
      new TlsClientConfig(std::move(options)));
  NETMAN_RETURN_IF_ERROR(config->Init());
  return std::shared_ptr<const TlsClientConfig>(std::move(config));
}

absl::Status TlsClientConfig::Init() {
  const Options& o = options_;
  if (WireVersion(o.min_version) > WireVersion(o.max_version)) {
    return absl::InvalidArgumentError(
        "TLS: min_version is above max_version");
  }
  ctx_.reset(SSL_CTX_new(TLS_method()));
  if (ctx_ == nullptr) {
    return TlsErrorStatus(absl::StatusCode::kInternal, "TLS: SSL_CTX_new");
  }
  SSL_CTX* ctx = ctx_.get();
  SSL_CTX_set_app_data(ctx, const_cast<TlsClientConfig*>(this));
  SSL_CTX_set_min_proto_version(ctx, WireVersion(o.min_version));
  SSL_CTX_set_max_proto_version(ctx, WireVersion(o.max_version));
  // Non-blocking writes: a retry may pass a moved buffer, and a write returns
  // after each record so the caller can read between records.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (!o.cipher_list.empty() &&
      SSL_CTX_set_strict_cipher_list(ctx, o.cipher_list.c_str()) != 1) {
    return TlsErrorStatus(absl::StatusCode::kInvalidArgument,
                          absl::StrCat("TLS: cipher_list \"", o.cipher_list,
                                       "\""));
  }

  if (o.verify_peer) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    if (!o.ca_file.empty()) {
      if (::access(o.ca_file.c_str(), R_OK) != 0) {
        return ErrnoStatus(errno, absl::StrCat("TLS: ca_file ", o.ca_file));
      }
      if (SSL_CTX_load_verify_locations(ctx, o.ca_file.c_str(), nullptr) !=
          1) {
        return TlsErrorStatus(absl::StatusCode::kInvalidArgument,
                              absl::StrCat("TLS: load ca_file ", o.ca_file));
      }
    }
    if (!o.ca_pem.empty()) NETMAN_RETURN_IF_ERROR(AddCaPem(store, o.ca_pem));
    if (o.ca_file.empty() && o.ca_pem.empty()) {
      bool loaded = false;
      for (const char* bundle : kSystemRootBundles) {
        if (::access(bundle, R_OK) != 0) continue;
        if (SSL_CTX_load_verify_locations(ctx, bundle, nullptr) == 1) {
          loaded = true;
          break;
        }
        ERR_clear_error();
      }
      if (!loaded) {
        return absl::NotFoundError(
            "TLS: no system root certificates found (give ca_file or "
            "ca_pem)");
      }
    }
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }

  if (!o.alpn.empty()) {
    NETMAN_ASSIGN_OR_RETURN(const std::string wire, AlpnWire(o.alpn));
    // Unlike most BoringSSL calls, this one returns 0 on success.
    if (SSL_CTX_set_alpn_protos(ctx,
                                reinterpret_cast<const uint8_t*>(wire.data()),
                                wire.size()) != 0) {
      return TlsErrorStatus(absl::StatusCode::kInvalidArgument,
                            "TLS: set ALPN protocols");
    }
  }
  NETMAN_RETURN_IF_ERROR(LoadClientCertificate(ctx, o));

  if (o.reuse_sessions) {
    SSL_CTX_set_session_cache_mode(
        ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx, &OnNewSession);
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  }
  return absl::OkStatus();
}

bssl::UniquePtr<SSL_SESSION> TlsClientConfig::TakeSession(
    const std::string& key) const {
  MutexLock lock(&mu_);
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return nullptr;
  if (SSL_SESSION_should_be_single_use(it->second.get())) {
    bssl::UniquePtr<SSL_SESSION> session = std::move(it->second);
    sessions_.erase(it);
    return session;
  }
  SSL_SESSION_up_ref(it->second.get());
  return bssl::UniquePtr<SSL_SESSION>(it->second.get());
}

void TlsClientConfig::StoreSession(const std::string& key,
                                   bssl::UniquePtr<SSL_SESSION> session) const {
  MutexLock lock(&mu_);
  sessions_[key] = std::move(session);
}

}  // namespace netman
