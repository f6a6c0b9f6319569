// Copyright netman authors.
//
// udp_echo_server: the UDP benchmark ceiling. One thread, one UDP socket,
// no framework: epoll_wait, then recvmmsg of up to --batch datagrams; each
// datagram's netman frames (uint32 LE body length, uint32 LE id, body) are
// parsed in place and echoed (header encoded, body copied) into one output
// buffer; all replies of the batch leave with one sendmmsg. A datagram that
// is not whole frames is dropped. What the kernel allows for UDP echo, to
// compare netman's udp_server against in the same run (docs/BENCHMARKS.md,
// "UDP"). No sessions, no router, no counters.
//
// --gso: the experiment of issue 14's "consider UDP GSO". Replies of one
// batch to the same peer with the same size leave as one message of
// several UDP_SEGMENT segments (one pass through the stack for the group);
// sendmmsg still carries every group of the batch.
//
//   udp_echo_server --port=0 --batch=32 [--gso]   # prints "... listening on ..."
//
// Threading: single-threaded. SIGINT/SIGTERM end the process.
#include <netinet/in.h>
#include <netinet/udp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"

ABSL_FLAG(int, port, 0, "UDP port on 127.0.0.1 (0: any free port).");
ABSL_FLAG(int, batch, 32, "Datagrams per recvmmsg/sendmmsg (1..1024).");
ABSL_FLAG(int, rcvbuf, 4 << 20, "SO_RCVBUF and SO_SNDBUF bytes.");
ABSL_FLAG(bool, gso, false,
          "Send a batch's equal-sized replies to one peer as one UDP_SEGMENT message.");

