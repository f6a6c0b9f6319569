// Copyright netman authors.
#include "netman/udp/datagram_codec.h"

#include "netman/codec/default_packer.h"

namespace netman {
namespace {

// CheckDatagram's loop; with kDefault the packer is a DefaultPacker called
// directly (its Decode is inline and never fails).
template <bool kDefault>
DatagramCheck Check(const Packer& packer, std::string_view datagram, uint64_t max_body) {
  DatagramCheck check;
  if (datagram.empty()) return check;  // kEmpty
  DecodeResult r;
  size_t consumed = 0;
  while (consumed < datagram.size()) {
    const std::string_view rest = datagram.substr(consumed);
    if constexpr (kDefault) {
      (void)static_cast<const DefaultPacker&>(packer).DefaultPacker::Decode(rest, &r);
    } else if (!packer.Decode(rest, &r).ok()) {
      check.verdict = DatagramVerdict::kMalformed;
      return check;
    }
    if (!r.complete) {
      check.verdict = max_body != 0 && r.declared_body_length.has_value() &&
                              *r.declared_body_length > max_body
                          ? DatagramVerdict::kOversize
                          : DatagramVerdict::kTruncated;
      return check;
    }
    if (r.consumed == 0 || r.consumed > rest.size()) {
      check.verdict = DatagramVerdict::kMalformed;  // a packer breaking its contract
      return check;
    }
    if (max_body != 0 && r.message.body.size() > max_body) {
      check.verdict = DatagramVerdict::kOversize;
      return check;
    }
    consumed += r.consumed;
    ++check.messages;
  }
  check.verdict = DatagramVerdict::kOk;
  return check;
}

// The size of the frame at the front of `bytes`, or 0 if there is no whole
// frame there.
size_t FrameSize(const Packer& packer, std::string_view bytes) {
  DecodeResult r;
  if (!packer.Decode(bytes, &r).ok() || !r.complete || r.consumed == 0 ||
      r.consumed > bytes.size()) {
    return 0;
  }
  return r.consumed;
}

}  // namespace

const char* DatagramVerdictName(DatagramVerdict verdict) {
  switch (verdict) {
    case DatagramVerdict::kOk:
      return "ok";
    case DatagramVerdict::kEmpty:
      return "empty";
    case DatagramVerdict::kTruncated:
      return "truncated";
    case DatagramVerdict::kMalformed:
      return "malformed";
    case DatagramVerdict::kOversize:
      return "oversize";
  }
  return "unknown";
}

DatagramCheck CheckDatagram(const Packer& packer, std::string_view datagram,
                            uint64_t max_body) {
  if (dynamic_cast<const DefaultPacker*>(&packer) != nullptr) {
    return Check<true>(packer, datagram, max_body);
  }
  return Check<false>(packer, datagram, max_body);
}

size_t SplitIntoDatagrams(const Packer& packer, std::string_view frames,
                          size_t max_datagram,
                          const std::function<void(std::string_view)>& emit) {
  // The common case: every reply to one datagram fits in one.
  if (frames.size() <= max_datagram) {
    if (!frames.empty()) emit(frames);
    return 0;
  }
  size_t skipped = 0;
  size_t start = 0;  // of the datagram being gathered
  size_t end = 0;    // of its last whole frame
  while (end < frames.size()) {
    const size_t frame = FrameSize(packer, frames.substr(end));
    if (frame == 0) {  // not whole frames: nothing more can be cut safely
      skipped += frames.size() - end;
      break;
    }
    if (frame > max_datagram) {
      if (end > start) emit(frames.substr(start, end - start));
      skipped += frame;
      end += frame;
      start = end;
      continue;
    }
    if (end + frame - start > max_datagram) {
      emit(frames.substr(start, end - start));
      start = end;
    }
    end += frame;
  }
  if (end > start && end <= frames.size()) emit(frames.substr(start, end - start));
  return skipped;
}

}  // namespace netman
