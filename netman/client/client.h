// Copyright netman authors.
//
// Client: a blocking client for netman servers, for tests, examples and
// programs that want one connection without an event loop. It speaks the
// same framing as the server (the DefaultPacker unless told otherwise):
// Send() writes one whole frame, Receive() waits for one whole message.
//
// Example:
//   NETMAN_ASSIGN_OR_RETURN(std::unique_ptr<netman::Client> client,
//                           netman::Client::Connect("127.0.0.1", 8080));
//   NETMAN_RETURN_IF_ERROR(client->Send(/*id=*/1, "ping"));
//   NETMAN_ASSIGN_OR_RETURN(netman::ReceivedMessage reply,
//                           client->Receive(absl::Seconds(5)));
//   // reply.id, reply.body
//
// Errors: every call returns a Status rather than crashing or raising
// SIGPIPE. Receive() distinguishes a timeout (DeadlineExceeded; the bytes of
// a half-received message stay buffered and a later Receive() continues
// with them), an orderly close by the peer (Unavailable "connection closed by
// peer"), a reset (the errno status, e.g. "read: Connection reset by peer"),
// and a bad stream (a body over Options::max_body, or bytes the packer
// rejects): after a bad stream every later Receive() returns the same error,
// though Send(), ShutdownWrite() and WaitForClose() still work on the socket.
//
// Send() blocks until the whole frame is written. While it waits for the
// socket to take more bytes it reads whatever the peer sends into the
// receive buffer (a later Receive() returns it), so sending a large message
// to a server that echoes it back cannot deadlock.
//
// The socket is non-blocking and close-on-exec; fd() exposes it for tests
// that want to poke at it (write to it with MSG_NOSIGNAL).
//
// TLS: with Options::tls set (a TlsClientConfig, see tls_client_config.h),
// Connect() also completes a TLS handshake within connect_timeout, verifying
// the server's certificate and name unless the config says otherwise, and
// every call above behaves the same over TLS (timeouts, the large Send()
// that reads while it writes, closes and resets). Extra errors: a
// certificate that fails verification is Unauthenticated, any other
// handshake failure (an alert, no common version, the peer closing) is
// Unavailable, a handshake that does not finish in time is DeadlineExceeded.
// The peer's close_notify reads as an orderly close; so does a TCP EOF
// without one (many servers skip it). Close() and ShutdownWrite() send
// close_notify. SendRaw() writes its bytes as TLS application data. Without
// Options::tls nothing about the plain path changes.
//
//   TlsClientConfig::Options tls;
//   tls.ca_file = "ca.pem";
//   Client::Options options;
//   options.tls = TlsClientConfig::Create(tls).value();
//   auto client = Client::Connect("localhost", 8443, options);
//
// Threading: not synchronised. Use a Client from one thread at a time;
// Send() and Receive() must not run concurrently (Send() also fills the
// receive buffer). Different Clients are independent.
#ifndef NETMAN_CLIENT_CLIENT_H_
#define NETMAN_CLIENT_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "netman/base/unique_fd.h"
#include "netman/buffer/buffer.h"
#include "netman/codec/packer.h"

namespace netman {

class TlsClientConfig;
class TlsClientStream;

// A message returned by Client::Receive(); unlike Message, it owns its body.
struct ReceivedMessage {
  uint32_t id = 0;
  std::string body;
};

class Client {
 public:
  // The default largest body Receive() accepts (as the server's default).
  static constexpr uint64_t kDefaultMaxBody = uint64_t{64} << 20;

  struct Options {
    // Bounds the whole of Connect(), across every address the host resolves
    // to. absl::InfiniteDuration() waits as long as the kernel does.
    absl::Duration connect_timeout = absl::Seconds(5);
    // Frames messages both ways. Null means a DefaultPacker.
    std::shared_ptr<const Packer> packer;
    // Largest body Receive() accepts; 0 means unlimited. A larger body is an
    // error (ResourceExhausted) as soon as its header arrives, and leaves the
    // connection unusable for Receive().
    uint64_t max_body = kDefaultMaxBody;
    // Sets TCP_NODELAY, so small frames leave at once.
    bool tcp_nodelay = true;
    // Speak TLS with this configuration. Null means plain TCP.
    std::shared_ptr<const TlsClientConfig> tls;
  };

