// Copyright netman authors.
//
// ws_echo_server: the WebSocket benchmark ceiling. A minimal epoll server
// that speaks just enough RFC 6455 to echo: what the kernel and the hardware
// allow for WebSocket echo, to compare a WebSocket server against the way
// epoll_echo_server.cc is the ceiling for netman's framing (loadgen
// --mode=ws measures both).
//
//   ws_echo_server --port=0 --threads=1        # prints "... listening on"
//
// What it speaks: an HTTP/1.1 upgrade on any path (GET, "Upgrade: websocket",
// a "Connection" header with the "Upgrade" token, "Sec-WebSocket-Version: 13"
// and a Sec-WebSocket-Key of 16 bytes) is answered with 101 Switching
// Protocols and its Sec-WebSocket-Accept; anything else with 400 (426 for
// another version) and a close. Then every text or binary message is echoed
// as an unmasked frame with the same opcode, a ping is answered with a pong,
// a pong is ignored, and a close is answered with a close (echoing its status
// code) before the connection is closed.
//
// A baseline, not a production server: only single-frame messages (a
// fragmented message, an unmasked client frame, RSV bits, an unknown opcode,
// a control frame over 125 bytes or a payload over --max_payload fail the
// connection: a close frame with status 1002, then the close), no UTF-8
// validation of text, no extensions or subprotocols, no timeouts. Peer input
// never crashes it, and any read split works (a handshake or a frame header
// across reads, several frames per read).
//
// What it does per readable connection, as epoll_echo_server.cc does: one
// read(2) of up to 256 KiB into a per-thread buffer; complete frames parsed
// in place; every reply (header encoded, payload unmasked while copied)
// appended to one per-thread output buffer; one write(2) for all of them.
// Only what cannot be handled now stays with the connection: the bytes of an
// incomplete handshake or frame, or replies the socket did not take (then
// reading pauses above 4 MiB of them). An idle connection is a 64-byte
// struct and nothing else.
//
// --threads=N runs N independent copies of the loop, each with its own
// SO_REUSEPORT listening socket (the kernel spreads connections over them).
//
// The loop, the buffers, the listeners and the threads are
// bare_epoll_server.h, shared with epoll_echo_server.cc; this file is the
// WebSocket part (the handshake and frame echo: WsEcho) and the flags.
//
// Threading: each loop thread owns its listening socket, epoll set and
// connections; nothing is shared between threads. SIGINT/SIGTERM end the
// process (no graceful close: it is a benchmark baseline).
#include <openssl/base64.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "tools/bench/bare_epoll_server.h"
#include "netman/ws/websocket_wire.h"

ABSL_FLAG(std::string, host, "0.0.0.0", "IPv4 address to listen on.");
ABSL_FLAG(int, port, 9001, "TCP port (0 = any free port).");
ABSL_FLAG(int, threads, 1, "Independent event loops (SO_REUSEPORT).");
ABSL_FLAG(uint64_t, max_payload, 64u << 20,
          "Largest accepted frame payload; larger fails the connection.");

