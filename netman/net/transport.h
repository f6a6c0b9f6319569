// Copyright netman authors.
//
// Transport: what carries a connection's bytes between its socket and its
// protocol when they are not plain TCP: TLS, or a test transport. Like
// Envoy's TransportSocket, the connection asks its transport to read when
// the socket is readable and to write when it has output to flush; the
// transport does the system calls, turns wire bytes into the application
// bytes the protocol sees and back, and keeps the wire bytes the socket has
// not taken yet. One transport per connection (made by the server's
// TransportFactory), deleted with it.
//
// A plain connection has no transport: it reads and writes its socket
// itself, with no virtual call and no extra buffer. A transport keeps the
// plain path's speed rules:
//   * Read() reads into `scratch`, the loop's read buffer, and appends only
//     application bytes to `plaintext` (the connection's input, or the
//     loop's scratch for it): no per-connection read buffer.
//   * Write() gets everything the protocol queued while handling one read
//     (or one loop iteration) at once: TLS seals the batch with one
//     SSL_write-style call and sends it with one write, not one record and
//     one system call per message.
//   * An idle transport holds no buffer: pending wire bytes are released
//     once sent.
//
// A transport with a handshake reports ready() == false until it is done;
// the connection opens (OnOpen fires) only when the transport and the
// protocol are both ready, and the server core closes connections whose
// handshake does not finish within ServerOptions::handshake_timeout.
//
// Threading: every method runs on the loop thread of its connection.
#ifndef NETMAN_NET_TRANSPORT_H_
#define NETMAN_NET_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "netman/buffer/buffer.h"

namespace netman {

class Transport {
 public:
  enum class ReadOutcome : uint8_t {
    kProgress,    // bytes were read (application bytes may or may not follow)
    kWouldBlock,  // nothing to read now
    kPeerClosed,  // the peer finished sending (EOF, or TLS close_notify)
  };
  struct ReadResult {
    ReadOutcome outcome = ReadOutcome::kWouldBlock;
    size_t wire_bytes = 0;  // read from the socket (for the byte counters)
  };
  struct WriteResult {
    size_t wire_bytes = 0;  // written to the socket (for the byte counters)
    size_t pending = 0;     // wire bytes still waiting for the socket
  };

  virtual ~Transport() = default;

  // The socket is readable: reads what `fd` has (at most one scratch-full)
  // into `scratch` and appends the application bytes it yields to
  // `plaintext`. A result with kPeerClosed may still have appended bytes
  // (delivered before the close). An error closes the connection with it
  // as the reason.
  virtual absl::StatusOr<ReadResult> Read(int fd, std::span<char> scratch,
                                          Buffer& plaintext) = 0;

  // Takes the application bytes queued in `plaintext` (consuming what it
  // took, normally all of it; it may be empty), turns them into wire bytes
  // after any of the transport's own (handshake, alerts) and writes as much
  // as `fd` accepts. If bytes remain pending the connection waits for the
  // socket to be writable and calls Write() again.
  virtual absl::StatusOr<WriteResult> Write(int fd, Buffer& plaintext) = 0;

  // Wire bytes waiting for the socket.
  virtual size_t pending_bytes() const = 0;

  // True once the handshake (if any) is done and application bytes flow.
  virtual bool ready() const = 0;

  // The connection is closing gracefully: queue what the transport sends
  // last (TLS close_notify). The connection flushes it before closing.
  virtual void OnClosing() {}
};

// Makes the transport for a newly accepted connection (on its loop thread).
// An error drops that connection with a logged reason.
using TransportFactory = std::function<absl::StatusOr<std::unique_ptr<Transport>>()>;

}  // namespace netman

#endif  // NETMAN_NET_TRANSPORT_H_
