// Copyright netman authors.
#include "netman/udp/datagram_transport.h"

#include "netman/udp/datagram_codec.h"

namespace netman {

absl::StatusOr<Transport::ReadResult> DatagramTransport::Read(int, std::span<char>, Buffer&) {
  return absl::FailedPreconditionError("a UDP session has no socket of its own to read");
}

absl::StatusOr<Transport::WriteResult> DatagramTransport::Write(int, Buffer& plaintext) {
  const size_t size = plaintext.size();
  if (size == 0) return WriteResult{};
  size_t skipped = 0;
  if (size <= socket_->max_datagram_bytes()) [[likely]] {
    socket_->Queue(peer_, plaintext.readable());
  } else {
    skipped = SplitIntoDatagrams(*packer_, plaintext.readable(), socket_->max_datagram_bytes(),
                                 [this](std::string_view d) { socket_->Queue(peer_, d); });
    if (skipped > 0) socket_->counters().unsendable_bytes.Add(skipped);
  }
  plaintext.Consume(size);
  return WriteResult{size - skipped, 0};
}

}  // namespace netman
