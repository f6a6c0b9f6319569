// Copyright netman authors.
#include "netman/tls/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "netman/base/status.h"
#include "netman/tls/tls_errors.h"
#include "netman/tls/tls_transport.h"

namespace netman {

struct TlsContext::Snapshot {
  // ctxs[0] is the default certificate's.
  std::vector<bssl::UniquePtr<SSL_CTX>> ctxs;
  // SNI name (lower case; "*.example.com" for wildcards) -> index in ctxs.
  std::vector<std::pair<std::string, size_t>> names;

  SSL_CTX* ForName(std::string_view host) const {
    const std::string lower = absl::AsciiStrToLower(absl::string_view(host.data(), host.size()));
    for (const auto& [name, index] : names) {
      if (name == lower) return ctxs[index].get();
    }
    const size_t dot = lower.find('.');
    if (dot != std::string::npos) {
      const std::string wildcard = "*" + lower.substr(dot);
      for (const auto& [name, index] : names) {
        if (name == wildcard) return ctxs[index].get();
      }
    }
    return nullptr;
  }
};

namespace {

constexpr char kSessionIdContext[] = "netman";
constexpr size_t kMaxAlpnName = 255;

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

// This thread's BoringSSL errors as text (and clears them).
std::string SslErrorText() {
  std::string text = DrainTlsErrors();
  return text.empty() ? "unknown error" : text;
}

absl::StatusOr<std::string> ReadFile(std::string_view what, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("tls: cannot read ", Absl(what), " file '", path,
                                            "'"));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bssl::UniquePtr<BIO> MemBio(const std::string& text) {
  return bssl::UniquePtr<BIO>(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::vector<std::string> DnsNames(X509* cert) {
  std::vector<std::string> out;
  bssl::UniquePtr<GENERAL_NAMES> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (names == nullptr) return out;
  for (size_t i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_DNS) continue;
    const ASN1_IA5STRING* dns = name->d.dNSName;
    out.push_back(absl::AsciiStrToLower(absl::string_view(
        reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
        static_cast<size_t>(ASN1_STRING_length(dns)))));
  }
  return out;
}

// Loads `cert`'s chain and key into `ctx`; returns the leaf's SNI names.
absl::StatusOr<std::vector<std::string>> LoadCertificate(SSL_CTX* ctx,
                                                         const TlsCertificate& cert,
                                                         size_t index) {
  const std::string label =
      cert.chain_pem.empty() ? absl::StrCat("'", cert.chain_file, "'")
                             : absl::StrCat("#", index, " (in memory)");
  std::string chain = cert.chain_pem;
  if (chain.empty()) {
    if (cert.chain_file.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tls: certificate #", index, " has no chain (file or PEM)"));
    }
    NETMAN_ASSIGN_OR_RETURN(chain, ReadFile("certificate", cert.chain_file));
  }
  std::string key = cert.key_pem;
  if (key.empty()) {
    if (cert.key_file.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tls: certificate ", label, " has no private key (file or PEM)"));
    }
    NETMAN_ASSIGN_OR_RETURN(key, ReadFile("private key", cert.key_file));
  }
  bssl::UniquePtr<BIO> chain_bio = MemBio(chain);
  bssl::UniquePtr<X509> leaf(PEM_read_bio_X509(chain_bio.get(), nullptr, nullptr, nullptr));
  if (leaf == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tls: certificate ", label, " holds no PEM certificate: ", SslErrorText()));
  }
  if (!SSL_CTX_use_certificate(ctx, leaf.get())) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls: certificate ", label, " is unusable: ", SslErrorText()));
  }
  while (X509* extra = PEM_read_bio_X509(chain_bio.get(), nullptr, nullptr, nullptr)) {
    bssl::UniquePtr<X509> owned(extra);
    if (!SSL_CTX_add1_chain_cert(ctx, extra)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tls: intermediate certificate in ", label, " is unusable: ", SslErrorText()));
    }
  }
  ERR_clear_error();  // the end of the PEM stream is reported as an error
  bssl::UniquePtr<BIO> key_bio = MemBio(key);
  bssl::UniquePtr<EVP_PKEY> pkey(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (pkey == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tls: private key for certificate ", label, " is not a PEM private key: ",
        SslErrorText()));
  }
  if (!SSL_CTX_use_PrivateKey(ctx, pkey.get()) || !SSL_CTX_check_private_key(ctx)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tls: private key does not match certificate ", label, ": ", SslErrorText()));
  }
  if (!cert.server_names.empty()) {
    std::vector<std::string> names;
    for (const std::string& n : cert.server_names) {
      names.push_back(absl::AsciiStrToLower(n));
    }
    return names;
  }
  return DnsNames(leaf.get());
}

int SelectServerName(SSL* ssl, int* /*alert*/, void* arg) {
  const auto* snapshot = static_cast<const TlsContext::Snapshot*>(arg);
  const char* host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (host == nullptr) return SSL_TLSEXT_ERR_OK;  // default certificate
  SSL_CTX* ctx = snapshot->ForName(host);
  // An unknown name gets the default certificate (the client decides).
  if (ctx != nullptr && ctx != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, ctx);
  return SSL_TLSEXT_ERR_OK;
}

int SelectAlpn(SSL* /*ssl*/, const uint8_t** out, uint8_t* out_len, const uint8_t* in,
               unsigned in_len, void* arg) {
  const auto* ours = static_cast<const std::vector<std::string>*>(arg);
  for (const std::string& want : *ours) {  // our preference first
    for (unsigned i = 0; i < in_len;) {
      const unsigned len = in[i];
      if (i + 1 + len > in_len) return SSL_TLSEXT_ERR_ALERT_FATAL;
      if (len == want.size() && std::string_view(reinterpret_cast<const char*>(in + i + 1),
                                                 len) == want) {
        *out = in + i + 1;
        *out_len = static_cast<uint8_t>(len);
        return SSL_TLSEXT_ERR_OK;
      }
      i += 1 + len;
    }
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;  // no_application_protocol
}

}  // namespace

const char* TlsHandshakeFailureName(TlsHandshakeFailure kind) {
  switch (kind) {
    case TlsHandshakeFailure::kProtocolError: return "protocol_error";
    case TlsHandshakeFailure::kVersionMismatch: return "version_mismatch";
    case TlsHandshakeFailure::kNoSharedCipher: return "no_shared_cipher";
    case TlsHandshakeFailure::kBadClientCertificate: return "bad_client_certificate";
    case TlsHandshakeFailure::kNoApplicationProtocol: return "no_application_protocol";
    case TlsHandshakeFailure::kPeerAlert: return "peer_alert";
    case TlsHandshakeFailure::kOther: return "other";
  }
  return "other";
}

uint64_t TlsStats::failures_total() const {
  uint64_t n = 0;
  for (uint64_t f : failures) n += f;
  return n;
}

std::string TlsStats::ToJson() const {
  std::vector<std::string> kinds;
  for (int i = 0; i < kTlsHandshakeFailureKinds; ++i) {
    kinds.push_back(absl::StrCat(
        "\"", TlsHandshakeFailureName(static_cast<TlsHandshakeFailure>(i)), "\":", failures[i]));
  }
  return absl::StrCat("{\"handshakes\":", handshakes, ",\"resumed\":", resumed,
                      ",\"failures\":{", absl::StrJoin(kinds, ","), "},\"reloads\":", reloads,
                      ",\"failed_reloads\":", failed_reloads, "}");
}

TlsContext::TlsContext(TlsServerConfig config, BIO_METHOD* bio_method)
    : config_(std::move(config)), bio_method_(bio_method) {}

TlsContext::~TlsContext() { BIO_meth_free(bio_method_); }

absl::StatusOr<std::unique_ptr<TlsContext>> TlsContext::Create(TlsServerConfig config) {
  if (config.certificates.empty()) {
    return absl::InvalidArgumentError("tls: no certificate configured");
  }
  for (const std::string& name : config.alpn) {
    if (name.empty() || name.size() > kMaxAlpnName) {
      return absl::InvalidArgumentError(
          absl::StrCat("tls: ALPN protocol name '", name, "' must be 1 to 255 bytes"));
    }
  }
  BIO_METHOD* method = TlsTransport::NewBioMethod();
  if (method == nullptr) return absl::InternalError("tls: cannot create the BIO method");
  std::unique_ptr<TlsContext> context(new TlsContext(std::move(config), method));
  RAND_bytes(context->ticket_keys_.data(), context->ticket_keys_.size());
  NETMAN_ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> snapshot, context->Build());
  MutexLock lock(&context->mu_);
  context->snapshot_ = std::move(snapshot);
  return context;
}

