// Copyright netman authors.
#include "tools/loadgen/protocol.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "netman/ws/websocket_wire.h"

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
// then a pattern that differs from one byte to the next; or, with a fixed
// body (--body_hex), those bytes for every request.
class Body {
 public:
  Body(size_t size, const std::optional<std::string>& fixed)
      : pattern_(fixed.value_or(std::string(size, '\0'))),
        seq_bytes_(fixed.has_value() ? 0 : std::min(kSeqBytes, size)) {
    if (fixed.has_value()) return;
    for (size_t i = 0; i < size; ++i) {
      pattern_[i] = static_cast<char>('A' + (i * 7 + i / 251) % 58);
    }
  }

  size_t size() const { return pattern_.size(); }

  void Write(uint64_t seq, char* out) const {
    std::memcpy(out, pattern_.data(), pattern_.size());
    for (size_t i = 0; i < seq_bytes_; ++i) out[i] = SeqByte(seq, i);
  }

  // Checks body bytes [offset, offset + n) of the reply to request `seq`.
  bool Matches(uint64_t seq, size_t offset, const char* data, size_t n) const {
    while (n > 0 && offset < seq_bytes_) {
      if (*data != SeqByte(seq, offset)) return false;
      ++data;
      ++offset;
      --n;
    }
    return n == 0 || std::memcmp(data, pattern_.data() + offset, n) == 0;
  }

 private:
  std::string pattern_;
  size_t seq_bytes_;  // leading bytes carrying the sequence number
};

absl::Status ContentMismatch(uint64_t seq, uint64_t offset) {
  return absl::DataLossError(absl::StrCat(
      "reply ", seq, ": body differs from the request at or after byte ",
      offset));
}

// What every mode's Protocol has: the body each request and reply carries
// (compared byte for byte with `verify_content`), and for modes whose replies
// have a header (netman, ws) how a reply stream is read.
class BodyProtocol : public Protocol {
 protected:
  explicit BodyProtocol(const ProtocolOptions& options)
      : verify_(options.verify_content), body_(options.size, options.body) {}

