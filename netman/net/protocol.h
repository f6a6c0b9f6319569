// Copyright netman authors.
//
// Protocol: how one connection's bytes become messages and how messages
// become bytes. A Connection hands every byte it receives (after its
// Transport, if any) to its protocol, and Connection::Send() frames through
// it, so a message sent on a WebSocket connection leaves as a WebSocket frame
// and one sent on a framed TCP connection leaves with the 8-byte header.
//
// A protocol is either shared by every connection of a server (stateless,
// like the framed protocol: ProtocolPtr::Shared) or owned by one connection
// (with per-connection state such as fragment reassembly or a deflate
// stream: ProtocolPtr::Owned), in which case it lives and dies with that
// connection. Protocols that need no state cost a connection nothing but
// the pointer every connection has.
//
// A protocol may hand the connection to another one mid-stream
// (Connection::SwitchProtocol, e.g. an HTTP upgrade to WebSocket): the bytes
// that arrived after the switch point are offered to the new protocol at
// once, in the same read.
//
// Example: newline-separated text, each line a message with id 0.
//   class LineProtocol final : public netman::Protocol {
//    public:
//     absl::StatusOr<size_t> OnData(netman::Connection& c,
//                                   std::span<char> in) override {
//       size_t used = 0;
//       for (size_t nl; (nl = View(in).find('\n', used)) != npos; used = nl + 1) {
//         Deliver(c, View(in).substr(used, nl - used));
//       }
//       return used;                       // the partial line is kept
//     }
//     absl::Status Encode(uint32_t, std::string_view body,
//                         netman::Buffer& out) override {
//       out.Append(body);
//       out.Append("\n");
//       return absl::OkStatus();
//     }
//   };
//
// Threading: every method runs on the loop thread of the connection it is
// called for. A shared protocol is called from every loop at once, so it
// must not mutate itself in these calls; an owned one is only ever called
// from its connection's loop.
#ifndef NETMAN_NET_PROTOCOL_H_
#define NETMAN_NET_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "netman/buffer/buffer.h"

namespace netman {

class Connection;

class Protocol {
 public:
  virtual ~Protocol() = default;

  // This protocol takes over `connection`: when the connection starts, or
  // from Connection::SwitchProtocol(). Returns true if the connection can
  // carry messages with it now. A protocol with a handshake of its own
  // returns false and later either calls Connection::MarkProtocolReady() or
  // switches to a protocol that is ready. The connection "opens" (OnOpen
  // fires) once its protocol and its transport are both ready.
  virtual bool OnAttach(Connection& connection) { return true; }

  // Consumes complete units at the front of `input` (every byte received and
  // not consumed so far) and returns how many bytes it consumed. The rest is
  // kept and offered again, with more bytes appended, when they arrive.
  // `input` may be modified in place (e.g. WebSocket unmasking): bytes not
  // consumed are offered again as the protocol left them. A protocol that
  // dispatches several messages per call stops at a message boundary once
  // Connection::wants_messages() is false (closed, or paused by the output
  // limit) and returns what it consumed; the connection offers the rest
  // again when reading resumes. An error closes the connection with it as
  // the reason; replies queued before the error are still delivered.
  virtual absl::StatusOr<size_t> OnData(Connection& connection,
                                        std::span<char> input) = 0;

  // Appends the frame for message (id, body) to `out`: what
  // Connection::Send() puts on the wire. Called in send order. An error
  // (e.g. a body this framing cannot express) leaves `out` unchanged.
  virtual absl::Status Encode(uint32_t id, std::string_view body, Buffer& out) = 0;

  // The same, with the body (exactly `size` bytes) written in place by
  // `writer`: Connection::SendWith(). The default writes the body into a
  // temporary and calls Encode(); protocols that can reserve the frame in
  // `out` override it to save that copy.
  virtual absl::Status EncodeWith(uint32_t id, size_t size, BodyWriter writer,
                                  Buffer& out);

  // For broadcast: non-null when Encode(id, body) depends on nothing but
  // (id, body), and every protocol returning the same key produces the same
  // bytes, so that one encoded frame can be copied to all their connections.
  // Null (the default): frames are encoded per connection (e.g. a deflate
  // stream with context takeover).
  virtual const void* encoding_key() const { return nullptr; }

  // The connection has closed (once, on its loop, before the server's
  // OnClose hook). For protocols holding per-connection resources.
  virtual void OnConnectionClosed(Connection& connection, const absl::Status& reason) {}
};

// A connection's reference to its protocol: shared (not owned; whoever
// created it keeps it alive longer than the connection) or owned by the
// connection alone and deleted with it. One pointer wide: the low bit of the
// address says which (a Protocol is at least pointer-aligned).
class ProtocolPtr {
 public:
  ProtocolPtr() = default;
  static ProtocolPtr Shared(Protocol* protocol) {
    return ProtocolPtr(reinterpret_cast<uintptr_t>(protocol));
  }
  static ProtocolPtr Owned(std::unique_ptr<Protocol> protocol) {
    return ProtocolPtr(protocol == nullptr
                           ? 0
                           : reinterpret_cast<uintptr_t>(protocol.release()) | kOwned);
  }
  ProtocolPtr(ProtocolPtr&& other) noexcept : bits_(std::exchange(other.bits_, 0)) {}
  ProtocolPtr& operator=(ProtocolPtr&& other) noexcept {
    if (this != &other) {
      reset();
      bits_ = std::exchange(other.bits_, 0);
    }
    return *this;
  }
  ProtocolPtr(const ProtocolPtr&) = delete;
  ProtocolPtr& operator=(const ProtocolPtr&) = delete;
  ~ProtocolPtr() { reset(); }

  Protocol* get() const { return reinterpret_cast<Protocol*>(bits_ & ~kOwned); }
  Protocol* operator->() const { return get(); }
  explicit operator bool() const { return bits_ != 0; }
  bool owned() const { return (bits_ & kOwned) != 0; }
  void reset() {
    if (owned()) std::unique_ptr<Protocol> deleting(get());
    bits_ = 0;
  }

 private:
  static constexpr uintptr_t kOwned = 1;
  static_assert(alignof(Protocol) > kOwned, "the owned bit needs an aligned Protocol");
  explicit ProtocolPtr(uintptr_t bits) : bits_(bits) {}
  uintptr_t bits_ = 0;
};

// Makes the protocol for a newly accepted connection, on its loop thread,
// before any of its bytes are read. Given to the server core by a server
// facade (TcpServer: the framed protocol, shared by every connection).
using ProtocolFactory = std::function<ProtocolPtr(Connection& connection)>;

}  // namespace netman

#endif  // NETMAN_NET_PROTOCOL_H_
