// Copyright netman authors.
#include "netman/udp/datagram_protocol.h"

#include "absl/strings/str_cat.h"

namespace netman {

absl::Status DatagramProtocol::TooLarge(size_t frame) {
  too_large_.fetch_add(1, std::memory_order_relaxed);
  return absl::InvalidArgumentError(
      absl::StrCat("reply frame of ", frame, " bytes does not fit in one datagram (at most ",
                   max_datagram_, " bytes); not sent"));
}

absl::Status DatagramProtocol::Encode(uint32_t id, std::string_view body, Buffer& out) {
  if (body.size() + kHeaderAllowance <= max_datagram_) [[likely]] {
    return framed_->Encode(id, body, out);
  }
  // Near or over the limit: frame it aside to learn its size.
  Buffer frame;
  absl::Status s = framed_->Encode(id, body, frame);
  if (!s.ok()) return s;
  if (frame.size() > max_datagram_) return TooLarge(frame.size());
  out.Append(frame.readable());
  return absl::OkStatus();
}

absl::Status DatagramProtocol::EncodeWith(uint32_t id, size_t size, BodyWriter writer,
                                          Buffer& out) {
  if (size + kHeaderAllowance <= max_datagram_) {
    return framed_->EncodeWith(id, size, writer, out);
  }
  if (size > max_datagram_) return TooLarge(size);
  Buffer frame;
  absl::Status s = framed_->EncodeWith(id, size, writer, frame);
  if (!s.ok()) return s;
  if (frame.size() > max_datagram_) return TooLarge(frame.size());
  out.Append(frame.readable());
  return absl::OkStatus();
}

}  // namespace netman