  // Consume() for replies that are a header of `header_size` bytes (1 to
  // 16), which `check_header(header)` accepts with absl::OkStatus() or
  // refuses with the error to return, then a body of body_.size() bytes. A
  // header is parsed in place when it is all in `data` (the common case),
  // else gathered in c.header. Inlined into each Consume(), as the loops it
  // replaced were.
  template <typename CheckHeader>
  ABSL_ATTRIBUTE_ALWAYS_INLINE absl::StatusOr<uint64_t> ConsumeReplies(
      uint32_t header_size, const CheckHeader& check_header, ReplyCursor& c,
      const char* data, size_t n) const {
    uint64_t done = 0;
    size_t pos = 0;
    while (pos < n) {
      if (c.header_got < header_size) {
        const char* header;
        if (c.header_got == 0 && n - pos >= header_size) {
          header = data + pos;  // the common case: parse in place
          pos += header_size;
        } else {
          const size_t take =
              std::min<size_t>(header_size - c.header_got, n - pos);
          std::memcpy(c.header.data() + c.header_got, data + pos, take);
          c.header_got += static_cast<uint32_t>(take);
          pos += take;
          if (c.header_got < header_size) break;
          header = c.header.data();
        }
        c.header_got = header_size;
        absl::Status checked = check_header(header);
        if (!checked.ok()) return checked;
        c.body_len = body_.size();
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

  const bool verify_;
  const Body body_;
};

class NetmanProtocol final : public BodyProtocol {
 public:
  static constexpr size_t kHeaderSize = 8;

  explicit NetmanProtocol(const ProtocolOptions& options)
      : BodyProtocol(options), id_(options.id) {}

  std::string_view name() const override { return "netman"; }
  size_t request_size() const override { return kHeaderSize + body_.size(); }
  size_t reply_size() const override { return request_size(); }

  void EncodeRequests(uint64_t first_seq, size_t count, uint32_t mask_key,
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
    return ConsumeReplies(
        kHeaderSize,
        [&](const char* header) {
          const uint32_t length = LoadLe32(header);
          const uint32_t id = LoadLe32(header + 4);
          if (length != body_.size() || id != id_) {
            return absl::DataLossError(absl::StrCat(
                "reply ", c.next_seq, ": header says id ", id, " length ",
                length, ", expected id ", id_, " length ", body_.size()));
          }
          return absl::OkStatus();
        },
        c, data, n);
  }

 private:
  const uint32_t id_;
};

class RawProtocol final : public BodyProtocol {
 public:
  explicit RawProtocol(const ProtocolOptions& options)
      : BodyProtocol(options) {}

  std::string_view name() const override { return "raw"; }
  size_t request_size() const override { return body_.size(); }
  size_t reply_size() const override { return body_.size(); }

  void EncodeRequests(uint64_t first_seq, size_t count, uint32_t mask_key,
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
};

// --- WebSocket (RFC 6455) ----------------------------------------------------

using websocket_wire::AcceptFor;
using websocket_wire::Base64;
using websocket_wire::EncodeFrameHeader;
using websocket_wire::HasHeaderToken;
using websocket_wire::kFin;
using websocket_wire::kMaskBit;
using websocket_wire::kMaskKeySize;
using websocket_wire::kOpBinary;
using websocket_wire::MaskCopy;
using websocket_wire::StoreMaskKey;

// The longest opening response accepted (status line and headers).
constexpr size_t kMaxOpeningResponse = 8192;

const char* OpcodeName(uint8_t opcode) {
  switch (opcode) {
    case 0x0:
      return "continuation";
    case 0x1:
      return "text";
    case 0x2:
      return "binary";
    case 0x8:
      return "close";
    case 0x9:
      return "ping";
    case 0xa:
      return "pong";
    default:
      return "reserved";
  }
}

// "FIN=1 opcode 0x2 (binary) unmasked length 64" from the first `n` bytes of
// a frame header (n >= 2; a length whose extension is not among them is
// shown by its 7-bit code).
std::string DescribeFrameHeader(const char* h, size_t n) {
  const auto b0 = static_cast<uint8_t>(h[0]);
  const auto b1 = static_cast<uint8_t>(h[1]);
  const uint8_t opcode = b0 & 0x0f;
  std::string length;
  const uint8_t code = b1 & netman::websocket_wire::kLengthMask;
  if (code <= 125) {
    length = absl::StrCat(static_cast<int>(code));
  } else if (code == 126 && n >= 4) {
    length = absl::StrCat(static_cast<uint8_t>(h[2]) << 8 |
                          static_cast<uint8_t>(h[3]));
  } else if (code == 127 && n >= 10) {
    uint64_t len = 0;
    for (int i = 0; i < 8; ++i) len = len << 8 | static_cast<uint8_t>(h[2 + i]);
    length = absl::StrCat(len);
  } else {
    length = absl::StrCat("code ", static_cast<int>(code));
  }
  return absl::StrFormat("FIN=%d%s opcode 0x%x (%s) %s length %s",
                         (b0 & kFin) ? 1 : 0, (b0 & 0x70) ? " RSV set" : "",
                         opcode, OpcodeName(opcode),
                         (b1 & kMaskBit) ? "masked" : "unmasked", length);
}

// A short, printable excerpt of peer text for error messages.
std::string Excerpt(absl::string_view s) {
  return absl::CEscape(s.substr(0, 80));
}

// The client side of the opening handshake (RFC 6455 4.1).
class WsOpening final : public Opening {
 public:
  WsOpening(std::string_view path, std::string_view host,
            const std::array<uint8_t, 16>& nonce)
      : key_(Base64(nonce.data(), nonce.size())),
        accept_(AcceptFor(key_)),
        request_(absl::StrCat("GET ", std::string(path),
                              " HTTP/1.1\r\nHost: ", std::string(host),
                              "\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\n"
                              "Sec-WebSocket-Key: ",
                              key_, "\r\nSec-WebSocket-Version: 13\r\n\r\n")) {}

  std::string_view request() const override { return request_; }
  bool done() const override { return done_; }

  absl::StatusOr<size_t> Feed(const char* data, size_t n) override {
    if (done_) return 0;
    const size_t old = response_.size();
    // Only what can still belong to the headers is kept.
    response_.append(data, std::min(n, kMaxOpeningResponse + 1 - old));
    const size_t end = response_.find("\r\n\r\n", old >= 3 ? old - 3 : 0);
    if (end == std::string::npos) {
      if (response_.size() > kMaxOpeningResponse) {
        return absl::DataLossError(absl::StrCat(
            "ws handshake: no end of the response headers within ",
            kMaxOpeningResponse, " bytes: \"", Excerpt(response_), "\""));
      }
      return n;
    }
    response_.resize(end + 4);
    absl::Status s = Check();
    if (!s.ok()) return s;
    done_ = true;
    const size_t used = response_.size() - old;
    std::string().swap(response_);
    return used;
  }

 private:
  absl::Status Check() const {
    std::vector<absl::string_view> lines = absl::StrSplit(
        absl::string_view(response_.data(), response_.size() - 4), "\r\n");
    const absl::string_view status_line = lines[0];
    // "HTTP/1.1 101 Switching Protocols"
    int status = 0;
    if (!absl::StartsWith(status_line, "HTTP/1.") || status_line.size() < 12 ||
        status_line[8] != ' ' || !absl::ascii_isdigit(status_line[9]) ||
        !absl::ascii_isdigit(status_line[10]) ||
        !absl::ascii_isdigit(status_line[11]) ||
        (status_line.size() > 12 && status_line[12] != ' ')) {
      return absl::DataLossError(
          absl::StrCat("ws handshake: not an HTTP response: \"",
                       Excerpt(status_line), "\""));
    }
    status = (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 +
             (status_line[11] - '0');
    if (status != 101) {
      return absl::DataLossError(
          absl::StrCat("ws handshake: server answered \"", Excerpt(status_line),
                       "\", expected status 101"));
    }
    bool upgrade = false, connection = false;
    absl::string_view accept;
    bool have_accept = false;
    for (size_t i = 1; i < lines.size(); ++i) {
      const size_t colon = lines[i].find(':');
      if (colon == absl::string_view::npos || colon == 0) {
        return absl::DataLossError(absl::StrCat(
            "ws handshake: malformed header line \"", Excerpt(lines[i]), "\""));
      }
      const absl::string_view name = lines[i].substr(0, colon);
      // (This abseil's string_view is its own type, not std::string_view.)
      const absl::string_view value =
          absl::StripAsciiWhitespace(lines[i].substr(colon + 1));
      const std::string_view std_value(value.data(), value.size());
      if (absl::EqualsIgnoreCase(name, "Upgrade")) {
        upgrade = upgrade || HasHeaderToken(std_value, "websocket");
      } else if (absl::EqualsIgnoreCase(name, "Connection")) {
        connection = connection || HasHeaderToken(std_value, "upgrade");
      } else if (absl::EqualsIgnoreCase(name, "Sec-WebSocket-Accept")) {
        if (have_accept) {
          return absl::DataLossError(
              "ws handshake: more than one Sec-WebSocket-Accept header");
        }
        have_accept = true;
        accept = value;
      } else if ((absl::EqualsIgnoreCase(name, "Sec-WebSocket-Extensions") ||
                  absl::EqualsIgnoreCase(name, "Sec-WebSocket-Protocol")) &&
                 !value.empty()) {
        return absl::DataLossError(absl::StrCat(
            "ws handshake: the server chose ", std::string(name), ": \"",
            Excerpt(value), "\", which the client did not offer"));
      }
    }
    if (!upgrade) {
      return absl::DataLossError(
          "ws handshake: the 101 response has no \"Upgrade: websocket\"");
    }
    if (!connection) {
      return absl::DataLossError(
          "ws handshake: the 101 response has no \"Connection: Upgrade\"");
    }
    if (!have_accept) {
      return absl::DataLossError(
          "ws handshake: the 101 response has no Sec-WebSocket-Accept");
    }
    if (accept != accept_) {
      return absl::DataLossError(
          absl::StrCat("ws handshake: Sec-WebSocket-Accept is \"",
                       Excerpt(accept), "\", expected \"", accept_, "\""));
    }
    return absl::OkStatus();
  }

  const std::string key_;
  const std::string accept_;
  const std::string request_;
  std::string response_;  // the response so far
  bool done_ = false;
};

class WsProtocol final : public BodyProtocol {
 public:
  explicit WsProtocol(const ProtocolOptions& options)
      : BodyProtocol(options), path_(options.ws_path), host_(options.ws_host) {
    header_size_ = EncodeFrameHeader(kFin | kOpBinary, options.size,
                                     /*masked=*/false, reply_header_.data());
  }

  std::string_view name() const override { return "ws"; }
  size_t request_size() const override {
    return header_size_ + kMaskKeySize + body_.size();
  }
  size_t reply_size() const override { return header_size_ + body_.size(); }
  bool masks_requests() const override { return true; }

  void EncodeRequests(uint64_t first_seq, size_t count, uint32_t mask_key,
                      char* out) const override {
    for (size_t i = 0; i < count; ++i) {
      std::memcpy(out, reply_header_.data(), header_size_);
      out[1] = static_cast<char>(out[1] | kMaskBit);
      StoreMaskKey(mask_key, out + header_size_);
      char* payload = out + header_size_ + kMaskKeySize;
      body_.Write(first_seq + i, payload);
      MaskCopy(payload, payload, body_.size(), mask_key);
      out += request_size();
    }
  }

  std::unique_ptr<Opening> NewOpening(
      const std::array<uint8_t, 16>& nonce) const override {
    return std::make_unique<WsOpening>(path_, host_, nonce);
  }

  // Every reply must be the frame header of an unmasked, unfragmented binary
  // frame of the request's length, in its shortest form: one fixed byte
  // string, compared as a whole.
  absl::StatusOr<uint64_t> Consume(ReplyCursor& c, const char* data,
                                   size_t n) const override {
    const uint32_t header_size = static_cast<uint32_t>(header_size_);
    return ConsumeReplies(
        header_size,
        [&](const char* header) {
          if (std::memcmp(header, reply_header_.data(), header_size) != 0) {
            return absl::DataLossError(absl::StrCat(
                "reply ", c.next_seq, ": frame ",
                DescribeFrameHeader(header, header_size), ", expected ",
                DescribeFrameHeader(reply_header_.data(), header_size)));
          }
          return absl::OkStatus();
        },
        c, data, n);
  }

 private:
  const std::string path_;
  const std::string host_;
  std::array<char, 10> reply_header_{};
  size_t header_size_ = 0;
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
    const std::string& path = options.ws_path;
    const bool path_ok = !path.empty() && path[0] == '/' &&
                         std::none_of(path.begin(), path.end(), [](char ch) {
                           const auto u = static_cast<unsigned char>(ch);
                           return u <= 0x20 || u == 0x7f;
                         });
    if (!path_ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--ws_path must start with '/' and hold no spaces or control "
          "characters: \"",
          absl::CEscape(path), "\""));
    }
    return std::unique_ptr<Protocol>(new WsProtocol(options));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown --mode=", std::string(mode), " (want netman, raw or ws)"));
}

}  // namespace netman::loadgen