absl::StatusOr<std::shared_ptr<const TlsContext::Snapshot>> TlsContext::Build() const {
  auto snapshot = std::make_shared<Snapshot>();
  for (size_t i = 0; i < config_.certificates.size(); ++i) {
    bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
    if (ctx == nullptr) return absl::InternalError("tls: SSL_CTX_new failed");
    SSL_CTX* c = ctx.get();
    SSL_CTX_set_min_proto_version(
        c, config_.min_version == TlsVersion::k1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
    if (!config_.ciphers.empty() &&
        !SSL_CTX_set_strict_cipher_list(c, config_.ciphers.c_str())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tls: bad cipher string '", config_.ciphers, "': ", SslErrorText()));
    }
    NETMAN_ASSIGN_OR_RETURN(std::vector<std::string> names,
                            LoadCertificate(c, config_.certificates[i], i));
    for (std::string& name : names) snapshot->names.emplace_back(std::move(name), i);
    if (!config_.alpn.empty()) {
      SSL_CTX_set_alpn_select_cb(c, SelectAlpn,
                                 const_cast<std::vector<std::string>*>(&config_.alpn));
    }
    if (!config_.client_ca_file.empty()) {
      NETMAN_RETURN_IF_ERROR(ReadFile("client CA", config_.client_ca_file).status());
      if (!SSL_CTX_load_verify_locations(c, config_.client_ca_file.c_str(), nullptr)) {
        return absl::InvalidArgumentError(
            absl::StrCat("tls: client CA file '", config_.client_ca_file,
                         "' holds no usable certificate: ", SslErrorText()));
      }
      STACK_OF(X509_NAME)* ca_names = SSL_load_client_CA_file(config_.client_ca_file.c_str());
      if (ca_names != nullptr) SSL_CTX_set_client_CA_list(c, ca_names);
      SSL_CTX_set_verify(c,
                         SSL_VERIFY_PEER | (config_.require_client_certificate
                                                ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                                : 0),
                         nullptr);
    }
    // Resumption by tickets only: no per-session memory on the server.
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_session_id_context(c, reinterpret_cast<const uint8_t*>(kSessionIdContext),
                                   sizeof(kSessionIdContext) - 1);
    if (config_.session_tickets) {
      SSL_CTX_set_tlsext_ticket_keys(c, ticket_keys_.data(), ticket_keys_.size());
    } else {
      SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
      SSL_CTX_set_num_tickets(c, 0);
    }
    SSL_CTX_set_tlsext_servername_callback(c, SelectServerName);
    SSL_CTX_set_tlsext_servername_arg(c, snapshot.get());
    snapshot->ctxs.push_back(std::move(ctx));
  }
  ERR_clear_error();
  return std::shared_ptr<const Snapshot>(std::move(snapshot));
}

absl::Status TlsContext::Reload() {
  absl::StatusOr<std::shared_ptr<const Snapshot>> snapshot = Build();
  if (!snapshot.ok()) {
    failed_reloads_.fetch_add(1, std::memory_order_relaxed);
    return snapshot.status();
  }
  std::shared_ptr<const Snapshot> old;
  {
    MutexLock lock(&mu_);
    old = std::exchange(snapshot_, *std::move(snapshot));
  }
  reloads_.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();  // `old` dies here unless connections hold it
}

absl::StatusOr<TlsContext::NewConnection> TlsContext::NewSsl() {
  NewConnection made;
  std::shared_ptr<const Snapshot> snapshot;
  {
    MutexLock lock(&mu_);
    snapshot = snapshot_;
  }
  made.ssl.reset(SSL_new(snapshot->ctxs[0].get()));
  if (made.ssl == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat("tls: SSL_new: ", SslErrorText()));
  }
  made.snapshot = std::move(snapshot);
  return made;
}

netman::TransportFactory TlsContext::TransportFactory() {
  return [this]() -> absl::StatusOr<std::unique_ptr<Transport>> {
    return TlsTransport::Create(this);
  };
}

TlsStats TlsContext::stats() const {
  TlsStats s;
  s.handshakes = handshakes_.load(std::memory_order_relaxed);
  s.resumed = resumed_.load(std::memory_order_relaxed);
  for (int i = 0; i < kTlsHandshakeFailureKinds; ++i) {
    s.failures[i] = failures_[i].load(std::memory_order_relaxed);
  }
  s.reloads = reloads_.load(std::memory_order_relaxed);
  s.failed_reloads = failed_reloads_.load(std::memory_order_relaxed);
  return s;
}

void TlsContext::CountHandshake(bool resumed) {
  handshakes_.fetch_add(1, std::memory_order_relaxed);
  if (resumed) resumed_.fetch_add(1, std::memory_order_relaxed);
}

void TlsContext::CountFailure(TlsHandshakeFailure kind) {
  failures_[static_cast<int>(kind)].fetch_add(1, std::memory_order_relaxed);
}

}  // namespace netman
