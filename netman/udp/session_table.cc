// Copyright netman authors.
#include "netman/udp/session_table.h"

#include <netinet/in.h>

#include <cstring>

namespace netman {

PeerKey PeerKey::From(const SocketAddress& address) {
  PeerKey key;
  const struct sockaddr* sa = address.sockaddr();
  key.port_and_family = static_cast<uint32_t>(address.port()) |
                        (static_cast<uint32_t>(sa->sa_family) << 16);
  if (sa->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const struct sockaddr_in6*>(sa);
    std::memcpy(&key.high, v6->sin6_addr.s6_addr, 8);
    std::memcpy(&key.low, v6->sin6_addr.s6_addr + 8, 8);
  } else {
    const auto* v4 = reinterpret_cast<const struct sockaddr_in*>(sa);
    key.low = v4->sin_addr.s_addr;
  }
  return key;
}

SessionTable::SessionTable(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {
  sentinel_.prev = sentinel_.next = &sentinel_;
}

void SessionTable::Unlink(Node* node) {
  node->prev->next = node->next;
  node->next->prev = node->prev;
  node->prev = node->next = nullptr;
}

void SessionTable::PushBack(Node* node) {
  node->prev = sentinel_.prev;
  node->next = &sentinel_;
  sentinel_.prev->next = node;
  sentinel_.prev = node;
}

Connection* SessionTable::Touch(const PeerKey& key) {
  auto it = map_.find(key);
  if (it == map_.end()) return nullptr;
  Node* node = &it->second;
  if (node->next != &sentinel_) {  // not already the most recent
    Unlink(node);
    PushBack(node);
  }
  return node->session.get();
}

void SessionTable::Insert(const PeerKey& key, ConnectionPtr session) {
  auto [it, inserted] = map_.try_emplace(key);
  Node* node = &it->second;
  if (!inserted) Unlink(node);
  node->session = std::move(session);
  node->key = key;
  PushBack(node);
}

void SessionTable::Remove(const PeerKey& key, const Connection* session) {
  auto it = map_.find(key);
  if (it == map_.end() || it->second.session.get() != session) return;
  Unlink(&it->second);
  map_.erase(it);
}

ConnectionPtr SessionTable::PopOldest() {
  if (sentinel_.next == &sentinel_) return nullptr;
  Node* oldest = sentinel_.next;
  ConnectionPtr session = std::move(oldest->session);
  const PeerKey key = oldest->key;
  Unlink(oldest);
  map_.erase(key);
  return session;
}

}  // namespace netman
