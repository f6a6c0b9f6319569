// Copyright netman authors.
//
// TlsTransport: server-side TLS (BoringSSL) on one non-blocking connection,
// plugged into the connection's Transport seam. Made per connection by
// TlsContext::TransportFactory().
//
// Byte path (see docs/ARCHITECTURE.md, "TLS"):
//   read:  read(fd) -> the loop's scratch buffer -> a BIO over that span
//          (no copy before BoringSSL) -> BoringSSL's record buffer,
//          decrypted in place -> SSL_read appends the application bytes to
//          the connection's input.
//   write: everything the protocol queued during one read (or loop
//          iteration) goes to BoringSSL in one SSL_write, which seals it
//          into records of up to 16 KiB; each sealed record (or handshake
//          flight) is sent straight from BoringSSL's buffer; only what the
//          kernel does not take is copied into this transport's pending
//          buffer, released once sent.
// The handshake is a state machine driven by the loop: SSL_do_handshake
// runs when ciphertext arrives and never blocks (the BIO reports "retry"
// when the scratch bytes are used up). Renegotiation is refused
// (BoringSSL servers never renegotiate). A graceful close (OnClosing)
// queues close_notify; a received close_notify is kPeerClosed.
//
// Memory when idle: the SSL (with its handshake configuration shed after
// the handshake; BoringSSL releases empty record buffers), a BIO, and no
// buffer of its own.
//
// Threading: loop thread of its connection, as every Transport.
#ifndef NETMAN_TLS_TLS_TRANSPORT_H_
#define NETMAN_TLS_TLS_TRANSPORT_H_

#include <openssl/ssl.h>

#include <memory>
#include <span>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "netman/buffer/buffer.h"
#include "netman/net/transport.h"
#include "netman/tls/tls_context.h"
#include "netman/tls/tls_peer_info.h"

namespace netman {

class TlsTransport final : public Transport {
 public:
  static absl::StatusOr<std::unique_ptr<Transport>> Create(TlsContext* context);
  ~TlsTransport() override;

  absl::StatusOr<ReadResult> Read(int fd, std::span<char> scratch, Buffer& plaintext) override;
  absl::StatusOr<WriteResult> Write(int fd, Buffer& plaintext) override;
  // Sealed bytes the socket has not taken, plus a close_notify still owed.
  size_t pending_bytes() const override {
    return wire_.size() + (close_owed_ ? kCloseNotifyWireBytes : 0);
  }
  bool ready() const override { return handshake_done_; }
  void OnClosing() override;

  // Built on first call after the handshake (null before).
  const TlsPeerInfo* peer_info() const;
  // For tests and the peer info.
  const SSL* ssl() const { return ssl_.get(); }

  // The BIO_METHOD TlsContext creates once for its transports.
  static BIO_METHOD* NewBioMethod();

  // What a close_notify alert costs on the wire (a TLS 1.2 AES-GCM record;
  // TLS 1.3's is shorter): reported as pending until it is sealed.
  static constexpr size_t kCloseNotifyWireBytes = 31;

 private:
  TlsTransport(TlsContext* context, TlsContext::NewConnection made);
  // The BIO's ends.
  static int BioRead(BIO* bio, char* out, int len);
  static int BioWrite(BIO* bio, const char* in, int len);
  // Sends `bytes` now if nothing is pending (and Write() is not collecting
  // records), keeps the rest.
  void SendOrKeep(const char* bytes, size_t len);
  // Sends pending wire bytes.
  void FlushPending();
  // Maps a failed handshake step to a status and counts it; `read` is what
  // this read brought (an alert the peer sent in the clear is found there).
  absl::Status HandshakeFailed(int ssl_error, std::span<const char> read);
  // Runs SSL_read until BoringSSL needs more bytes.
  absl::StatusOr<bool> ReadApplicationData(Buffer& plaintext);

  TlsContext* const context_;
  bssl::UniquePtr<SSL> ssl_;
  std::shared_ptr<const void> snapshot_;  // owns ssl_'s SSL_CTXs
  Buffer wire_;                 // sealed bytes the socket did not take
  // Only set during Read()/Write()/OnClosing(): the BIO's source and sink.
  std::span<const char> in_;
  int fd_ = -1;
  size_t sent_ = 0;             // wire bytes sent, not yet reported
  absl::Status io_error_;       // a send failure seen by the BIO
  bool handshake_done_ = false;
  bool shutdown_sent_ = false;
  bool close_owed_ = false;     // OnClosing() came: close_notify after the data
  // Inside Write()'s sealing: records collect in wire_ and leave together.
  bool collecting_ = false;
  mutable std::unique_ptr<TlsPeerInfo> peer_info_;
};

}  // namespace netman

#endif  // NETMAN_TLS_TLS_TRANSPORT_H_