namespace {

using netman::bench::OutputBuffer;
using netman::bench::ReadResult;
using netman::websocket_wire::kFin;
using netman::websocket_wire::kOpText;
using netman::websocket_wire::kOpBinary;
using netman::websocket_wire::kOpClose;
using netman::websocket_wire::kOpPing;
using netman::websocket_wire::kOpPong;
using netman::websocket_wire::AcceptFor;
using netman::websocket_wire::EncodeFrameHeader;
using netman::websocket_wire::EqualsIgnoreCase;
using netman::websocket_wire::HasHeaderToken;
using netman::websocket_wire::LoadMaskKey;
using netman::websocket_wire::MaskCopy;
using netman::websocket_wire::TrimSpaceAndTab;

// The longest upgrade request accepted (request line and headers).
constexpr size_t kMaxHandshake = 8192;

constexpr uint16_t kStatusProtocolError = 1002;

constexpr std::string_view kBadRequest =
    "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n"
    "Content-Length: 0\r\n\r\n";
constexpr std::string_view kUpgradeRequired =
    "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n"
    "Connection: close\r\nContent-Length: 0\r\n\r\n";

// --- the opening handshake (RFC 6455 4.2) ------------------------------------

// Checks an upgrade request (request line and headers, without the final
// empty line's CRLF) and returns its Sec-WebSocket-Key; on failure returns
// an empty key and sets `*refusal` to the HTTP response to send.
std::string_view ParseUpgrade(std::string_view request,
                              std::string_view* refusal) {
  *refusal = kBadRequest;
  const size_t eol = request.find("\r\n");
  const std::string_view request_line = request.substr(0, eol);
  // "GET <target> HTTP/1.1", the target without spaces.
  constexpr std::string_view kVersion = " HTTP/1.1";
  if (request_line.size() < 4 + 1 + kVersion.size() ||
      request_line.substr(0, 4) != "GET " ||
      request_line.substr(request_line.size() - kVersion.size()) != kVersion ||
      request_line.substr(4, request_line.size() - 4 - kVersion.size())
              .find(' ') != std::string_view::npos) {
    return {};
  }
  bool upgrade = false, connection = false, version = false,
       any_version = false;
  std::string_view key;
  std::string_view headers = eol == std::string_view::npos
                                 ? std::string_view()
                                 : request.substr(eol + 2);
  while (!headers.empty()) {
    const size_t end = headers.find("\r\n");
    const std::string_view line = headers.substr(0, end);
    headers = end == std::string_view::npos ? std::string_view()
                                            : headers.substr(end + 2);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return {};
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = TrimSpaceAndTab(line.substr(colon + 1));
    if (EqualsIgnoreCase(name, "Upgrade")) {
      upgrade = upgrade || HasHeaderToken(value, "websocket");
    } else if (EqualsIgnoreCase(name, "Connection")) {
      connection = connection || HasHeaderToken(value, "upgrade");
    } else if (EqualsIgnoreCase(name, "Sec-WebSocket-Version")) {
      any_version = true;
      version = version || value == "13";
    } else if (EqualsIgnoreCase(name, "Sec-WebSocket-Key")) {
      if (!key.empty()) return {};
      key = value;
    }
  }
  if (!upgrade || !connection) return {};
  if (!version) {
    if (any_version) *refusal = kUpgradeRequired;
    return {};
  }
  // The key must be the base64 of 16 bytes (24 characters).
  uint8_t nonce[18];
  size_t nonce_len = 0;
  if (key.size() != 24 ||
      !EVP_DecodeBase64(nonce, &nonce_len, sizeof(nonce),
                        reinterpret_cast<const uint8_t*>(key.data()),
                        key.size()) ||
      nonce_len != 16) {
    return {};
  }
  *refusal = {};
  return key;
}

// Writes the 101 response for `key` to `out` (at most kMaxResponse bytes);
// returns its size.
constexpr size_t kMaxResponse = 160;
size_t SwitchingProtocols(std::string_view key, char* out) {
  const std::string accept = AcceptFor(key);
  const int n = std::snprintf(out, kMaxResponse,
                              "HTTP/1.1 101 Switching Protocols\r\n"
                              "Upgrade: websocket\r\n"
                              "Connection: Upgrade\r\n"
                              "Sec-WebSocket-Accept: %s\r\n\r\n",
                              accept.c_str());
  return static_cast<size_t>(n);
}

// --- frames (RFC 6455 5.2) ---------------------------------------------------

enum class Parse { kNeedMore, kBad, kFrame };

// Size of a masked frame's header (mask key included) from its second byte.
size_t HeaderSize(uint8_t b1) {
  const uint8_t code = b1 & netman::websocket_wire::kLengthMask;
  return 2 + (code == 126 ? 2 : code == 127 ? 8 : 0) + 4;
}

// Looks at the `len` bytes of a client frame at `p`. kBad as soon as the
// bytes show a frame this server refuses; kFrame once the whole header is
// there (the payload may still be incomplete), with its size and the
// payload length.
Parse ParseHeader(const char* p, size_t len, uint64_t max_payload,
                  size_t* header_size, uint64_t* payload_len) {
  if (len == 0) return Parse::kNeedMore;
  const auto b0 = static_cast<uint8_t>(p[0]);
  const bool fin = (b0 & kFin) != 0;
  if ((b0 & 0x70) != 0) return Parse::kBad;  // RSV bits: no extensions
  switch (b0 & 0x0f) {
    case kOpText:
    case kOpBinary:
    case kOpClose:
    case kOpPing:
    case kOpPong:
      if (!fin) return Parse::kBad;  // fragmented: not supported / illegal
      break;
    default:
      return Parse::kBad;  // continuation (no fragmentation) or reserved
  }
  if (len < 2) return Parse::kNeedMore;
  const auto b1 = static_cast<uint8_t>(p[1]);
  if ((b1 & 0x80) == 0) return Parse::kBad;  // clients must mask
  const uint8_t code = b1 & netman::websocket_wire::kLengthMask;
  if ((b0 & 0x08) != 0 && code > 125) return Parse::kBad;  // control frame
  const size_t size = HeaderSize(b1);
  if (len < size) return Parse::kNeedMore;
  uint64_t payload = code;
  if (code == 126) {
    payload = static_cast<uint64_t>(static_cast<uint8_t>(p[2])) << 8 |
              static_cast<uint8_t>(p[3]);
  } else if (code == 127) {
    payload = 0;
    for (int i = 0; i < 8; ++i)
      payload = payload << 8 | static_cast<uint8_t>(p[2 + i]);
  }
  if (payload > max_payload) return Parse::kBad;  // also the 64-bit MSB rule
  *header_size = size;
  *payload_len = payload;
  return Parse::kFrame;
}

// The protocol for bare_epoll_server.h's Loop: the upgrade, then frame echo.
class WsEcho {
 public:
  struct ConnState {
    bool upgraded = false;  // the 101 went out: frames from now on
  };
  using Conn = netman::bench::Conn<ConnState>;

