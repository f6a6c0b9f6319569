// Copyright netman authors.
//
// UdpCounters: what a UDP server counts per loop beyond the counters every
// server keeps (netman/net/io_counters.h: bytes, messages, sessions as
// connections, closes by reason, decode errors), and UdpStats, their sum
// over the loops (UdpServer::udp_stats()).
//
// Threading: as IoCounters: Add() on the owning loop thread, Get() anywhere;
// UdpStats is a plain value.
#ifndef NETMAN_UDP_UDP_COUNTERS_H_
#define NETMAN_UDP_UDP_COUNTERS_H_

#include <cstdint>
#include <string>

#include "netman/net/io_counters.h"

namespace netman {

struct UdpCounters {
  Counter datagrams_in;
  Counter datagrams_out;
  Counter receive_calls;  // recvmmsg/recvmsg calls that returned datagrams
  Counter send_calls;     // sendmmsg/sendmsg calls
  // Datagrams dropped whole, by reason (DatagramVerdict), and those cut by
  // the kernel because they exceeded max_datagram_bytes.
  Counter dropped_empty;
  Counter dropped_truncated;
  Counter dropped_malformed;
  Counter dropped_oversize;
  // Valid datagrams for a session that could not take them (closing, or
  // paused by the output limit) or while the server drains.
  Counter dropped_unhandled;
  Counter sessions_evicted;  // the oldest idle sessions, at the session cap
  Counter send_errors;       // datagrams the kernel refused (besides EAGAIN)
  Counter send_drops;        // datagrams dropped because the socket was full
  Counter unsendable_bytes;  // reply bytes that could not form a datagram
};

struct UdpStats {
  uint64_t datagrams_in = 0;
  uint64_t datagrams_out = 0;
  uint64_t receive_calls = 0;
  uint64_t send_calls = 0;
  uint64_t dropped_empty = 0;
  uint64_t dropped_truncated = 0;
  uint64_t dropped_malformed = 0;
  uint64_t dropped_oversize = 0;
  uint64_t dropped_unhandled = 0;
  uint64_t sessions_evicted = 0;
  uint64_t send_errors = 0;
  uint64_t send_drops = 0;
  uint64_t unsendable_bytes = 0;
  // Handlers' Send()s refused because the framed reply exceeds a datagram.
  uint64_t replies_too_large = 0;

  uint64_t dropped() const {
    return dropped_empty + dropped_truncated + dropped_malformed + dropped_oversize;
  }
  void Add(const UdpCounters& c);
  // One line of JSON.
  std::string ToJson() const;
};

}  // namespace netman

#endif  // NETMAN_UDP_UDP_COUNTERS_H_
