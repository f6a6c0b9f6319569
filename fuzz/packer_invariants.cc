// Copyright netman authors.
//
// Speed: a fuzz target calls these once per input, over 10,000 times a
// second, and they decode streams byte by byte, so they are written to be
// cheap under ASan+UBSan:
//   * no allocation per Decode() call and, in the steady state, none per
//     input (under ASan each allocation records a stack trace, and libFuzzer
//     re-runs every input that allocates more than it frees, looking for a
//     leak). A stream is copied once into a reused block whose bytes past
//     what has "arrived" are poisoned for ASan (FencedBytes); bodies are views
//     into the caller's bytes; the chunked decodes are compared with the
//     whole-stream decode as they go instead of being collected; frames are
//     re-encoded into a reused Buffer; containers are reused and only grow.
//   * this is the fuzz target's own code (NETMAN_FUZZ_NO_COVERAGE), so it
//     does not feed libFuzzer coverage or compare tracing.
#include "fuzz/packer_invariants.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <span>
#include <utility>

#include "absl/status/statusor.h"
#include "fuzz/check.h"
#include "netman/buffer/buffer.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NETMAN_FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define NETMAN_FUZZ_ASAN 1
#endif
#ifdef NETMAN_FUZZ_ASAN
#include <sanitizer/asan_interface.h>
#endif

NETMAN_FUZZ_NO_COVERAGE_BEGIN

namespace netman::fuzz {
namespace {

// A reused heap block holding a copy of some bytes, of which only a prefix
// is addressable: under ASan everything after it is poisoned, so a Decode()
// that reads one byte past its input is reported exactly as with an
// exact-size heap copy of the input (as "use-after-poison" instead of
// "heap-buffer-overflow"), without allocating one per call. Without ASan it
// is a plain copy.
class FencedBytes {
 public:
  FencedBytes() = default;
  FencedBytes(const FencedBytes&) = delete;
  FencedBytes& operator=(const FencedBytes&) = delete;
  ~FencedBytes() { Unpoison(0, capacity_); }

  // Copies `bytes` in and makes the first `visible` of them addressable.
  // Returns where they are.
  const char* Load(std::string_view bytes, size_t visible) {
    Reserve(bytes.size());
    Show(bytes.size());
    if (!bytes.empty()) std::memcpy(block_.get(), bytes.data(), bytes.size());
    Show(visible);
    return block_.get();
  }
  // Makes the first `n` bytes addressable and every later one not.
  void Show(size_t n) {
    if (n > visible_) Unpoison(visible_, n - visible_);
    if (n < visible_) Poison(n, visible_ - n);
    visible_ = n;
  }

 private:
  void Reserve(size_t n) {
    if (n <= capacity_ && block_ != nullptr) return;
    Unpoison(0, capacity_);
    // A multiple of ASan's 8-byte granule, so the fence is byte-exact.
    capacity_ = std::max<size_t>(64, (std::max(n, 2 * capacity_) + 7) & ~size_t{7});
    block_.reset(new char[capacity_]);
    Poison(0, capacity_);
    visible_ = 0;
  }
  void Poison(size_t offset, size_t n) {
#ifdef NETMAN_FUZZ_ASAN
    if (n > 0) ASAN_POISON_MEMORY_REGION(block_.get() + offset, n);
#endif
  }
  void Unpoison(size_t offset, size_t n) {
#ifdef NETMAN_FUZZ_ASAN
    if (n > 0) ASAN_UNPOISON_MEMORY_REGION(block_.get() + offset, n);
#endif
  }

  std::unique_ptr<char[]> block_;
  size_t capacity_ = 0;
  size_t visible_ = 0;
};

// One Decode() result; the body is a view into the decoded input.
struct Decoded {
  absl::Status status;
  bool complete;
  bool has_declared;
  uint32_t id;
  size_t consumed;
  uint64_t declared;
  const char* body_data;
  size_t body_size;