  explicit WsEcho(uint64_t max_payload) : max_payload_(max_payload) {}

  ReadResult OnRead(Conn& c, const char* p, size_t len,
                    OutputBuffer& out) const {
    if (!c.state.upgraded) {
      if (!Handshake(c, p, len, out) && !c.closing) {
        if (c.in.size() > kMaxHandshake) {  // no end of headers in sight
          return ReadResult::kClose;
        }
        return ReadResult::kReply;  // nothing to send yet
      }
    } else if (!c.in.empty()) {
      if (CompletePending(c, p, len, out) == Step::kBad) ProtocolError(c, out);
    }
    while (len > 0 && !c.closing) {
      size_t header_size = 0;
      uint64_t payload_len = 0;
      const Parse r =
          ParseHeader(p, len, max_payload_, &header_size, &payload_len);
      if (r == Parse::kBad) {
        ProtocolError(c, out);
        break;
      }
      if (r == Parse::kNeedMore || len - header_size < payload_len) break;
      OnFrame(c, p, header_size, payload_len, out);
      p += header_size + payload_len;
      len -= header_size + payload_len;
    }
    if (c.closing) {
      std::vector<char>().swap(c.in);  // whatever follows is ignored
      return ReadResult::kReplyThenClose;
    }
    if (len > 0) c.in.assign(p, p + len);
    return ReadResult::kReply;
  }

 private:
  // Appends an unmasked frame whose payload is the masked `len` bytes at
  // `payload`, unmasked with `key`.
  static void AppendFrame(uint8_t b0, const char* payload, uint64_t len,
                          const char* key, OutputBuffer& out) {
    char* p = out.Reserve(10 + len);
    const size_t header = EncodeFrameHeader(b0, len, /*masked=*/false, p);
    MaskCopy(p + header, payload, len, LoadMaskKey(key));
    out.Commit(header + len);
  }

  // Fails the connection (status 1002) once the replies so far are out.
  static void ProtocolError(Conn& c, OutputBuffer& out) {
    const char close[4] = {static_cast<char>(kFin | kOpClose), 2,
                           static_cast<char>(kStatusProtocolError >> 8),
                           static_cast<char>(kStatusProtocolError & 0xff)};
    out.Append(std::string_view(close, sizeof(close)));
    c.closing = true;
  }

