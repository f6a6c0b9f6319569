// Copyright netman authors.
//
// FakeTransport: a Transport that never touches its socket. Bytes the test
// Inject()s are what the connection "reads"; what the connection writes is
// collected for TakeWritten(). With it (and FakePoller) a real Connection
// runs its whole read, dispatch and flush path with no socket.
//
// Example:
//   auto transport = std::make_unique<FakeTransport>();
//   FakeTransport* wire = transport.get();
//   ... Connection(loop, UniqueFd(), id, peer, &context, std::move(transport))
//   wire->Inject(frame);
//   connection->OnIoEvent(kPollReadable);  // the connection reads `frame`
//   std::string replies = wire->TakeWritten();
//
// Threading: loop thread of its connection (as every Transport).
#ifndef NETMAN_TESTING_FAKE_TRANSPORT_H_
#define NETMAN_TESTING_FAKE_TRANSPORT_H_

#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "netman/net/transport.h"

namespace netman::testing {

class FakeTransport final : public Transport {
 public:
  // Bytes the connection will read next.
  void Inject(std::string_view bytes) { inbound_.append(bytes); }
  // After the injected bytes, the peer finishes sending.
  void InjectEof() { eof_ = true; }
  // Everything the connection has written so far (cleared).
  std::string TakeWritten() { return std::exchange(written_, std::string()); }
  // Number of Write() calls that carried bytes (one per flush).
  int writes() const { return writes_; }

  absl::StatusOr<ReadResult> Read(int, std::span<char>, Buffer& plaintext) override {
    ReadResult r;
    r.wire_bytes = inbound_.size();
    plaintext.Append(inbound_);
    inbound_.clear();
    r.outcome = eof_ ? ReadOutcome::kPeerClosed
                     : r.wire_bytes > 0 ? ReadOutcome::kProgress : ReadOutcome::kWouldBlock;
    return r;
  }
  absl::StatusOr<WriteResult> Write(int, Buffer& plaintext) override {
    WriteResult w;
    w.wire_bytes = plaintext.size();
    if (w.wire_bytes > 0) ++writes_;
    written_.append(plaintext.readable());
    plaintext.Consume(plaintext.size());
    return w;
  }
  size_t pending_bytes() const override { return 0; }
  bool ready() const override { return true; }

 private:
  std::string inbound_;
  std::string written_;
  bool eof_ = false;
  int writes_ = 0;
};

}  // namespace netman::testing

#endif  // NETMAN_TESTING_FAKE_TRANSPORT_H_
