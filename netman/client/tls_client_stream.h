// Copyright netman authors.
//
// TlsClientStream: one client-side TLS session on a connected non-blocking
// socket (BoringSSL reading and writing the fd directly). Client uses it for
// Options::tls; it never blocks: every call that cannot finish says whether
// it waits for the socket to become readable or writable, and the caller
// polls.
//
// Threading: not synchronised; one thread at a time (like Client).
#ifndef NETMAN_CLIENT_TLS_CLIENT_STREAM_H_
#define NETMAN_CLIENT_TLS_CLIENT_STREAM_H_

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "netman/client/tls_client_config.h"

namespace netman {

class TlsClientStream {
 public:
  enum class Result {
    kOk,         // progress (bytes moved, or the handshake finished)
    kWantRead,   // retry once the socket is readable
    kWantWrite,  // retry once the socket is writable
    kClosed,     // the peer ended the stream (close_notify or TCP EOF)
    kError,      // see error()
  };

  // Prepares a session for `fd` to `host`:`port` (the host names the server
  // unless the config gives server_name). Offers a remembered session when
  // the config reuses sessions.
  static absl::StatusOr<std::unique_ptr<TlsClientStream>> Create(
      int fd, std::shared_ptr<const TlsClientConfig> config,
      std::string_view host, uint16_t port);

  TlsClientStream(const TlsClientStream&) = delete;
  TlsClientStream& operator=(const TlsClientStream&) = delete;
  ~TlsClientStream();

  // Advances the handshake. kOk once it is complete.
  Result Handshake();
  // Decrypts up to `size` bytes into `data`; *n is set on kOk.
  Result Read(char* data, size_t size, size_t* n);
  // Encrypts and sends a prefix of `bytes` (at least one record's worth);
  // *n is set on kOk. After kWantRead/kWantWrite, retry with the same bytes.
  Result Write(std::string_view bytes, size_t* n);
  // Sends close_notify if the socket takes it now (best effort).
  void SendCloseNotify();

  // Why the last call returned kError (or why a handshake failed).
  const absl::Status& error() const { return error_; }
  // "TLSv1.2" / "TLSv1.3".
  std::string version() const;
  // The negotiated cipher suite's standard name (TLS_AES_128_GCM_SHA256...).
  std::string cipher() const;
  // The ALPN protocol the server chose, empty if none.
  std::string alpn() const;
  // Whether the handshake resumed an earlier session.
  bool session_reused() const;

 private:
  TlsClientStream(bssl::UniquePtr<SSL> ssl,
                  std::shared_ptr<const TlsClientConfig> config,
                  std::string session_key, std::string peer);
  // Classifies a failed SSL_* call; sets error_ for kError. `what` names it.
  Result Fail(int rc, const char* what);

  bssl::UniquePtr<SSL> ssl_;
  std::shared_ptr<const TlsClientConfig> config_;
  // Names the server in the session cache; SSL's app data points here.
  std::string session_key_;
  std::string peer_;  // "host:port", for messages
  absl::Status error_;
};

}  // namespace netman

#endif  // NETMAN_CLIENT_TLS_CLIENT_STREAM_H_
