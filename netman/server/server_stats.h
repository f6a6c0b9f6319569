// Copyright netman authors.
//
// ServerStats: a snapshot of a server's counters, summed over its loops
// (ServerCore::stats()), with a one-line JSON form for logs and SIGUSR1.
//
// Threading: a plain value.
#ifndef NETMAN_SERVER_SERVER_STATS_H_
#define NETMAN_SERVER_SERVER_STATS_H_

#include <cstdint>
#include <map>
#include <string>

#include "netman/net/io_counters.h"

namespace netman {

struct ServerStats {
  uint64_t connections_open = 0;      // accepted and not yet closed
  uint64_t connections_accepted = 0;
  uint64_t connections_opened = 0;    // OnOpen fired (handshake done)
  uint64_t connections_closed = 0;
  // Closes by reason: "OK" (orderly), "DEADLINE_EXCEEDED" (heartbeat or
  // handshake timeout), "CANCELLED" (server stopping), "RESOURCE_EXHAUSTED"
  // (limits), ...; connections that never opened included.
  std::map<std::string, uint64_t> closed_by_reason;
  uint64_t messages_in = 0;
  uint64_t messages_out = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t decode_errors = 0;  // malformed or oversize messages
  uint64_t unknown_ids = 0;    // messages with no route, dropped
  uint64_t high_water_events = 0;
  uint64_t read_pauses = 0;
  uint64_t output_limit_closes = 0;
  uint64_t input_cap_closes = 0;
  uint64_t idle_closes = 0;
  uint64_t handshake_failures = 0;  // closed before they opened
  uint64_t handshake_timeouts = 0;  // of which: timed out
  // Log lines dropped because the log sink did not keep up (async logging).
  uint64_t log_lines_dropped = 0;

  // Adds one loop's counters.
  void Add(const IoCounters& counters);
  // One line of JSON.
  std::string ToJson() const;
};

}  // namespace netman

#endif  // NETMAN_SERVER_SERVER_STATS_H_
