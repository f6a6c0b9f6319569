// Copyright netman authors.
#include "tools/loadgen/protocol.h"

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace netman::loadgen {
namespace {

constexpr size_t kSeqBytes = 8;

inline uint32_t LoadLe32(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(b[0]) | static_cast<uint32_t>(b[1]) << 8 |
         static_cast<uint32_t>(b[2]) << 16 | static_cast<uint32_t>(b[3]) << 24;
}

inline void StoreLe32(uint32_t v, char* p) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

inline char SeqByte(uint64_t seq, size_t offset) {
  return static_cast<char>(seq >> (8 * offset));
}

// The body every request carries: the sequence number in its first bytes,
// then a pattern that differs from one byte to the next.
class Body {
 public:
  explicit Body(size_t size) : pattern_(size, '\0') {
    for (size_t i = 0; i < size; ++i) {
      pattern_[i] = static_cast<char>('A' + (i * 7 + i / 251) % 58);
    }
  }

  size_t size() const { return pattern_.size(); }

  void Write(uint64_t seq, char* out) const {
    std::memcpy(out, pattern_.data(), pattern_.size());
    const size_t n = std::min(kSeqBytes, pattern_.size());
    for (size_t i = 0; i < n; ++i) out[i] = SeqByte(seq, i);
  }

  // Checks body bytes [offset, offset + n) of the reply to request `seq`.
  bool Matches(uint64_t seq, size_t offset, const char* data, size_t n) const {
    const size_t seq_bytes = std::min(kSeqBytes, pattern_.size());
    while (n > 0 && offset < seq_bytes) {
      if (*data != SeqByte(seq, offset)) return false;
      ++data;
      ++offset;
      --n;
    }
    return n == 0 || std::memcmp(data, pattern_.data() + offset, n) == 0;
  }

 private:
  std::string pattern_;
};

absl::Status ContentMismatch(uint64_t seq, uint64_t offset) {
  return absl::DataLossError(absl::StrCat(
      "reply ", seq, ": body differs from the request at or after byte ",
      offset));
}

class NetmanProtocol final : public Protocol {
 public:
  static constexpr size_t kHeaderSize = 8;

  explicit NetmanProtocol(const ProtocolOptions& options)
      : id_(options.id), verify_(options.verify_content), body_(options.size) {}

  std::string_view name() const override { return "netman"; }
  size_t request_size() const override { return kHeaderSize + body_.size(); }
  size_t reply_size() const override { return request_size(); }

  void EncodeRequests(uint64_t first_seq, size_t count,
                      char* out) const override {
    for (size_t i = 0; i < count; ++i) {
      StoreLe32(static_cast<uint32_t>(body_.size()), out);
      StoreLe32(id_, out + 4);
      body_.Write(first_seq + i, out + kHeaderSize);
      out += request_size();
    }
  }

  absl::StatusOr<uint64_t> Consume(ReplyCursor& c, const char* data,
                                   size_t n) const override {
    uint64_t done = 0;
    size_t pos = 0;
    while (pos < n) {
      if (c.header_got < kHeaderSize) {
        const char* header;
        if (c.header_got == 0 && n - pos >= kHeaderSize) {
          header = data + pos;  // the common case: parse in place
          pos += kHeaderSize;
        } else {
          const size_t take = std::min(kHeaderSize - c.header_got, n - pos);
          std::memcpy(c.header.data() + c.header_got, data + pos, take);
          c.header_got += static_cast<uint32_t>(take);
          pos += take;
          if (c.header_got < kHeaderSize) break;
          header = c.header.data();
        }
        c.header_got = kHeaderSize;
        const uint32_t length = LoadLe32(header);
        const uint32_t id = LoadLe32(header + 4);
        if (length != body_.size() || id != id_) {
          return absl::DataLossError(absl::StrCat(
              "reply ", c.next_seq, ": header says id ", id, " length ", length,
              ", expected id ", id_, " length ", body_.size()));
        }
        c.body_len = length;
        c.body_got = 0;
      }
      const size_t take = static_cast<size_t>(
          std::min<uint64_t>(c.body_len - c.body_got, n - pos));
      if (verify_ && take > 0 &&
          !body_.Matches(c.next_seq, c.body_got, data + pos, take)) {
        return ContentMismatch(c.next_seq, c.body_got);
      }
      c.body_got += take;
      pos += take;
      if (c.body_got == c.body_len) {
        ++done;
        ++c.next_seq;
        c.header_got = 0;
        c.body_got = 0;
      }
    }
    return done;
  }

 private:
  const uint32_t id_;
  const bool verify_;
  const Body body_;
};

class RawProtocol final : public Protocol {
 public:
  explicit RawProtocol(const ProtocolOptions& options)
      : verify_(options.verify_content), body_(options.size) {}

  std::string_view name() const override { return "raw"; }
  size_t request_size() const override { return body_.size(); }
  size_t reply_size() const override { return body_.size(); }

  void EncodeRequests(uint64_t first_seq, size_t count,
                      char* out) const override {
    for (size_t i = 0; i < count; ++i)
      body_.Write(first_seq + i, out + i * body_.size());
  }

  absl::StatusOr<uint64_t> Consume(ReplyCursor& c, const char* data,
                                   size_t n) const override {
    uint64_t done = 0;
    size_t pos = 0;
    const size_t chunk = body_.size();
    while (pos < n) {
      const size_t take = std::min<size_t>(chunk - c.body_got, n - pos);
      if (verify_ && !body_.Matches(c.next_seq, c.body_got, data + pos, take)) {
        return ContentMismatch(c.next_seq, c.body_got);
      }
      c.body_got += take;
      pos += take;
      if (c.body_got == chunk) {
        ++done;
        ++c.next_seq;
        c.body_got = 0;
      }
    }
    return done;
  }

 private:
  const bool verify_;
  const Body body_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Protocol>> CreateProtocol(
    std::string_view mode, const ProtocolOptions& options) {
  if (mode == "netman") {
    if (options.size > UINT32_MAX) {
      return absl::InvalidArgumentError(
          "--size must fit in 32 bits for --mode=netman");
    }
    return std::unique_ptr<Protocol>(new NetmanProtocol(options));
  }
  if (mode == "raw") {
    if (options.size == 0) {
      return absl::InvalidArgumentError(
          "--mode=raw needs --size of at least 1");
    }
    return std::unique_ptr<Protocol>(new RawProtocol(options));
  }
  if (mode == "ws") {
    // The extension point: a WebSocket Protocol lands with netman's
    // WebSocket support (issue 4 asks for it then).
    return absl::UnimplementedError(
        "--mode=ws (WebSocket) is not yet supported: netman has no WebSocket "
        "server yet; use --mode=netman or --mode=raw");
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown --mode=", std::string(mode), " (want netman, raw or ws)"));
}

}  // namespace netman::loadgen