  // What a TLS connection negotiated (see tls_info()).
  struct TlsInfo {
    std::string version;  // "TLSv1.2", "TLSv1.3"
    std::string cipher;   // e.g. "TLS_AES_128_GCM_SHA256"
    std::string alpn;     // the protocol the server chose; empty if none
    bool session_reused = false;  // the handshake resumed a session
  };

  // Connects to `host` port `port`. `host` is a numeric IPv4 or IPv6 address
  // ("127.0.0.1", "::1", "[::1]") or a name ("localhost") resolved with
  // getaddrinfo(); each resolved address is tried in turn until one accepts.
  // On failure the status carries the last address's error code and every
  // address's error message.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(std::string_view host,
                                                         uint16_t port,
                                                         Options options);
  // As above, with default Options.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(std::string_view host,
                                                         uint16_t port);

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  // Encodes (id, body) with the packer and writes the whole frame, however
  // long that takes. Bodies over 4 GiB - 1 bytes are InvalidArgument (the
  // default wire format cannot express them).
  absl::Status Send(uint32_t id, std::string_view body);

  // Writes `bytes` as they are: split headers, garbage, several frames.
  absl::Status SendRaw(std::string_view bytes);

  // Waits up to `timeout` for one complete message and returns it. Messages
  // already buffered are returned without touching the socket. Returns
  // DeadlineExceeded on timeout (a zero or negative timeout still reads what
  // the socket already holds), Unavailable on an orderly close by the peer
  // (after any complete messages that preceded it), the errno status on a
  // reset, ResourceExhausted for a body over Options::max_body, and the
  // packer's status for bytes it rejects.
  absl::StatusOr<ReceivedMessage> Receive(absl::Duration timeout);

  // Half-closes the connection: the peer reads EOF, and this side can still
  // Receive(). Later sends fail.
  absl::Status ShutdownWrite();

  // Waits up to `timeout` for the peer to close the connection (orderly or by
  // reset), discarding everything received, buffered messages included.
  // Returns OK once closed, DeadlineExceeded otherwise.
  absl::Status WaitForClose(absl::Duration timeout);

  // Closes the socket. Every later call returns FailedPrecondition.
  void Close();

  // The socket (non-blocking), or -1 after Close().
  int fd() const { return fd_.get(); }
  // The local port of the connection (still valid after Close()).
  uint16_t local_port() const { return local_port_; }
  // What the TLS handshake negotiated; nullopt without TLS or after Close().
  std::optional<TlsInfo> tls_info() const;

 private:
  enum class ReadOutcome {
    kData,        // bytes were appended to in_
    kWouldBlock,  // nothing to read right now
    kClosed,      // EOF (peer_closed_) or error (read_error_)
  };

  Client(UniqueFd fd, std::shared_ptr<const Packer> packer, uint64_t max_body,
         uint16_t local_port, std::unique_ptr<TlsClientStream> tls);

  absl::Status CheckOpen() const;
  // One read() into in_.
  ReadOutcome ReadSome();
  // One TLS read into in_ (ReadSome() over TLS).
  ReadOutcome ReadSomeTls();
  // Writes all of `bytes`, reading input while the socket is full.
  absl::Status WriteAll(std::string_view bytes);
  // WriteAll() over TLS.
  absl::Status WriteAllTls(std::string_view bytes);
  // Decodes one message from in_ if a complete one is there.
  absl::StatusOr<std::optional<ReceivedMessage>> DecodeBuffered();
  // Records a stream error: Receive() returns it from now on.
  absl::Status FailStream(absl::Status status);

  UniqueFd fd_;
  std::shared_ptr<const Packer> packer_;
  uint64_t max_body_;
  uint16_t local_port_;
  Buffer in_;                  // received, not yet returned by Receive()
  Buffer out_;                 // the frame Send() is writing
  bool peer_closed_ = false;   // read() returned 0
  absl::Status read_error_;    // read() failed (e.g. ECONNRESET)
  absl::Status stream_error_;  // oversize body or undecodable bytes
  std::unique_ptr<TlsClientStream> tls_;  // null for plain TCP
  // What a read that would block waits for: POLLIN, except when TLS needs
  // to write before it can read on.
  short read_wait_;
};

}  // namespace netman

#endif  // NETMAN_CLIENT_CLIENT_H_