  // Replies to one complete frame (already checked by ParseHeader).
  static void OnFrame(Conn& c, const char* frame, size_t header_size,
                      uint64_t payload_len, OutputBuffer& out) {
    const auto b0 = static_cast<uint8_t>(frame[0]);
    const char* key = frame + header_size - 4;
    const char* payload = frame + header_size;
    switch (b0 & 0x0f) {
      case kOpText:
      case kOpBinary:
        AppendFrame(b0, payload, payload_len, key, out);
        break;
      case kOpPing:
        AppendFrame(kFin | kOpPong, payload, payload_len, key, out);
        break;
      case kOpPong:
        break;  // unsolicited: ignored
      case kOpClose:
        // Echo the status code (not the reason); a 1-byte body is an error.
        if (payload_len == 1) {
          ProtocolError(c, out);
        } else {
          AppendFrame(kFin | kOpClose, payload,
                      std::min<uint64_t>(payload_len, 2), key, out);
          c.closing = true;
        }
        break;
    }
  }

  enum class Step { kOk, kBad };

  // Completes the frame pending in c.in with the bytes it still needs.
  Step CompletePending(Conn& c, const char*& p, size_t& len,
                       OutputBuffer& out) const {
    std::vector<char>& in = c.in;
    while (true) {
      size_t header_size = 0;
      uint64_t payload_len = 0;
      const Parse r = ParseHeader(in.data(), in.size(), max_payload_,
                                  &header_size, &payload_len);
      if (r == Parse::kBad) return Step::kBad;
      const size_t need = r == Parse::kFrame ? header_size + payload_len
                          : in.size() < 2
                              ? 2
                              : HeaderSize(static_cast<uint8_t>(in[1]));
      if (r == Parse::kFrame && in.size() == need) {
        OnFrame(c, in.data(), header_size, payload_len, out);
        std::vector<char>().swap(in);  // idle connections hold nothing
        return Step::kOk;
      }
      if (len == 0) return Step::kOk;
      const size_t take = std::min(need - in.size(), len);
      in.insert(in.end(), p, p + take);
      p += take;
      len -= take;
    }
  }

  // Handles the upgrade request once it is complete (in c.in, or at the
  // start of the read); `p` and `len` then skip past it. Returns false while
  // it is incomplete (its bytes so far are in c.in) and when it was refused
  // (the refusal is in the output, c.closing is set).
  static bool Handshake(Conn& c, const char*& p, size_t& len,
                        OutputBuffer& out) {
    std::vector<char>& in = c.in;
    std::string_view request;
    if (in.empty()) {  // the common case: the whole request in one read
      const char* end = static_cast<const char*>(memmem(p, len, "\r\n\r\n", 4));
      if (end == nullptr) {
        in.assign(p, p + len);
        len = 0;
        return false;
      }
      const size_t size = static_cast<size_t>(end - p) + 4;
      request = std::string_view(p, size);
      p += size;
      len -= size;
    } else {
      const size_t old = in.size();
      in.insert(in.end(), p, p + len);
      const size_t from = old >= 3 ? old - 3 : 0;
      const char* end = static_cast<const char*>(
          memmem(in.data() + from, in.size() - from, "\r\n\r\n", 4));
      if (end == nullptr) {
        len = 0;
        return false;
      }
      in.resize(static_cast<size_t>(end - in.data()) + 4);
      const size_t used = in.size() - old;
      p += used;
      len -= used;
      request = std::string_view(in.data(), in.size());
    }
    std::string_view refusal = kBadRequest;
    const std::string_view key =
        request.size() > kMaxHandshake
            ? std::string_view()
            : ParseUpgrade(request.substr(0, request.size() - 2), &refusal);
    if (key.empty()) {
      out.Append(refusal);
      c.closing = true;
      return false;
    }
    out.Commit(SwitchingProtocols(key, out.Reserve(kMaxResponse)));
    std::vector<char>().swap(in);
    c.state.upgraded = true;
    return true;
  }

  uint64_t max_payload_;
};

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Minimal epoll WebSocket echo server (RFC 6455; the WebSocket "
      "benchmark ceiling).");
  absl::ParseCommandLine(argc, argv);
  const std::string host = absl::GetFlag(FLAGS_host);
  const int threads = absl::GetFlag(FLAGS_threads);
  if (threads < 1) {
    std::fprintf(stderr, "ws_echo_server: --threads must be >= 1\n");
    return 2;
  }
  return netman::bench::Serve("ws_echo_server", host, absl::GetFlag(FLAGS_port),
                              threads,
                              WsEcho(absl::GetFlag(FLAGS_max_payload)));
}
