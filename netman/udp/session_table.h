// Copyright netman authors.
//
// SessionTable: one loop's UDP sessions by peer address, in order of last
// activity, with a cap. Each session is a Connection (without a socket of
// its own). A datagram's peer is looked up (and its session marked most
// recently active) in O(1); at the cap the least recently active session is
// the one to evict, so a flood of spoofed source addresses can only replace
// idle sessions, never grow the table.
//
// Example:
//   if (Connection* s = table.Touch(key)) s->DeliverReceived(bytes);
//   else { if (table.full()) table.PopOldest()->ForceClose(...); table.Insert(key, c); }
//
// Threading: not synchronised; owned and used by one loop thread.
#ifndef NETMAN_UDP_SESSION_TABLE_H_
#define NETMAN_UDP_SESSION_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <utility>

#include "absl/container/node_hash_map.h"
#include "netman/net/connection.h"
#include "netman/net/socket_address.h"

namespace netman {

// A peer's address as a hashable key (family, address, port).
struct PeerKey {
  uint64_t high = 0;
  uint64_t low = 0;
  uint32_t port_and_family = 0;

  static PeerKey From(const SocketAddress& address);
  friend bool operator==(const PeerKey&, const PeerKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const PeerKey& k) {
    return H::combine(std::move(h), k.high, k.low, k.port_and_family);
  }
};

class SessionTable {
 public:
  // `capacity`: the most sessions held (at least 1).
  explicit SessionTable(size_t capacity);
  SessionTable(const SessionTable&) = delete;
  SessionTable& operator=(const SessionTable&) = delete;

  // The session of `key`, now the most recently active; null if none.
  Connection* Touch(const PeerKey& key);
  // Adds `session` for `key` (not present) as the most recently active.
  void Insert(const PeerKey& key, ConnectionPtr session);
  // Removes `key` if it maps to `session` (a newer session for the same
  // peer is left alone).
  void Remove(const PeerKey& key, const Connection* session);
  // Removes and returns the least recently active session (null if empty).
  ConnectionPtr PopOldest();

  size_t size() const { return map_.size(); }
  size_t capacity() const { return capacity_; }
  bool full() const { return map_.size() >= capacity_; }

 private:
  // Map values, linked in activity order (oldest after the sentinel).
  struct Node {
    ConnectionPtr session;
    PeerKey key;
    Node* prev = nullptr;
    Node* next = nullptr;
  };
  void Unlink(Node* node);
  void PushBack(Node* node);

  const size_t capacity_;
  absl::node_hash_map<PeerKey, Node> map_;  // node: stable addresses
  Node sentinel_;
};

}  // namespace netman

#endif  // NETMAN_UDP_SESSION_TABLE_H_
