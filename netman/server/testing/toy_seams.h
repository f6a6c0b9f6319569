// Copyright netman authors.
//
// Toy protocols and a toy transport that exercise the server core's seams
// before the real WebSocket and TLS layers exist. Used only in tests.
//
//   LineProtocol       newline-separated text; every line is message id 0.
//                      Shared by all connections (stateless).
//   UpgradeProtocol    per connection: waits for the line "UPGRADE", answers
//                      "OK\n" with SendBytes and hands the connection to
//                      another protocol (as an HTTP upgrade to WebSocket
//                      does). Not ready (no OnOpen) until then.
//   SequencedProtocol  per connection: the framed protocol's decoding, and
//                      an encoder with state: every body it frames gets a
//                      per-connection sequence number "N:".
//   XorTransport       a one-byte handshake (the client sends a non-zero key
//                      K, the server answers K ^ 0xff), then every byte in
//                      both directions is XORed with K.
//
// Threading: as Protocol and Transport (the connection's loop thread).
#ifndef NETMAN_SERVER_TESTING_TOY_SEAMS_H_
#define NETMAN_SERVER_TESTING_TOY_SEAMS_H_

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "netman/base/status.h"
#include "netman/net/connection.h"
#include "netman/net/protocol.h"
#include "netman/net/transport.h"
#include "netman/router/router.h"
#include "netman/server/framed_protocol.h"

namespace netman::testing {

// Dispatches `body` as message id 0 on `router`.
inline void DispatchLine(const Router& router, Connection& connection, std::string_view body) {
  const Message message{0, body};
  Request request(connection, message);
  (void)router.Dispatch(request);
}

class LineProtocol final : public Protocol {
 public:
  explicit LineProtocol(const Router* router) : router_(router) {}

  absl::StatusOr<size_t> OnData(Connection& connection, std::span<char> input) override {
    const std::string_view bytes(input.data(), input.size());
    size_t used = 0;
    for (size_t nl; connection.is_open() && (nl = bytes.find('\n', used)) != bytes.npos;
         used = nl + 1) {
      DispatchLine(*router_, connection, bytes.substr(used, nl - used));
    }
    return used;
  }
  absl::Status Encode(uint32_t, std::string_view body, Buffer& out) override {
    out.Append(body);
    out.Append("\n");
    return absl::OkStatus();
  }
  const void* encoding_key() const override { return this; }

 private:
  const Router* const router_;
};

class UpgradeProtocol final : public Protocol {
 public:
  // `next` (shared) takes over after the upgrade; `destroyed` counts
  // destructions (per-connection state must die with its connection).
  UpgradeProtocol(Protocol* next, std::atomic<int>* destroyed)
      : next_(next), destroyed_(destroyed) {}
  ~UpgradeProtocol() override { destroyed_->fetch_add(1); }

  bool OnAttach(Connection&) override { return false; }  // handshake first

  absl::StatusOr<size_t> OnData(Connection& connection, std::span<char> input) override {
    const std::string_view bytes(input.data(), input.size());
    const size_t nl = bytes.find('\n');
    if (nl == bytes.npos) return 0;  // the request line is not complete
    if (bytes.substr(0, nl) != "UPGRADE") {
      (void)connection.SendBytes("NO\n");
      return absl::InvalidArgumentError("expected UPGRADE");
    }
    (void)connection.SendBytes("OK\n");
    connection.SwitchProtocol(ProtocolPtr::Shared(next_));
    return nl + 1;  // what follows belongs to `next_`
  }
  absl::Status Encode(uint32_t, std::string_view, Buffer&) override {
    return absl::FailedPreconditionError("not upgraded yet");
  }

 private:
  Protocol* const next_;
  std::atomic<int>* const destroyed_;
};

class SequencedProtocol final : public Protocol {
 public:
  SequencedProtocol(FramedProtocol* framed, std::atomic<int>* destroyed)
      : framed_(framed), destroyed_(destroyed) {}
  ~SequencedProtocol() override { destroyed_->fetch_add(1); }

  absl::StatusOr<size_t> OnData(Connection& connection, std::span<char> input) override {
    return framed_->OnData(connection, input);
  }
  absl::Status Encode(uint32_t id, std::string_view body, Buffer& out) override {
    return framed_->Encode(
        id, absl::StrCat(next_++, ":", absl::string_view(body.data(), body.size())), out);
  }
  // encoding_key() stays null: frames depend on this connection's state.

 private:
  FramedProtocol* const framed_;
  std::atomic<int>* const destroyed_;
  uint64_t next_ = 0;
};

class XorTransport final : public Transport {
 public:
  // `sealed_batches` counts Write() calls that carried application bytes.
  explicit XorTransport(std::atomic<int>* sealed_batches = nullptr)
      : sealed_batches_(sealed_batches) {}

  absl::StatusOr<ReadResult> Read(int fd, std::span<char> scratch, Buffer& plaintext) override {
    ssize_t n = ::read(fd, scratch.data(), scratch.size());
    ReadResult r;
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return r;
      return ErrnoStatus(errno, "read");
    }
    if (n == 0) {
      r.outcome = ReadOutcome::kPeerClosed;
      return r;
    }
    r.outcome = ReadOutcome::kProgress;
    r.wire_bytes = static_cast<size_t>(n);
    std::span<char> bytes = scratch.first(static_cast<size_t>(n));
    if (key_ == 0) {
      key_ = static_cast<uint8_t>(bytes[0]);
      if (key_ == 0) return absl::InvalidArgumentError("bad XOR hello: key 0");
      const char ack = static_cast<char>(key_ ^ 0xff);
      wire_.Append(&ack, 1);
      bytes = bytes.subspan(1);
    }
    for (char& c : bytes) c = static_cast<char>(c ^ key_);  // in place, in scratch
    plaintext.Append(bytes.data(), bytes.size());
    return r;
  }

  absl::StatusOr<WriteResult> Write(int fd, Buffer& plaintext) override {
    if (!plaintext.empty()) {
      if (sealed_batches_ != nullptr) sealed_batches_->fetch_add(1);
      char* out = wire_.Writable(plaintext.size());
      const char* in = plaintext.data();
      for (size_t i = 0; i < plaintext.size(); ++i) out[i] = static_cast<char>(in[i] ^ key_);
      wire_.Commit(plaintext.size());
      plaintext.Consume(plaintext.size());
    }
    WriteResult w;
    if (!wire_.empty()) {
      ssize_t n = ::send(fd, wire_.data(), wire_.size(), MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return ErrnoStatus(errno, "send");
      }
      if (n > 0) {
        wire_.Consume(static_cast<size_t>(n));
        w.wire_bytes = static_cast<size_t>(n);
      }
      if (wire_.empty()) wire_.Release();  // idle: no buffer
    }
    w.pending = wire_.size();
    return w;
  }

  size_t pending_bytes() const override { return wire_.size(); }
  bool ready() const override { return key_ != 0; }

 private:
  std::atomic<int>* const sealed_batches_;
  uint8_t key_ = 0;
  Buffer wire_;
};

}  // namespace netman::testing

#endif  // NETMAN_SERVER_TESTING_TOY_SEAMS_H_
