// Copyright netman authors.
//
// UDP mode of loadgen (--mode=udp): `peers` UDP sockets (each its own
// source port, so each is a separate peer and session to the server), each
// keeping `pipeline` requests in flight, closed loop: one netman message of
// `size` body bytes per datagram, and a new request for every reply. The
// first 8 body bytes carry the send time (so a reply's latency needs no
// table); the reply must be the same frame. Each worker thread owns an
// epoll loop over its share of the peers and uses recvmmsg/sendmmsg per
// socket, so several replies of one peer cost one system call each way.
//
// UDP is lossy: a peer that has heard nothing for `resend_after` assumes
// its requests lost (counted in "lost") and sends a fresh pipeline.
//
// Prints one JSON line with the same core fields as the TCP modes
// (messages, msgs_per_s, latency_us, errors) plus "lost". Self-contained:
// shares only the histogram with loadgen.cc.
//
// Threading: RunUdpLoad() runs on the main thread and joins its workers.
#ifndef TOOLS_LOADGEN_UDP_LOAD_H_
#define TOOLS_LOADGEN_UDP_LOAD_H_

#include <cstdint>
#include <string>

namespace netman::loadgen {

struct UdpLoadOptions {
  std::string host = "127.0.0.1";
  int port = 8999;
  int peers = 100;
  int pipeline = 1;
  int size = 64;  // body bytes; at least 8 (the send time)
  double duration_s = 5;
  double warmup_s = 1;
  int threads = 1;
  uint32_t id = 0;
  double resend_after_s = 0.2;
  std::string label;
  std::string json_out;
};

// Runs the load and prints the result. Exit status as loadgen's: 0 clean,
// 1 if replies failed verification, 2 for bad options or set-up failures.
int RunUdpLoad(const UdpLoadOptions& options);

}  // namespace netman::loadgen

#endif  // TOOLS_LOADGEN_UDP_LOAD_H_
