// Copyright netman authors.
//
// TlsServerConfig: what a TLS server presents and accepts. Plain data; turn
// it into a TlsContext (tls_context.h) with TlsContext::Create(), which
// checks everything and reports the first problem as an absl::Status.
//
// Example:
//   netman::TlsServerConfig config;
//   config.certificates.push_back(
//       netman::TlsCertificate::FromFiles("server.pem", "server.key"));
//   config.min_version = netman::TlsVersion::k1_3;
//   config.alpn = {"netman"};
//   absl::StatusOr<std::unique_ptr<netman::TlsContext>> tls =
//       netman::TlsContext::Create(config);
//
// Threading: plain data (no synchronisation).
#ifndef NETMAN_TLS_TLS_SERVER_CONFIG_H_
#define NETMAN_TLS_TLS_SERVER_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

namespace netman {

enum class TlsVersion : uint8_t { k1_2, k1_3 };

// One certificate chain and its private key, from PEM files or from memory
// (PEM text). Files are read by TlsContext::Create() and again by Reload().
struct TlsCertificate {
  std::string chain_file;  // PEM: the leaf first, then intermediates
  std::string key_file;    // PEM private key (RSA, EC or Ed25519)
  std::string chain_pem;   // used instead of chain_file when set
  std::string key_pem;     // used instead of key_file when set
  // SNI names this certificate serves ("example.com", "*.example.com").
  // Empty: the DNS names in the certificate's subjectAltName.
  std::vector<std::string> server_names;

  static TlsCertificate FromFiles(std::string chain, std::string key) {
    TlsCertificate c;
    c.chain_file = std::move(chain);
    c.key_file = std::move(key);
    return c;
  }
  static TlsCertificate FromPem(std::string chain, std::string key) {
    TlsCertificate c;
    c.chain_pem = std::move(chain);
    c.key_pem = std::move(key);
    return c;
  }
};

struct TlsServerConfig {
  // At least one. The first is the default: it answers clients that send no
  // SNI name or a name no certificate serves (they get it and decide for
  // themselves; the handshake is not refused).
  std::vector<TlsCertificate> certificates;
  TlsVersion min_version = TlsVersion::k1_2;
  // OpenSSL-style cipher string for TLS 1.2 (BoringSSL's strict parser: an
  // unknown name is an error). Empty: BoringSSL's defaults. TLS 1.3 suites
  // are not configurable in BoringSSL (all three AEADs, always secure).
  std::string ciphers;
  // ALPN protocols the server accepts, in its order of preference. Empty:
  // no ALPN. A client offering only others is refused
  // (no_application_protocol); a client offering none is served.
  std::vector<std::string> alpn;
  // PEM file of CAs that client certificates must chain to. Empty: client
  // certificates are not requested.
  std::string client_ca_file;
  // With client_ca_file: a client without a certificate is refused (true)
  // or served without an identity (false).
  bool require_client_certificate = true;
  // Stateless session tickets (resumption, TLS 1.2 and 1.3). The ticket key
  // is random per TlsContext and kept by Reload(), so tickets issued before a
  // reload still resume; a restart invalidates them. There is no server-side
  // session cache (it would cost memory per session).
  bool session_tickets = true;
};

}  // namespace netman

#endif  // NETMAN_TLS_TLS_SERVER_CONFIG_H_
