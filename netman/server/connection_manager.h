// Copyright netman authors.
//
// ConnectionManager: every connection of a server by id (ids are 64-bit and
// never reused), for lookup, iteration, counting and broadcast from any
// thread. It holds every accepted connection until it closes, including
// those still in a TLS or WebSocket handshake; ForEach() and Broadcast()
// skip those (they cannot carry messages yet).
//
// Example:
//   if (netman::ConnectionPtr c = server.connections().Get(id)) {
//     c->Send(7, "hello");
//   }
//   server.connections().Broadcast(9, "news");
//
// Broadcast encodes the message once per loop and per framing (connections
// whose protocols share an encoding_key() get the same bytes), posts one
// task per loop, and flushes every recipient of a loop from one task at the
// end of that loop's iteration (with whatever else was sent to it by then:
// one write per connection). A frame of 1 KiB or more is written at once,
// straight from the shared bytes, to a connection with nothing queued (only
// an unsent tail is copied); a smaller one is copied into an output buffer
// of exactly its size until that flush, the only allocation per recipient.
// Connections whose protocol encodes per connection (a stateful encoder)
// encode the message themselves.
//
// Threading: all methods are safe from any thread. ForEach() and Broadcast()
// work on a snapshot taken under the lock and call out without holding it,
// so a callback may itself use the manager. A Broadcast() from a loop thread
// queues the message for that loop's connections before it returns, so it
// keeps its order with the caller's own Send()s.
#ifndef NETMAN_SERVER_CONNECTION_MANAGER_H_
#define NETMAN_SERVER_CONNECTION_MANAGER_H_

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "netman/base/sync.h"
#include "netman/net/connection.h"

namespace netman {

class ConnectionManager {
 public:
  void Add(ConnectionPtr connection);
  // Removes and returns the connection (null if absent).
  ConnectionPtr Remove(uint64_t id);
  // The connection with `id`, or null once it has closed.
  ConnectionPtr Get(uint64_t id) const;
  size_t Count() const;
  std::vector<ConnectionPtr> Snapshot() const;
  // Calls `fn` for every open connection (not for those still handshaking).
  void ForEach(const std::function<void(const ConnectionPtr&)>& fn) const;
  // Sends (id, body) to every open connection; returns how many it was
  // queued for.
  size_t Broadcast(uint32_t message_id, std::string_view body) const;
  // The same for a set of connections (a topic's subscribers): those not
  // open are skipped. Safe from any thread; needs no manager.
  static size_t BroadcastTo(std::vector<ConnectionPtr> recipients, uint32_t message_id,
                            std::string_view body);

 private:
  mutable Mutex mu_;
  absl::flat_hash_map<uint64_t, ConnectionPtr> connections_ ABSL_GUARDED_BY(mu_);
};

}  // namespace netman

#endif  // NETMAN_SERVER_CONNECTION_MANAGER_H_
