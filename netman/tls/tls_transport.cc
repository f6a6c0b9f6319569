// Copyright netman authors.
#include "netman/tls/tls_transport.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "netman/base/status.h"

namespace netman {
namespace {

// The most plaintext one TLS record carries (RFC 8446 5.1).
constexpr size_t kMaxRecordPlaintext = 16 * 1024;
// SSL_read asks for up to one record's plaintext at a time.
constexpr size_t kReadChunk = kMaxRecordPlaintext;
// SSL_write takes an int length.
constexpr size_t kMaxWriteChunk = size_t{1} << 30;

const char* ReasonText(uint32_t e) {
  const char* reason = ERR_reason_error_string(e);
  return reason != nullptr ? reason : "unknown";
}

TlsHandshakeFailure Classify(int ssl_error, uint32_t e) {
  if (ssl_error != SSL_ERROR_SSL || ERR_GET_LIB(e) != ERR_LIB_SSL) {
    return TlsHandshakeFailure::kOther;
  }
  const int reason = ERR_GET_REASON(e);
  switch (reason) {
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_NO_SHARED_GROUP:
      return TlsHandshakeFailure::kNoSharedCipher;
    case SSL_R_UNSUPPORTED_PROTOCOL:
      return TlsHandshakeFailure::kVersionMismatch;
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
      return TlsHandshakeFailure::kBadClientCertificate;
    case SSL_R_NO_APPLICATION_PROTOCOL:
      return TlsHandshakeFailure::kNoApplicationProtocol;
    default:
      break;
  }
  if (reason >= SSL_AD_REASON_OFFSET) return TlsHandshakeFailure::kPeerAlert;
  return TlsHandshakeFailure::kProtocolError;
}

// A TLS record header: type, version (2), length (2).
constexpr size_t kRecordHeaderBytes = 5;
constexpr uint8_t kAlertRecordType = 21;
constexpr size_t kAlertBytes = 2;  // level, description

// The description of an unencrypted alert record among `bytes` (read from
// the socket during the handshake), walking whole records from the start.
// An encrypted record is never 2 bytes long (the AEAD tag alone is 16), so
// a 2-byte alert record is one the peer sent in the clear: OpenSSL clients
// do so over TLS 1.3 when they reject the server's certificate before
// switching to handshake keys, and BoringSSL, expecting ciphertext, only
// says BAD_PACKET_LENGTH.
std::optional<uint8_t> UnencryptedAlert(std::span<const char> bytes) {
  while (bytes.size() >= kRecordHeaderBytes) {
    const auto type = static_cast<uint8_t>(bytes[0]);
    const size_t length = (static_cast<size_t>(static_cast<uint8_t>(bytes[3])) << 8) |
                          static_cast<uint8_t>(bytes[4]);
    if (type == kAlertRecordType && length == kAlertBytes &&
        bytes.size() >= kRecordHeaderBytes + kAlertBytes) {
      return static_cast<uint8_t>(bytes[kRecordHeaderBytes + 1]);
    }
    if (bytes.size() < kRecordHeaderBytes + length) break;
    bytes = bytes.subspan(kRecordHeaderBytes + length);
  }
  return std::nullopt;
}

std::string NameText(X509_NAME* name) {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  const uint8_t* data = nullptr;
  size_t len = 0;
  BIO_mem_contents(bio.get(), &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

std::string Asn1Text(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

std::vector<std::string> AltNames(X509* cert) {
  std::vector<std::string> out;
  bssl::UniquePtr<GENERAL_NAMES> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (names == nullptr) return out;
  for (size_t i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names.get(), i);
    switch (n->type) {
      case GEN_DNS: out.push_back("DNS:" + Asn1Text(n->d.dNSName)); break;
      case GEN_EMAIL: out.push_back("email:" + Asn1Text(n->d.rfc822Name)); break;
      case GEN_URI: out.push_back("URI:" + Asn1Text(n->d.uniformResourceIdentifier)); break;
      case GEN_IPADD: {
        const std::string ip = Asn1Text(n->d.iPAddress);
        if (ip.size() == 4) {
          out.push_back(absl::StrCat("IP:", static_cast<uint8_t>(ip[0]), ".",
                                     static_cast<uint8_t>(ip[1]), ".",
                                     static_cast<uint8_t>(ip[2]), ".",
                                     static_cast<uint8_t>(ip[3])));
        }
        break;
      }
      default: break;
    }
  }
  return out;
}

}  // namespace

BIO_METHOD* TlsTransport::NewBioMethod() {
  BIO_METHOD* method = BIO_meth_new(BIO_get_new_index(), "netman-tls");
  if (method == nullptr) return nullptr;
  BIO_meth_set_read(method, &TlsTransport::BioRead);
  BIO_meth_set_write(method, &TlsTransport::BioWrite);
  BIO_meth_set_ctrl(method, [](BIO*, int cmd, long, void*) -> long {
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;  // sealed bytes leave at once
  });
  return method;
}

absl::StatusOr<std::unique_ptr<Transport>> TlsTransport::Create(TlsContext* context) {
  NETMAN_ASSIGN_OR_RETURN(TlsContext::NewConnection made, context->NewSsl());
  std::unique_ptr<TlsTransport> t(new TlsTransport(context, std::move(made)));
  BIO* bio = BIO_new(context->bio_method());
  if (bio == nullptr) return absl::ResourceExhaustedError("tls: BIO_new failed");
  BIO_set_data(bio, t.get());
  BIO_set_init(bio, 1);
  SSL_set_bio(t->ssl_.get(), bio, bio);  // one reference for both ends
  SSL_set_accept_state(t->ssl_.get());
  // Drop handshake-only configuration once the handshake is done.
  SSL_set_shed_handshake_config(t->ssl_.get(), 1);
  return std::unique_ptr<Transport>(std::move(t));
}

TlsTransport::TlsTransport(TlsContext* context, TlsContext::NewConnection made)
    : context_(context), ssl_(std::move(made.ssl)), snapshot_(std::move(made.snapshot)) {}

TlsTransport::~TlsTransport() = default;

int TlsTransport::BioRead(BIO* bio, char* out, int len) {
  auto* self = static_cast<TlsTransport*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (self->in_.empty()) {
    BIO_set_retry_read(bio);  // wait for the socket
    return -1;
  }
  const size_t n = std::min(self->in_.size(), static_cast<size_t>(len));
  std::copy_n(self->in_.data(), n, out);
  self->in_ = self->in_.subspan(n);
  return static_cast<int>(n);
}

int TlsTransport::BioWrite(BIO* bio, const char* in, int len) {
  auto* self = static_cast<TlsTransport*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (len > 0) self->SendOrKeep(in, static_cast<size_t>(len));
  return len;  // taken: sent or kept
}

void TlsTransport::SendOrKeep(const char* bytes, size_t len) {
  if (!io_error_.ok()) return;  // the connection is closing with it
  if (wire_.empty() && fd_ >= 0 && !collecting_) {
    const ssize_t n = ::send(fd_, bytes, len, MSG_NOSIGNAL);
    if (n > 0) {
      sent_ += static_cast<size_t>(n);
      bytes += n;
      len -= static_cast<size_t>(n);
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      io_error_ = ErrnoStatus(errno, "write");
      return;
    }
  }
  wire_.Append(bytes, len);
}

void TlsTransport::FlushPending() {
  if (wire_.empty() || fd_ < 0 || !io_error_.ok()) return;
  const ssize_t n = ::send(fd_, wire_.data(), wire_.size(), MSG_NOSIGNAL);
  if (n > 0) {
    sent_ += static_cast<size_t>(n);
    wire_.Consume(static_cast<size_t>(n));
  } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    io_error_ = ErrnoStatus(errno, "write");
  }
}

absl::Status TlsTransport::HandshakeFailed(int ssl_error, std::span<const char> read) {
  const uint32_t e = ERR_peek_error();
  TlsHandshakeFailure kind = Classify(ssl_error, e);
  std::string detail = ssl_error == SSL_ERROR_SSL
                           ? std::string(ReasonText(e))
                           : absl::StrCat("SSL_get_error ", ssl_error);
  if (ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    absl::StrAppend(&detail, " (", X509_verify_cert_error_string(SSL_get_verify_result(ssl_.get())),
                    ")");
  }
  // BoringSSL names an alert it could read (SSL_AD_REASON_OFFSET + its
  // description); one sent in the clear where it expected ciphertext it
  // cannot, so that one is recognised in the bytes of this read.
  if (kind != TlsHandshakeFailure::kPeerAlert) {
    if (const std::optional<uint8_t> alert = UnencryptedAlert(read)) {
      kind = TlsHandshakeFailure::kPeerAlert;
      detail = absl::StrCat("the peer sent alert ", *alert, " (",
                            SSL_alert_desc_string_long(*alert), ") unencrypted");
    }
  }
  ERR_clear_error();
  context_->CountFailure(kind);
  return absl::InvalidArgumentError(
      absl::StrCat("tls handshake failed (", TlsHandshakeFailureName(kind), "): ", detail));
}

absl::StatusOr<bool> TlsTransport::ReadApplicationData(Buffer& plaintext) {
  for (;;) {
    char* out = plaintext.Writable(kReadChunk);
    const int rc = SSL_read(ssl_.get(), out, static_cast<int>(kReadChunk));
    if (rc > 0) {
      plaintext.Commit(static_cast<size_t>(rc));
      // Everything read is consumed (no unread bytes lent, none buffered
      // in the SSL): the next SSL_read could only say "want read", and an
      // SSL_read costs a few hundred instructions even then (it resets the
      // thread's error queue first).
      if (in_.empty() && SSL_has_pending(ssl_.get()) == 0) return false;
      continue;
    }
    const int error = SSL_get_error(ssl_.get(), rc);
    if (error == SSL_ERROR_WANT_READ) return false;
    if (error == SSL_ERROR_ZERO_RETURN) return true;  // close_notify
    const uint32_t e = ERR_peek_error();
    const std::string detail =
        error == SSL_ERROR_SSL ? ReasonText(e) : absl::StrCat("SSL_get_error ", error);
    ERR_clear_error();
    // E.g. NO_RENEGOTIATION for a ClientHello after the handshake.
    return absl::InvalidArgumentError(absl::StrCat("tls: ", detail));
  }
}

absl::StatusOr<Transport::ReadResult> TlsTransport::Read(int fd, std::span<char> scratch,
                                                         Buffer& plaintext) {
  ReadResult r;
  const ssize_t n = ::read(fd, scratch.data(), scratch.size());
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return r;
    return ErrnoStatus(errno, "read");
  }
  if (n == 0) {  // TCP EOF (without close_notify if the handshake was done)
    r.outcome = ReadOutcome::kPeerClosed;
    return r;
  }
  r.outcome = ReadOutcome::kProgress;
  r.wire_bytes = static_cast<size_t>(n);
  in_ = std::span<const char>(scratch.data(), static_cast<size_t>(n));
  fd_ = fd;
  struct Reset {
    TlsTransport* t;
    ~Reset() {
      t->in_ = {};
      t->fd_ = -1;
    }
  } reset{this};

