// Copyright netman authors.
//
// epoll_echo_server: the benchmark ceiling. A minimal epoll server that
// echoes netman frames (uint32 LE body length, uint32 LE id, body) with no
// framework at all: what the kernel and the hardware allow, to compare
// netman's tcp_server against in the same run (tools/bench/run_bench.py).
//
//   epoll_echo_server --port=0 --threads=1        # prints "... listening on"
//
// What it does per readable connection: one read(2) of up to 256 KiB into a
// per-thread buffer; complete frames parsed in place; every reply (header
// encoded, body copied) appended to one per-thread output buffer; one
// write(2) for all of them. Only what cannot be handled now stays with the
// connection: the bytes of an incomplete frame, or replies the socket did not
// take (then reading pauses above 4 MiB of them). An idle connection is a
// 64-byte struct and nothing else. --mode=raw echoes bytes as they come (for
// the load generator's raw mode).
//
// --threads=N runs N independent copies of the loop, each with its own
// SO_REUSEPORT listening socket (the kernel spreads connections over them).
//
// The loop, the buffers, the listeners and the threads are
// bare_epoll_server.h, shared with the WebSocket ceiling (ws_echo_server.cc);
// this file is the framing (FrameEcho: frame echo, or the byte echo of
// --mode=raw) and the flags.
//
// Threading: each loop thread owns its listening socket, epoll set and
// connections; nothing is shared between threads. SIGINT/SIGTERM end the
// process (no graceful close: it is a benchmark baseline).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "tools/bench/bare_epoll_server.h"

ABSL_FLAG(std::string, host, "0.0.0.0", "IPv4 address to listen on.");
ABSL_FLAG(int, port, 9000, "TCP port (0 = any free port).");
ABSL_FLAG(int, threads, 1, "Independent event loops (SO_REUSEPORT).");
ABSL_FLAG(std::string, mode, "netman",
          "netman (frame echo) or raw (byte echo).");
ABSL_FLAG(uint64_t, max_body, 64u << 20,
          "Largest accepted body; larger closes.");

namespace {

using netman::bench::OutputBuffer;
using netman::bench::ReadResult;

constexpr size_t kHeaderSize = 8;

inline uint32_t LoadLe32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);  // x86-64 and the wire are both little-endian
  return v;
}
inline void StoreLe32(uint32_t v, char* p) { std::memcpy(p, &v, 4); }

// The protocol for bare_epoll_server.h's Loop: netman frame echo, or byte
// echo with `raw`.
class FrameEcho {
 public:
  struct ConnState {};
  using Conn = netman::bench::Conn<ConnState>;

  FrameEcho(bool raw, uint64_t max_body) : raw_(raw), max_body_(max_body) {}

  ReadResult OnRead(Conn& c, const char* p, size_t len,
                    OutputBuffer& out) const {
    if (raw_) return ReadResult::kEcho;
    if (!c.in.empty()) {
      // Complete the pending frame with the bytes it still needs.
      std::vector<char>& in = c.in;
      if (in.size() < kHeaderSize) {
        const size_t take = std::min(kHeaderSize - in.size(), len);
        in.insert(in.end(), p, p + take);
        p += take;
        len -= take;
      }
      if (in.size() >= kHeaderSize) {
        const uint32_t body_len = LoadLe32(in.data());
        if (body_len > max_body_) return ReadResult::kClose;
        const size_t take = std::min(kHeaderSize + body_len - in.size(), len);
        in.insert(in.end(), p, p + take);
        p += take;
        len -= take;
        if (in.size() == kHeaderSize + body_len) {
          Reply(in.data(), body_len, out);
          std::vector<char>().swap(in);  // idle connections hold nothing
        }
      }
    }
    while (len >= kHeaderSize) {
      const uint32_t body_len = LoadLe32(p);
      if (body_len > max_body_) return ReadResult::kClose;
      if (len < kHeaderSize + body_len) break;
      Reply(p, body_len, out);
      p += kHeaderSize + body_len;
      len -= kHeaderSize + body_len;
    }
    if (len > 0) c.in.assign(p, p + len);
    return ReadResult::kReply;
  }

 private:
  // Appends the reply to one complete frame.
  static void Reply(const char* frame, uint32_t body_len, OutputBuffer& out) {
    char* p = out.Reserve(kHeaderSize + body_len);
    StoreLe32(body_len, p);
    StoreLe32(LoadLe32(frame + 4), p + 4);
    std::memcpy(p + kHeaderSize, frame + kHeaderSize, body_len);
    out.Commit(kHeaderSize + body_len);
  }

  bool raw_;
  uint64_t max_body_;
};

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Minimal epoll echo server for netman frames (the benchmark ceiling).");
  absl::ParseCommandLine(argc, argv);
  const std::string host = absl::GetFlag(FLAGS_host);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const int threads = absl::GetFlag(FLAGS_threads);
  if ((mode != "netman" && mode != "raw") || threads < 1) {
    std::fprintf(
        stderr,
        "epoll_echo_server: --mode must be netman or raw, --threads >= 1\n");
    return 2;
  }
  return netman::bench::Serve(
      "epoll_echo_server", host, absl::GetFlag(FLAGS_port), threads,
      FrameEcho(mode == "raw", absl::GetFlag(FLAGS_max_body)));
}
