// Copyright netman authors.
//
// TlsClientConfig: how a netman::Client speaks TLS (BoringSSL). Built once,
// shared by every Client that connects with it (Client::Options::tls).
//
// By default the server's certificate is verified against the system's
// trusted roots, and its name against the host given to Client::Connect()
// (a DNS name is also sent as SNI; an IP literal is checked against the
// certificate's IP addresses and sent as no SNI, as RFC 6066 requires).
//
// Example:
//   TlsClientConfig::Options tls;
//   tls.ca_file = "/etc/netman/ca.pem";       // trust this CA only
//   tls.alpn = {"netman"};
//   NETMAN_ASSIGN_OR_RETURN(std::shared_ptr<const TlsClientConfig> config,
//                           TlsClientConfig::Create(std::move(tls)));
//   Client::Options options;
//   options.tls = config;
//   NETMAN_ASSIGN_OR_RETURN(std::unique_ptr<Client> client,
//                           Client::Connect("example.com", 8443, options));
//
// Configuration errors (unreadable CA file, a key that does not match the
// certificate, min_version above max_version) are returned by Create() as an
// InvalidArgument / NotFound status naming the culprit.
//
// Threading: immutable after Create() except for the session cache, which is
// internally synchronised: one config may be used by Clients on any threads.
#ifndef NETMAN_CLIENT_TLS_CLIENT_CONFIG_H_
#define NETMAN_CLIENT_TLS_CLIENT_CONFIG_H_

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "netman/base/sync.h"

namespace netman {

class TlsClientConfig {
 public:
  enum class Version { kTls12, kTls13 };

  struct Options {
    // Trusted roots, as a PEM file and/or PEM text. When both are empty the
    // system's roots are used (Debian's /etc/ssl/certs/ca-certificates.crt
    // and a few other well-known locations).
    std::string ca_file;
    std::string ca_pem;
    // false accepts any server certificate and name. Only for benchmarks and
    // tests against throw-away certificates: it gives no authentication.
    bool verify_peer = true;
    // The name checked against the certificate and sent as SNI. Empty means
    // the host given to Client::Connect().
    std::string server_name;
    // ALPN protocols offered, most preferred first. Empty offers none.
    std::vector<std::string> alpn;
    // A client certificate chain and its private key (PEM), for servers that
    // verify clients: either files or text, both halves or neither.
    std::string cert_file;
    std::string key_file;
    std::string cert_pem;
    std::string key_pem;
    Version min_version = Version::kTls12;
    Version max_version = Version::kTls13;
    // OpenSSL-style cipher list for TLS 1.2 (TLS 1.3 suites are fixed by
    // BoringSSL). Empty keeps BoringSSL's default.
    std::string cipher_list;
    // Remembers the session (ticket) each server issues, per server name and
    // port, and offers it on the next connection to resume without a full
    // handshake. TLS 1.3 tickets are used once.
    bool reuse_sessions = false;
  };

  static absl::StatusOr<std::shared_ptr<const TlsClientConfig>> Create(
      Options options);

  TlsClientConfig(const TlsClientConfig&) = delete;
  TlsClientConfig& operator=(const TlsClientConfig&) = delete;
  ~TlsClientConfig() = default;

  const Options& options() const { return options_; }
  // The context every connection's SSL is created from.
  SSL_CTX* ctx() const { return ctx_.get(); }

  // Session cache (used when options().reuse_sessions): takes the session
  // remembered for `key` (null if none; single-use sessions are removed),
  // and remembers `session` (ownership taken) for `key`.
  bssl::UniquePtr<SSL_SESSION> TakeSession(const std::string& key) const;
  void StoreSession(const std::string& key,
                    bssl::UniquePtr<SSL_SESSION> session) const;

 private:
  explicit TlsClientConfig(Options options);
  absl::Status Init();

  Options options_;
  bssl::UniquePtr<SSL_CTX> ctx_;
  mutable Mutex mu_;
  mutable absl::flat_hash_map<std::string, bssl::UniquePtr<SSL_SESSION>>
      sessions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace netman

#endif  // NETMAN_CLIENT_TLS_CLIENT_CONFIG_H_