  if (!handshake_done_) {
    const int rc = SSL_do_handshake(ssl_.get());
    if (rc != 1) {
      const int error = SSL_get_error(ssl_.get(), rc);
      if (!io_error_.ok()) return io_error_;
      if (error == SSL_ERROR_WANT_READ) return r;  // more of the handshake to come
      return HandshakeFailed(error, std::span<const char>(scratch.data(), static_cast<size_t>(n)));
    }
    handshake_done_ = true;
    context_->CountHandshake(SSL_session_reused(ssl_.get()) == 1);
  }
  absl::StatusOr<bool> closed = ReadApplicationData(plaintext);
  if (!io_error_.ok()) return io_error_;
  if (!closed.ok()) return closed.status();
  if (*closed) r.outcome = ReadOutcome::kPeerClosed;
  return r;
}

absl::StatusOr<Transport::WriteResult> TlsTransport::Write(int fd, Buffer& plaintext) {
  fd_ = fd;
  FlushPending();
  // Seal only when nothing older waits: the backlog stays in `plaintext`.
  if (wire_.empty() && handshake_done_ && !shutdown_sent_) {
    // Several records (BoringSSL writes one at a time through the BIO)
    // collect in wire_, sized once, and leave in one send: one syscall per
    // flush, as on a plain connection, instead of one per 16 KiB record. A
    // flush that fits one record is sent straight from BoringSSL's buffer.
    collecting_ = plaintext.size() > kMaxRecordPlaintext;
    if (collecting_) {
      const size_t records = plaintext.size() / kMaxRecordPlaintext + 1;
      (void)wire_.Writable(plaintext.size() + records * SSL_max_seal_overhead(ssl_.get()) +
                           (close_owed_ ? kCloseNotifyWireBytes : 0));
    }
    while (!plaintext.empty() && io_error_.ok()) {
      const size_t n = std::min(plaintext.size(), kMaxWriteChunk);
      const int rc = SSL_write(ssl_.get(), plaintext.data(), static_cast<int>(n));
      if (rc <= 0) {
        const uint32_t e = ERR_peek_error();
        ERR_clear_error();
        collecting_ = false;
        fd_ = -1;
        return absl::InternalError(absl::StrCat("tls: SSL_write: ", ReasonText(e)));
      }
      plaintext.Consume(static_cast<size_t>(rc));
    }
    if (close_owed_ && io_error_.ok()) {
      SSL_shutdown(ssl_.get());  // close_notify, after the last data
      ERR_clear_error();
      shutdown_sent_ = true;
      close_owed_ = false;
    }
    collecting_ = false;
    FlushPending();
  }
  fd_ = -1;
  if (!io_error_.ok()) return io_error_;
  WriteResult w;
  w.wire_bytes = std::exchange(sent_, 0);
  if (wire_.empty()) wire_.Release();  // idle: no buffer
  w.pending = pending_bytes();
  return w;
}

void TlsTransport::OnClosing() {
  // The close_notify goes out after what the protocol still has queued:
  // the connection's next Write() seals that first.
  if (handshake_done_ && !shutdown_sent_) close_owed_ = true;
}

const TlsPeerInfo* TlsTransport::peer_info() const {
  if (!handshake_done_) return nullptr;
  if (peer_info_ != nullptr) return peer_info_.get();
  auto info = std::make_unique<TlsPeerInfo>();
  SSL* ssl = ssl_.get();
  info->version = SSL_get_version(ssl);
  if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl)) {
    info->cipher = SSL_CIPHER_standard_name(cipher);
  }
  const uint8_t* alpn = nullptr;
  unsigned alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  info->alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
  if (const char* host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) {
    info->server_name = host;
  }
  info->resumed = SSL_session_reused(ssl) == 1;
  bssl::UniquePtr<X509> peer(SSL_get_peer_certificate(ssl));
  if (peer != nullptr && SSL_get_verify_result(ssl) == X509_V_OK) {
    info->client_verified = true;
    info->subject = NameText(X509_get_subject_name(peer.get()));
    info->subject_alt_names = AltNames(peer.get());
  }
  peer_info_ = std::move(info);
  return peer_info_.get();
}

}  // namespace netman
