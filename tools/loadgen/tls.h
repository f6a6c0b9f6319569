// Copyright netman authors.
//
// TLS for the load generator (BoringSSL): a client context built from the
// --tls flags, and SSL objects whose BIO does no I/O of its own. The worker
// reads ciphertext from the socket into its read buffer itself, lends it to
// the SSL for one round of SSL_* calls (TlsIo::in), and whatever the SSL
// writes (handshake messages, every record of a pipeline burst sealed by one
// SSL_write) collects in TlsIo::out, which the worker sends with one
// send(2). So a burst of requests costs one SSL_write and one system call,
// and a read of many records one read(2), whatever the record layout.
//
// Sessions (--tls_resume): each worker remembers the last session a server
// issued (TlsIo::session, via BoringSSL's new-session callback) and offers
// it on its next connections.
//
// Threading: a TlsClientContext is immutable after Create() and shared by
// every worker; each TlsIo and SSL belongs to one worker thread.
#ifndef TOOLS_LOADGEN_TLS_H_
#define TOOLS_LOADGEN_TLS_H_

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace netman::loadgen {

struct TlsOptions {
  // Trusted CA (PEM file) that signs the server's certificate.
  std::string ca_file;
  // Accept any certificate (benchmarks against throw-away certificates).
  bool insecure = false;
  // Checked against the certificate and sent as SNI; empty: no SNI, and the
  // certificate must then match `host` as an IP address (when verifying).
  std::string server_name;
  std::string host;
  // "1.2", "1.3" or "" (negotiate 1.2 or 1.3).
  std::string version;
  // Offer the worker's remembered session on new connections.
  bool resume = false;
};

// One worker's lent input, collected output and remembered session.
struct TlsIo {
  const char* in = nullptr;  // ciphertext lent for the current SSL_* call
  size_t in_len = 0;
  std::string out;  // ciphertext the SSL wrote, to be sent
  bssl::UniquePtr<SSL_SESSION> session;  // the last one the server issued
  uint64_t sessions_issued = 0;          // how many the server issued
};

class TlsClientContext {
 public:
  static absl::StatusOr<std::unique_ptr<TlsClientContext>> Create(
      const TlsOptions& options);

  // A client SSL reading from and writing to `io` (which must outlive it),
  // offering io->session when resuming.
  bssl::UniquePtr<SSL> NewSsl(TlsIo* io) const;

  const TlsOptions& options() const { return options_; }

 private:
  TlsClientContext(const TlsOptions& options, bssl::UniquePtr<SSL_CTX> ctx)
      : options_(options), ctx_(std::move(ctx)) {}

  TlsOptions options_;
  bssl::UniquePtr<SSL_CTX> ctx_;
};

// Drains this thread's BoringSSL error queue into one line.
std::string TlsErrors();

}  // namespace netman::loadgen

#endif  // TOOLS_LOADGEN_TLS_H_