namespace {

constexpr size_t kMaxDatagram = 65507;
constexpr size_t kHeader = 8;
// The kernel's cap on segments per GSO send (UDP_MAX_SEGMENTS).
constexpr size_t kMaxSegments = 64;
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

bool SamePeer(const struct sockaddr_storage& a, socklen_t a_len,
              const struct sockaddr_storage& b, socklen_t b_len) {
  return a_len == b_len && std::memcmp(&a, &b, a_len) == 0;
}

uint32_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Appends the echo of `d`'s frames to `out`; false if `d` is not whole frames.
bool EchoFrames(const char* d, size_t n, std::vector<char>& out, size_t& used) {
  const size_t start = used;
  size_t pos = 0;
  while (pos < n) {
    if (n - pos < kHeader) break;
    const uint32_t len = Load32(d + pos);
    if (n - pos - kHeader < len) break;
    std::memcpy(out.data() + used, d + pos, 4);
    std::memcpy(out.data() + used + 4, d + pos + 4, 4);
    std::memcpy(out.data() + used + kHeader, d + pos + kHeader, len);
    used += kHeader + len;
    pos += kHeader + len;
  }
  if (pos != n || n == 0) {
    used = start;
    return false;
  }
  return true;
}

// Per-batch storage of the GSO groups: their iovecs and control messages.
struct GsoState {
  explicit GsoState(size_t n) : iovs(n), controls(n), taken(n) {}
  std::vector<struct iovec> iovs;  // the groups' segments, group after group
  std::vector<std::array<char, CMSG_SPACE(sizeof(uint16_t))>> controls;
  std::vector<bool> taken;
};

// Rewrites the batch's `count` single-datagram messages as groups: replies
// to one peer of one size become one message of several segments. Returns
// the number of messages.
unsigned GroupForGso(std::vector<struct mmsghdr>& msgs, std::vector<struct iovec>& iovs,
                     unsigned count, GsoState& state) {
  std::vector<struct mmsghdr> singles(msgs.begin(), msgs.begin() + count);
  std::vector<struct iovec> single_iovs(iovs.begin(), iovs.begin() + count);
  std::fill(state.taken.begin(), state.taken.begin() + count, false);
  unsigned groups = 0;
  size_t next_iov = 0;
  for (unsigned i = 0; i < count; ++i) {
    if (state.taken[i]) continue;
    const auto* peer = static_cast<const struct sockaddr_storage*>(singles[i].msg_hdr.msg_name);
    const socklen_t peer_len = singles[i].msg_hdr.msg_namelen;
    const size_t size = single_iovs[i].iov_len;
    const size_t first = next_iov;
    for (unsigned j = i; j < count && next_iov - first < kMaxSegments; ++j) {
      if (state.taken[j] || single_iovs[j].iov_len != size ||
          !SamePeer(*peer, peer_len,
                    *static_cast<const struct sockaddr_storage*>(singles[j].msg_hdr.msg_name),
                    singles[j].msg_hdr.msg_namelen)) {
        continue;
      }
      state.taken[j] = true;
      state.iovs[next_iov++] = single_iovs[j];
    }
    struct mmsghdr& m = msgs[groups];
    m = singles[i];
    m.msg_hdr.msg_iov = &state.iovs[first];
    m.msg_hdr.msg_iovlen = next_iov - first;
    if (next_iov - first > 1) {
      m.msg_hdr.msg_control = state.controls[groups].data();
      m.msg_hdr.msg_controllen = state.controls[groups].size();
      struct cmsghdr* c = CMSG_FIRSTHDR(&m.msg_hdr);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      const auto segment = static_cast<uint16_t>(size);
      std::memcpy(CMSG_DATA(c), &segment, sizeof(segment));
    }
    ++groups;
  }
  return groups;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int batch = absl::GetFlag(FLAGS_batch);
  if (batch < 1 || batch > 1024) {
    std::fprintf(stderr, "udp_echo_server: --batch must be 1..1024\n");
    return 2;
  }
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int buf = absl::GetFlag(FLAGS_rcvbuf);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
  struct sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(absl::GetFlag(FLAGS_port)));
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::perror("udp_echo_server: bind");
    return 1;
  }
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<struct sockaddr*>(&addr), &len);
  std::printf("udp_echo_server listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
  std::fflush(stdout);

  const size_t n = static_cast<size_t>(batch);
  std::vector<char> in(n * kMaxDatagram);
  std::vector<char> out(n * kMaxDatagram);
  std::vector<struct mmsghdr> in_msgs(n), out_msgs(n);
  std::vector<struct iovec> in_iovs(n), out_iovs(n);
  std::vector<struct sockaddr_storage> names(n);
  for (size_t i = 0; i < n; ++i) {
    in_iovs[i] = {in.data() + i * kMaxDatagram, kMaxDatagram};
    std::memset(&in_msgs[i], 0, sizeof(in_msgs[i]));
    in_msgs[i].msg_hdr.msg_iov = &in_iovs[i];
    in_msgs[i].msg_hdr.msg_iovlen = 1;
    in_msgs[i].msg_hdr.msg_name = &names[i];
  }
  const bool gso = absl::GetFlag(FLAGS_gso);
  GsoState gso_state(n);
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  for (;;) {
    struct epoll_event got;
    if (epoll_wait(ep, &got, 1, -1) < 0 && errno != EINTR) return 1;
    for (;;) {
      for (size_t i = 0; i < n; ++i) in_msgs[i].msg_hdr.msg_namelen = sizeof(names[i]);
      const int r = recvmmsg(fd, in_msgs.data(), static_cast<unsigned>(n), MSG_DONTWAIT, nullptr);
      if (r <= 0) break;
      size_t used = 0;
      unsigned replies = 0;
      for (int i = 0; i < r; ++i) {
        const size_t start = used;
        if (!EchoFrames(static_cast<const char*>(in_iovs[i].iov_base), in_msgs[i].msg_len, out,
                        used)) {
          continue;
        }
        out_iovs[replies] = {out.data() + start, used - start};
        std::memset(&out_msgs[replies], 0, sizeof(out_msgs[replies]));
        out_msgs[replies].msg_hdr.msg_iov = &out_iovs[replies];
        out_msgs[replies].msg_hdr.msg_iovlen = 1;
        out_msgs[replies].msg_hdr.msg_name = &names[i];
        out_msgs[replies].msg_hdr.msg_namelen = in_msgs[i].msg_hdr.msg_namelen;
        ++replies;
      }
      if (replies > 0 && gso) replies = GroupForGso(out_msgs, out_iovs, replies, gso_state);
      if (replies > 0) (void)sendmmsg(fd, out_msgs.data(), replies, 0);
      if (r < batch) break;
    }
  }
}
