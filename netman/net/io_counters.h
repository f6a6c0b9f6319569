// Copyright netman authors.
//
// IoCounters: per-event-loop counters for observability (bytes, messages,
// connections, closes by reason, protocol and backpressure events).
//
// Each loop owns one and only its thread increments it, so an increment is a
// relaxed load and store (no locked instruction on the hot path); any thread
// may read a counter at any time and sees a recent value. TcpServer::stats()
// sums the counters of all its loops.
//
// Threading: Add() on the owning loop thread only; Get() from any thread.
#ifndef NETMAN_NET_IO_COUNTERS_H_
#define NETMAN_NET_IO_COUNTERS_H_

#include <array>
#include <atomic>
#include <cstdint>

#include "absl/status/status.h"

namespace netman {

class Counter {
 public:
  void Add(uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n,
                 std::memory_order_relaxed);
  }
  uint64_t Get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

struct IoCounters {
  static constexpr int kStatusCodes = 17;  // absl::StatusCode 0..16

  Counter bytes_read;
  Counter bytes_written;
  Counter messages_in;
  Counter messages_out;
  Counter connections_accepted;  // started on this loop
  Counter connections_opened;    // ready to carry messages (OnOpen fired)
  Counter connections_closed;
  // Closes by reason (index: absl::StatusCode; kOk = orderly).
  std::array<Counter, kStatusCodes> closed_by_code;
  Counter decode_errors;      // malformed or oversize input
  Counter unknown_ids;        // messages with no route, dropped
  Counter high_water_events;  // output crossed the high-water mark
  Counter read_pauses;        // reading paused by the output limit
  Counter output_limit_closes;
  Counter idle_closes;        // heartbeat kicks
  Counter handshake_failures; // closed before they opened (any reason)
  Counter handshake_timeouts; // of which: handshake_timeout expired
  Counter input_cap_closes;   // max_input_bytes crossed

  void CountClose(const absl::Status& reason) {
    connections_closed.Add();
    int code = static_cast<int>(reason.code());
    closed_by_code[code >= 0 && code < kStatusCodes ? code : 2].Add();
  }
};

}  // namespace netman

#endif  // NETMAN_NET_IO_COUNTERS_H_
