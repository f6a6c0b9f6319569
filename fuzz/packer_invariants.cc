// Copyright netman authors.
#include "fuzz/packer_invariants.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "fuzz/check.h"
#include "netman/buffer/buffer.h"

namespace netman::fuzz {
namespace {

// One Decode() result, owning its body.
struct Decoded {
  absl::Status status;
  bool complete = false;
  size_t consumed = 0;
  OwnedMessage message;
  std::optional<uint64_t> declared;

  bool operator==(const Decoded& o) const {
    return status == o.status && complete == o.complete && consumed == o.consumed &&
           message == o.message && declared == o.declared;
  }
};

Decoded DecodeOnce(const Packer& packer, const char* data, size_t size) {
  Decoded d;
  absl::StatusOr<DecodeResult> r = DecodeOne(packer, std::string_view(data, size));
  if (!r.ok()) {
    d.status = r.status();
    NETMAN_FUZZ_CHECK(!d.status.ok(), "an error status must not be OK");
    return d;
  }
  d.complete = r->complete;
  d.consumed = r->consumed;
  d.declared = r->declared_body_length;
  if (r->complete) {
    NETMAN_FUZZ_CHECK(r->consumed >= 1 && r->consumed <= size,
                      "complete frame consumed %zu of %zu bytes", r->consumed, size);
    const std::string_view body = r->message.body;
    if (!body.empty()) {
      NETMAN_FUZZ_CHECK(body.data() >= data && body.data() + body.size() <= data + r->consumed,
                        "body (%zu bytes at offset %td) is outside the %zu-byte frame",
                        body.size(), body.data() - data, r->consumed);
    }
    d.message = OwnedMessage{r->message.id, std::string(body)};
  } else {
    NETMAN_FUZZ_CHECK(r->consumed == 0, "incomplete frame consumed %zu bytes", r->consumed);
  }
  return d;
}

// Decode() twice on `size` bytes at `data`, which must end where its heap
// block ends (so ASan sees an over-read).
Decoded CheckedDecode(const Packer& packer, const char* data, size_t size) {
  Decoded first = DecodeOnce(packer, data, size);
  Decoded second = DecodeOnce(packer, data, size);
  NETMAN_FUZZ_CHECK(first == second, "Decode() is not deterministic on %zu bytes", size);
  return first;
}

// An exact-size heap copy of `bytes`.
std::unique_ptr<char[]> ExactCopy(std::string_view bytes) {
  std::unique_ptr<char[]> copy(new char[bytes.empty() ? 1 : bytes.size()]);
  if (!bytes.empty()) std::memcpy(copy.get(), bytes.data(), bytes.size());
  return copy;
}

Decoded CheckedDecode(const Packer& packer, std::string_view input) {
  std::unique_ptr<char[]> copy = ExactCopy(input);
  return CheckedDecode(packer, copy.get(), input.size());
}

void ExpectSameDecoding(const DecodedStream& a, const DecodedStream& b,
                        const char* what) {
  NETMAN_FUZZ_CHECK(a.messages.size() == b.messages.size(),
                    "%s: %zu messages, whole stream: %zu", what, b.messages.size(),
                    a.messages.size());
  for (size_t i = 0; i < a.messages.size(); ++i) {
    NETMAN_FUZZ_CHECK(a.messages[i] == b.messages[i], "%s: message %zu differs", what, i);
    NETMAN_FUZZ_CHECK(a.frames[i] == b.frames[i], "%s: frame %zu has another extent",
                      what, i);
  }
  NETMAN_FUZZ_CHECK(a.error.code() == b.error.code(), "%s: ends with %s, whole stream: %s",
                    what, b.error.ToString().c_str(), a.error.ToString().c_str());
  if (a.error.ok()) {
    NETMAN_FUZZ_CHECK(a.pending == b.pending, "%s: %zu pending bytes, whole stream: %zu",
                      what, b.pending, a.pending);
    NETMAN_FUZZ_CHECK(a.declared == b.declared,
                      "%s: the incomplete frame declares another length", what);
  }
}

void CheckFrameRoundTrip(const Packer& packer, const OwnedMessage& m,
                         std::string_view original_frame, bool canonical) {
  const std::string frame = Encoded(packer, m.id, m.body);
  Decoded d = CheckedDecode(packer, frame);
  NETMAN_FUZZ_CHECK(d.status.ok() && d.complete,
                    "Encode(%u, %zu-byte body) does not decode: %s", m.id, m.body.size(),
                    d.status.ToString().c_str());
  NETMAN_FUZZ_CHECK(d.consumed == frame.size(), "decoding %zu encoded bytes consumed %zu",
                    frame.size(), d.consumed);
  NETMAN_FUZZ_CHECK(d.message == m, "decode(encode(x)) != x for id %u", m.id);
  for (size_t cut : {size_t{0}, frame.size() / 2, frame.size() - 1}) {
    if (cut >= frame.size()) continue;
    Decoded p = CheckedDecode(packer, std::string_view(frame).substr(0, cut));
    NETMAN_FUZZ_CHECK(p.status.ok() && !p.complete,
                      "a %zu-byte prefix of a %zu-byte frame decodes as complete or fails",
                      cut, frame.size());
  }
  if (canonical) {
    NETMAN_FUZZ_CHECK(frame == original_frame,
                      "re-encoding a decoded message changed its bytes (%zu -> %zu)",
                      original_frame.size(), frame.size());
  }
}

}  // namespace

std::string Encoded(const Packer& packer, uint32_t id, std::string_view body) {
  Buffer out;
  packer.Encode(id, body, out);
  return std::string(out.readable());
}

DecodedStream DecodeChunks(const Packer& packer,
                           const std::vector<std::string_view>& chunks) {
  DecodedStream result;
  std::string buffer;   // received, not consumed
  size_t base = 0;      // stream offset of buffer[0]
  std::optional<uint64_t> declared;  // for the frame at `base`
  for (std::string_view chunk : chunks) {
    buffer.append(chunk);
    // Every Decode() below sees input that ends where this block ends.
    const std::unique_ptr<char[]> exact = ExactCopy(buffer);
    size_t pos = 0;
    while (true) {
      Decoded d = CheckedDecode(packer, exact.get() + pos, buffer.size() - pos);
      if (!d.status.ok()) {
        result.error = d.status;
        return result;
      }
      if (!d.complete) {
        if (d.declared.has_value()) {
          NETMAN_FUZZ_CHECK(!declared.has_value() || *declared == *d.declared,
                            "frame at offset %zu declared %llu, now %llu", base + pos,
                            static_cast<unsigned long long>(declared.value_or(0)),
                            static_cast<unsigned long long>(*d.declared));
          declared = d.declared;
        }
        break;
      }
      if (declared.has_value()) {
        NETMAN_FUZZ_CHECK(d.message.body.size() == *declared,
                          "frame at offset %zu declared %llu body bytes and has %zu",
                          base + pos, static_cast<unsigned long long>(*declared),
                          d.message.body.size());
      }
      declared.reset();
      result.messages.push_back(std::move(d.message));
      result.frames.emplace_back(base + pos, d.consumed);
      pos += d.consumed;
    }
    buffer.erase(0, pos);
    base += pos;
  }
  result.pending = buffer.size();
  result.declared = declared;
  return result;
}

DecodedStream CheckPackerInvariants(const Packer& packer, const SplitInput& input,
                                    const PackerCheckOptions& options) {
  const std::string_view stream = input.stream;
  DecodedStream whole = DecodeChunks(packer, Chunk(stream, {}));
  ExpectSameDecoding(whole, DecodeChunks(packer, Chunk(stream, input.chunk_lengths)),
                     "fuzzer's chunks");
  if (stream.size() <= options.byte_by_byte_limit) {
    ExpectSameDecoding(whole, DecodeChunks(packer, Chunk(stream, {1})), "byte by byte");
  }
  for (size_t i = 0; i < whole.messages.size(); ++i) {
    CheckFrameRoundTrip(packer, whole.messages[i],
                        stream.substr(whole.frames[i].first, whole.frames[i].second),
                        options.canonical_encoding);
  }
  return whole;
}

void CheckRoundTrip(const Packer& packer, const std::vector<OwnedMessage>& messages,
                    const std::vector<size_t>& chunk_lengths) {
  std::string stream;
  for (const OwnedMessage& m : messages) stream += Encoded(packer, m.id, m.body);
  for (const auto& lengths : {std::vector<size_t>{}, chunk_lengths, std::vector<size_t>{1}}) {
    DecodedStream d = DecodeChunks(packer, Chunk(stream, lengths));
    NETMAN_FUZZ_CHECK(d.error.ok(), "encoded messages fail to decode: %s",
                      d.error.ToString().c_str());
    NETMAN_FUZZ_CHECK(d.pending == 0, "%zu bytes left after decoding encoded messages",
                      d.pending);
    NETMAN_FUZZ_CHECK(d.messages == messages,
                      "decode(encode(messages)) returned %zu messages instead of %zu",
                      d.messages.size(), messages.size());
  }
}

std::vector<OwnedMessage> MessagesFromBytes(std::string_view bytes) {
  std::vector<OwnedMessage> messages;
  while (!bytes.empty() && messages.size() < 64) {
    OwnedMessage m;
    for (int i = 0; i < 4 && !bytes.empty(); ++i) {
      m.id |= uint32_t{static_cast<unsigned char>(bytes[0])} << (8 * i);
      bytes.remove_prefix(1);
    }
    size_t length = 0;
    if (!bytes.empty()) {
      length = static_cast<unsigned char>(bytes[0]);
      bytes.remove_prefix(1);
    }
    length = std::min(length, bytes.size());
    m.body = std::string(bytes.substr(0, length));
    bytes.remove_prefix(length);
    messages.push_back(std::move(m));
  }
  return messages;
}

}  // namespace netman::fuzz
