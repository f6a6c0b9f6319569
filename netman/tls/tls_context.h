// Copyright netman authors.
//
// TlsContext: a server's TLS configuration made ready for connections
// (BoringSSL SSL_CTXs: one per certificate, chosen by SNI), the factory of
// their TlsTransports and the handshake-failure counters.
//
// Example (serving TLS with TcpServer):
//   absl::StatusOr<std::unique_ptr<netman::TlsContext>> tls =
//       netman::TlsContext::Create(config);
//   if (!tls.ok()) return tls.status();   // e.g. "tls: key does not match ..."
//   netman::ServerOptions options;
//   options.transport_factory = (*tls)->TransportFactory();
//   netman::TcpServer server(options);    // *tls must outlive the server
//   ...
//   absl::Status s = (*tls)->Reload();   // e.g. on SIGHUP: new handshakes
//                                        // use the files' new contents
//
// Reload() builds a complete new snapshot of SSL_CTXs from the same config
// (re-reading the files) and swaps it in under a mutex; a failed reload
// keeps the old snapshot. Connections made before keep the snapshot they
// started with (shared ownership); no connection is disturbed.
//
// Threading: every method is safe from any thread. TransportFactory()'s
// function runs on loop threads, concurrently with Reload().
#ifndef NETMAN_TLS_TLS_CONTEXT_H_
#define NETMAN_TLS_TLS_CONTEXT_H_

#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "netman/base/sync.h"
#include "netman/net/transport.h"
#include "netman/tls/tls_server_config.h"

namespace netman {

// Why handshakes failed (counted once per failed connection).
enum class TlsHandshakeFailure : uint8_t {
  kProtocolError,       // not TLS, malformed or unexpected messages
  kVersionMismatch,     // the client's versions are below min_version
  kNoSharedCipher,      // no cipher suite (or group) in common
  kBadClientCertificate,  // missing, untrusted, expired or invalid
  kNoApplicationProtocol, // ALPN: nothing in common
  kPeerAlert,           // the client aborted with an alert (e.g. it
                        // rejected our certificate)
  kOther,               // I/O errors and anything else
};
inline constexpr int kTlsHandshakeFailureKinds = 7;
// "protocol_error", "version_mismatch", ...
const char* TlsHandshakeFailureName(TlsHandshakeFailure kind);

struct TlsStats {
  uint64_t handshakes = 0;          // completed
  uint64_t resumed = 0;             // of which resumed a session
  std::array<uint64_t, kTlsHandshakeFailureKinds> failures{};  // by kind
  uint64_t reloads = 0;             // successful Reload() calls
  uint64_t failed_reloads = 0;
  uint64_t failures_total() const;
  // {"handshakes":..,"resumed":..,"failures":{"protocol_error":..,..},..}
  std::string ToJson() const;
};

class TlsContext {
 public:
  // Checks `config` and builds the SSL_CTXs. InvalidArgument for a bad
  // configuration (no certificate, a bad cipher string or ALPN name, a key
  // that does not match its certificate), NotFound for a file that cannot be
  // read, each naming what is wrong.
  static absl::StatusOr<std::unique_ptr<TlsContext>> Create(TlsServerConfig config);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Re-reads the certificate and key files (and the client CA file) and
  // uses them for new handshakes. On error the old ones stay in use.
  absl::Status Reload();

  // For ServerOptions::transport_factory: every connection gets a
  // TlsTransport (server side, not yet handshaken). `this` must outlive
  // every server and connection using it.
  netman::TransportFactory TransportFactory();

  // A new server-side SSL for one connection, with the snapshot that owns
  // its SSL_CTX (kept alive by the transport).
  struct NewConnection {
    bssl::UniquePtr<SSL> ssl;
    std::shared_ptr<const void> snapshot;
  };
  absl::StatusOr<NewConnection> NewSsl();

  TlsStats stats() const;
  // Counted by the transports.
  void CountHandshake(bool resumed);
  void CountFailure(TlsHandshakeFailure kind);

  // The BIO method TlsTransport uses (built once per context).
  const BIO_METHOD* bio_method() const { return bio_method_; }

  struct Snapshot;

 private:
  TlsContext(TlsServerConfig config, BIO_METHOD* bio_method);
  absl::StatusOr<std::shared_ptr<const Snapshot>> Build() const;

  const TlsServerConfig config_;
  BIO_METHOD* const bio_method_;
  // Session ticket key (kept across reloads).
  std::array<uint8_t, 48> ticket_keys_{};
  mutable Mutex mu_;
  std::shared_ptr<const Snapshot> snapshot_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> handshakes_{0};
  std::atomic<uint64_t> resumed_{0};
  std::array<std::atomic<uint64_t>, kTlsHandshakeFailureKinds> failures_{};
  std::atomic<uint64_t> reloads_{0};
  std::atomic<uint64_t> failed_reloads_{0};
};

}  // namespace netman

#endif  // NETMAN_TLS_TLS_CONTEXT_H_
