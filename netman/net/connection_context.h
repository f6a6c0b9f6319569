// Copyright netman authors.
//
// What a Connection shares with every other connection of its server: the
// ConnectionEvents it reports its life to (the server core, which runs the
// user's hooks and keeps the books) and the limits it enforces. One
// ConnectionContext per server, immutable once connections exist.
//
// Threading: ConnectionEvents methods are called on the loop thread of the
// connection concerned; a ConnectionContext is read from every loop.
#ifndef NETMAN_NET_CONNECTION_CONTEXT_H_
#define NETMAN_NET_CONNECTION_CONTEXT_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"

namespace netman {

class Connection;

// A connection's life as its server sees it.
class ConnectionEvents {
 public:
  virtual ~ConnectionEvents() = default;
  // The connection can carry messages: its protocol and its transport (if
  // any) are ready. Called at most once, before any message is dispatched.
  virtual void OnOpen(Connection& connection) = 0;
  // The connection has closed. Called exactly once, from a task posted at
  // close time (so after the handler call in progress has returned), for
  // every connection that was started, opened or not
  // (Connection::has_opened() tells). `reason` is OK for an orderly close
  // (peer EOF, Close()) and the error otherwise.
  virtual void OnClosed(Connection& connection, const absl::Status& reason) = 0;
  // Output the kernel would not take reached ConnectionLimits::high_water_mark
  // (once per crossing).
  virtual void OnHighWaterMark(Connection& connection, size_t queued_bytes) {}
  // All queued output has been handed to the kernel (only when
  // ConnectionLimits::notify_write_complete).
  virtual void OnWriteComplete(Connection& connection) {}
};

// What to do when a connection's unsent output exceeds
// ConnectionLimits::max_output_bytes (the peer is not reading fast enough).
enum class OutputLimitPolicy : uint8_t {
  // Close the connection with ResourceExhausted.
  kClose,
  // Stop reading from it (so it cannot ask for more) until the output drains
  // to half the limit. A backlog still growing past twice the limit (e.g.
  // pushes from elsewhere) closes it.
  kPauseReading,
};

struct ConnectionLimits {
  // OnHighWaterMark fires when unsent output reaches this; 0 = never.
  size_t high_water_mark = 0;
  // Cap on unsent output. A message joining a backlog within the cap is
  // always accepted, so the reply to any message the input limits admit
  // goes out whatever its size; the one that crosses the cap pauses reading
  // (kPauseReading) and a later one closes the connection (kClose). Unsent
  // output exceeds the cap by at most one message, plus pushes from other
  // connections (bounded at twice the cap when paused). 0 = unlimited.
  size_t max_output_bytes = 0;
  OutputLimitPolicy output_limit_policy = OutputLimitPolicy::kClose;
  bool notify_write_complete = false;
  // Cap on received bytes the protocol has not consumed yet (a partial
  // message, an unfinished HTTP head or TLS record); crossing it closes the
  // connection with ResourceExhausted. 0 = unlimited.
  size_t max_input_bytes = 0;
};

struct ConnectionContext {
  ConnectionEvents* events = nullptr;  // required
  ConnectionLimits limits;
};

}  // namespace netman

#endif  // NETMAN_NET_CONNECTION_CONTEXT_H_
