// Copyright netman authors.
//
// ConnectionManager: every open connection of a server by id (ids are 64-bit
// and never reused), for lookup, iteration, counting and broadcast from any
// thread.
//
// Example:
//   if (netman::ConnectionPtr c = server.connections().Get(id)) {
//     c->Send(7, "hello");
//   }
//   server.connections().Broadcast(9, "news");
//
// Threading: all methods are safe from any thread. ForEach() and Broadcast()
// work on a snapshot taken under the lock and call out without holding it,
// so a callback may itself use the manager.
#ifndef NETMAN_SERVER_CONNECTION_MANAGER_H_
#define NETMAN_SERVER_CONNECTION_MANAGER_H_

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "netman/net/connection.h"
#include "netman/base/sync.h"

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
  void ForEach(const std::function<void(const ConnectionPtr&)>& fn) const;
  // Sends (id, body) to every open connection; returns how many it was
  // queued for.
  size_t Broadcast(uint32_t message_id, std::string_view body) const;

 private:
  mutable Mutex mu_;
  absl::flat_hash_map<uint64_t, ConnectionPtr> connections_ ABSL_GUARDED_BY(mu_);
};

}  // namespace netman

#endif  // NETMAN_SERVER_CONNECTION_MANAGER_H_
