// Copyright netman authors.
//
// DatagramProtocol: the Protocol of every UDP session of a UdpServer. It is
// the framed protocol (the server's Packer, max_body, the Router) by
// composition, with two datagram rules:
//   * Send() of a message whose frame cannot fit in one datagram
//     (max_datagram_bytes) fails with InvalidArgument and sends nothing: the
//     handler gets the error instead of a silent truncation;
//   * when a session closes, the server is told (to forget the peer).
// What reaches OnData() is one datagram that UdpServer has already checked
// (CheckDatagram: whole messages only), so nothing is ever left over for
// the next datagram.
//
// Threading: one instance serves every session of a server from every loop
// (ProtocolPtr::Shared); immutable after construction except the
// replies_too_large counter (atomic).
#ifndef NETMAN_UDP_DATAGRAM_PROTOCOL_H_
#define NETMAN_UDP_DATAGRAM_PROTOCOL_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "netman/net/connection.h"
#include "netman/net/protocol.h"
#include "netman/server/framed_protocol.h"

namespace netman {

class DatagramProtocol final : public Protocol {
 public:
  using ClosedCallback = std::function<void(Connection&)>;

  // `framed` must outlive this object.
  DatagramProtocol(FramedProtocol* framed, size_t max_datagram_bytes,
                   ClosedCallback on_closed)
      : framed_(framed), max_datagram_(max_datagram_bytes), on_closed_(std::move(on_closed)) {}

  absl::StatusOr<size_t> OnData(Connection& connection, std::span<char> input) override {
    return framed_->OnData(connection, input);
  }
  absl::Status Encode(uint32_t id, std::string_view body, Buffer& out) override;
  absl::Status EncodeWith(uint32_t id, size_t size, BodyWriter writer, Buffer& out) override;
  const void* encoding_key() const override { return framed_->encoding_key(); }
  void OnConnectionClosed(Connection& connection, const absl::Status& reason) override {
    if (on_closed_) on_closed_(connection);
  }

  // Send()s refused because the frame exceeded a datagram.
  uint64_t replies_too_large() const { return too_large_.load(std::memory_order_relaxed); }

  // Room assumed for a packer's frame header: bodies smaller than the
  // datagram by more than this are framed straight into the output.
  static constexpr size_t kHeaderAllowance = 64;

 private:
  [[gnu::cold, gnu::noinline]] absl::Status TooLarge(size_t frame);

  FramedProtocol* const framed_;
  const size_t max_datagram_;
  const ClosedCallback on_closed_;
  std::atomic<uint64_t> too_large_{0};
};

}  // namespace netman

#endif  // NETMAN_UDP_DATAGRAM_PROTOCOL_H_