  std::string_view body() const { return std::string_view(body_data, body_size); }
};

// Two Decode() results for the same input are the same: equal fields, the
// body at the same place (hence with the same bytes).
bool SameResult(const DecodeResult& a, const DecodeResult& b) {
  if (a.complete != b.complete || a.consumed != b.consumed ||
      a.declared_body_length.has_value() != b.declared_body_length.has_value()) {
    return false;
  }
  if (a.declared_body_length.has_value() && *a.declared_body_length != *b.declared_body_length) {
    return false;
  }
  if (!a.complete) return true;
  const size_t size = a.message.body.size();
  return a.message.id == b.message.id && size == b.message.body.size() &&
         (size == 0 || a.message.body.data() == b.message.body.data());
}

// Decode() twice on `size` bytes at `data`, after which nothing is
// addressable (FencedBytes), so ASan sees an over-read; checks the results.
//
// This runs twice per byte fed, so it is written for speed under the
// sanitizers: the DecodeResults are reused (a fresh one per call would be
// zeroed with a memset, which ASan turns into a checked runtime call), only
// the fields the checks interpret are reset, and std::optional and
// std::string_view members are used sparingly (library templates are
// instrumented for coverage, not being inside NETMAN_FUZZ_NO_COVERAGE, and
// called out of line).
Decoded CheckedDecode(const Packer& packer, const char* data, size_t size) {
  static DecodeResult* const results = new DecodeResult[2];
  DecodeResult& a = results[0];
  DecodeResult& b = results[1];
  for (DecodeResult* r : {&a, &b}) {
    r->complete = false;
    r->consumed = 0;
    if (r->declared_body_length.has_value()) r->declared_body_length.reset();
  }
  const std::string_view input(data, size);
  absl::Status status = packer.Decode(input, &a);
  const absl::Status again = packer.Decode(input, &b);
  NETMAN_FUZZ_CHECK(status == again && (!status.ok() || SameResult(a, b)),
                    "Decode() is not deterministic on %zu bytes", size);
  const bool ok = status.ok();
  Decoded d;
  d.status = std::move(status);
  // (Every field from a value, not a constant: the compiler would merge
  // constant stores into a memset.)
  d.complete = ok && a.complete;
  d.consumed = ok ? a.consumed : size_t{0};
  d.has_declared = ok && a.declared_body_length.has_value();
  d.declared = d.has_declared ? *a.declared_body_length : uint64_t{0};
  d.id = d.complete ? a.message.id : uint32_t{0};
  d.body_data = d.complete ? a.message.body.data() : nullptr;
  d.body_size = d.complete ? a.message.body.size() : size_t{0};
  if (!ok) return d;
  if (d.complete) {
    NETMAN_FUZZ_CHECK(d.consumed >= 1 && d.consumed <= size,
                      "complete frame consumed %zu of %zu bytes", d.consumed, size);
    if (d.body_size != 0) {
      NETMAN_FUZZ_CHECK(d.body_data >= data && d.body_data + d.body_size <= data + d.consumed,
                        "body (%zu bytes at offset %td) is outside the %zu-byte frame",
                        d.body_size, d.body_data - data, d.consumed);
    }
  } else {
    NETMAN_FUZZ_CHECK(d.consumed == 0, "incomplete frame consumed %zu bytes", d.consumed);
  }
  return d;
}

// How a chunked decode ended.
struct StreamEnd {
  size_t messages = 0;
  absl::Status error;
  size_t pending = 0;
  std::optional<uint64_t> declared;
};

// Decodes `stream` the way a connection feeds a packer: chunks of `lengths`
// (cycling; empty: the stream in one piece) are appended to what is kept,
// and Decode() runs on everything received and not consumed until it needs
// more. Checks every call (see the header) and calls
// on_message(message, frame_offset, frame_size) for each complete frame, the
// body a view into `stream` itself.
template <typename OnMessage>
StreamEnd DecodeStream(const Packer& packer, std::string_view stream,
                       std::span<const size_t> lengths, OnMessage&& on_message) {
  static FencedBytes* const block = new FencedBytes();
  const char* const data = block->Load(stream, 0);
  StreamEnd end;
  size_t base = 0;      // stream offset of the first byte not consumed
  size_t received = 0;  // stream bytes fed so far
  bool has_declared = false;  // the frame at `base` declared a body length
  uint64_t declared = 0;
  Chunker chunks(stream, lengths);
  for (std::string_view chunk; chunks.Next(chunk);) {
    received += chunk.size();
    block->Show(received);  // every Decode() below sees input ending there
    while (true) {
      const Decoded d = CheckedDecode(packer, data + base, received - base);
      if (!d.status.ok()) {
        end.error = d.status;
        return end;
      }
      if (!d.complete) {
        if (d.has_declared) {
          NETMAN_FUZZ_CHECK(!has_declared || declared == d.declared,
                            "frame at offset %zu declared %llu, now %llu", base,
                            static_cast<unsigned long long>(declared),
                            static_cast<unsigned long long>(d.declared));
          has_declared = true;
          declared = d.declared;
        }
        break;
      }
      if (has_declared) {
        NETMAN_FUZZ_CHECK(d.body_size == declared,
                          "frame at offset %zu declared %llu body bytes and has %zu", base,
                          static_cast<unsigned long long>(declared), d.body_size);
      }
      has_declared = false;
      const size_t body_offset = d.body_size == 0 ? base : static_cast<size_t>(d.body_data - data);
      on_message(Message{d.id, stream.substr(body_offset, d.body_size)}, base, d.consumed);
      ++end.messages;
      base += d.consumed;
    }
  }
  end.pending = received - base;
  if (has_declared) end.declared = declared;
  return end;
}

// Decodes `stream` in chunks of `lengths` and checks that it gives what the
// whole stream gave.
void ExpectSameDecoding(const Packer& packer, const DecodedStream& whole,
                        std::string_view stream, std::span<const size_t> lengths,
                        const char* what) {
  size_t i = 0;
  const StreamEnd end = DecodeStream(
      packer, stream, lengths, [&](const Message& m, size_t offset, size_t size) {
        NETMAN_FUZZ_CHECK(i < whole.messages.size(),
                          "%s: more than the %zu messages of the whole stream", what,
                          whole.messages.size());
        NETMAN_FUZZ_CHECK(m.id == whole.messages[i].id && m.body == whole.messages[i].body,
                          "%s: message %zu differs", what, i);
        NETMAN_FUZZ_CHECK(whole.frames[i] == std::make_pair(offset, size),
                          "%s: frame %zu has another extent", what, i);
        ++i;
      });
  NETMAN_FUZZ_CHECK(end.messages == whole.messages.size(),
                    "%s: %zu messages, whole stream: %zu", what, end.messages,
                    whole.messages.size());
  NETMAN_FUZZ_CHECK(whole.error.code() == end.error.code(),
                    "%s: ends with %s, whole stream: %s", what, end.error.ToString().c_str(),
                    whole.error.ToString().c_str());
  if (whole.error.ok()) {
    NETMAN_FUZZ_CHECK(whole.pending == end.pending, "%s: %zu pending bytes, whole stream: %zu",
                      what, end.pending, whole.pending);
    NETMAN_FUZZ_CHECK(whole.declared == end.declared,
                      "%s: the incomplete frame declares another length", what);
  }
}

// Encode() into `out`, cleared first.
std::string_view EncodeInto(const Packer& packer, uint32_t id, std::string_view body,
                            Buffer& out) {
  out.Clear();
  packer.Encode(id, body, out);
  return out.readable();
}

void CheckFrameRoundTrip(const Packer& packer, const Message& m,
                         std::string_view original_frame, bool canonical) {
  static FencedBytes* const block = new FencedBytes();
  static Buffer* const encoded = new Buffer();
  const std::string_view frame = EncodeInto(packer, m.id, m.body, *encoded);
  const char* const data = block->Load(frame, frame.size());
  const Decoded d = CheckedDecode(packer, data, frame.size());
  NETMAN_FUZZ_CHECK(d.status.ok() && d.complete,
                    "Encode(%u, %zu-byte body) does not decode: %s", m.id, m.body.size(),
                    d.status.ToString().c_str());
  NETMAN_FUZZ_CHECK(d.consumed == frame.size(), "decoding %zu encoded bytes consumed %zu",
                    frame.size(), d.consumed);
  NETMAN_FUZZ_CHECK(d.id == m.id && d.body() == m.body, "decode(encode(x)) != x for id %u",
                    m.id);
  if (canonical) {
    NETMAN_FUZZ_CHECK(frame == original_frame,
                      "re-encoding a decoded message changed its bytes (%zu -> %zu)",
                      original_frame.size(), frame.size());
  }
  for (size_t cut : {size_t{0}, frame.size() / 2, frame.size() - 1}) {
    if (cut >= frame.size()) continue;
    block->Show(cut);  // the prefix ends where the addressable bytes end
    const Decoded p = CheckedDecode(packer, data, cut);
    NETMAN_FUZZ_CHECK(p.status.ok() && !p.complete,
                      "a %zu-byte prefix of a %zu-byte frame decodes as complete or fails",
                      cut, frame.size());
  }
}

}  // namespace

std::string Encoded(const Packer& packer, uint32_t id, std::string_view body) {
  Buffer out;
  packer.Encode(id, body, out);
  return std::string(out.readable());
}

const DecodedStream& CheckPackerInvariants(const Packer& packer, const SplitInput& input,
                                           const PackerCheckOptions& options) {
  static DecodedStream* const reused = new DecodedStream();
  const std::string_view stream = input.stream;
  DecodedStream& whole = *reused;
  whole.messages.clear();
  whole.frames.clear();
  const StreamEnd end =
      DecodeStream(packer, stream, {}, [&](const Message& m, size_t offset, size_t size) {
        whole.messages.push_back(m);
        whole.frames.emplace_back(offset, size);
      });
  whole.error = end.error;
  whole.pending = end.pending;
  whole.declared = end.declared;
  // Chunkings that are the same as one already run are not run again.
  const size_t chunk_count = ChunkCount(stream, input.chunk_lengths);
  if (chunk_count > 1) {
    ExpectSameDecoding(packer, whole, stream, input.chunk_lengths, "fuzzer's chunks");
  }
  if (stream.size() <= options.byte_by_byte_limit && chunk_count < stream.size()) {
    ExpectSameDecoding(packer, whole, stream, kByteByByte, "byte by byte");
  }
  for (size_t i = 0; i < whole.messages.size(); ++i) {
    CheckFrameRoundTrip(packer, whole.messages[i],
                        stream.substr(whole.frames[i].first, whole.frames[i].second),
                        options.canonical_encoding);
  }
  return whole;
}

void CheckRoundTrip(const Packer& packer, std::span<const Message> messages,
                    std::span<const size_t> chunk_lengths) {
  static Buffer* const encoded = new Buffer();
  encoded->Clear();
  for (const Message& m : messages) packer.Encode(m.id, m.body, *encoded);
  const std::string_view stream = encoded->readable();
  auto decode = [&](std::span<const size_t> lengths) {
    size_t i = 0;
    const StreamEnd end =
        DecodeStream(packer, stream, lengths, [&](const Message& m, size_t, size_t) {
          NETMAN_FUZZ_CHECK(i < messages.size() && m.id == messages[i].id &&
                                m.body == messages[i].body,
                            "decode(encode(messages)): message %zu of %zu differs or is extra",
                            i, messages.size());
          ++i;
        });
    NETMAN_FUZZ_CHECK(end.error.ok(), "encoded messages fail to decode: %s",
                      end.error.ToString().c_str());
    NETMAN_FUZZ_CHECK(end.pending == 0, "%zu bytes left after decoding encoded messages",
                      end.pending);
    NETMAN_FUZZ_CHECK(end.messages == messages.size(),
                      "decode(encode(messages)) returned %zu messages instead of %zu",
                      end.messages, messages.size());
  };
  // Whole, in the fuzzer's chunks, byte by byte; chunkings that are the same
  // as one already run are not run again.
  decode({});
  const size_t chunk_count = ChunkCount(stream, chunk_lengths);
  if (chunk_count > 1) decode(chunk_lengths);
  if (chunk_count < stream.size()) decode(kByteByByte);
}

void CheckRoundTrip(const Packer& packer, std::string_view bytes,
                    std::span<const size_t> chunk_lengths) {
  static std::vector<Message>* const messages = new std::vector<Message>();
  MessagesFromBytes(bytes, *messages);
  CheckRoundTrip(packer, *messages, chunk_lengths);
}

std::vector<Message> MessagesFromBytes(std::string_view bytes) {
  std::vector<Message> messages;
  MessagesFromBytes(bytes, messages);
  return messages;
}

void MessagesFromBytes(std::string_view bytes, std::vector<Message>& messages) {
  messages.clear();
  while (!bytes.empty() && messages.size() < 64) {
    Message m;
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
    m.body = bytes.substr(0, length);
    bytes.remove_prefix(length);
    messages.push_back(m);
  }
}

}  // namespace netman::fuzz

NETMAN_FUZZ_NO_COVERAGE_END
