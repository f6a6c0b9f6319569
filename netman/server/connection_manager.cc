// Copyright netman authors.
#include "netman/server/connection_manager.h"
#include "netman/base/sync.h"

namespace netman {

void ConnectionManager::Add(ConnectionPtr connection) {
  MutexLock lock(&mu_);
  uint64_t id = connection->id();
  connections_.emplace(id, std::move(connection));
}

ConnectionPtr ConnectionManager::Remove(uint64_t id) {
  MutexLock lock(&mu_);
  auto it = connections_.find(id);
  if (it == connections_.end()) return nullptr;
  ConnectionPtr c = std::move(it->second);
  connections_.erase(it);
  return c;
}

ConnectionPtr ConnectionManager::Get(uint64_t id) const {
  MutexLock lock(&mu_);
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second;
}

size_t ConnectionManager::Count() const {
  MutexLock lock(&mu_);
  return connections_.size();
}

std::vector<ConnectionPtr> ConnectionManager::Snapshot() const {
  MutexLock lock(&mu_);
  std::vector<ConnectionPtr> all;
  all.reserve(connections_.size());
  for (const auto& [id, c] : connections_) all.push_back(c);
  return all;
}

void ConnectionManager::ForEach(
    const std::function<void(const ConnectionPtr&)>& fn) const {
  for (const ConnectionPtr& c : Snapshot()) fn(c);
}

size_t ConnectionManager::Broadcast(uint32_t message_id,
                                    std::string_view body) const {
  size_t sent = 0;
  for (const ConnectionPtr& c : Snapshot()) {
    if (c->Send(message_id, body).ok()) ++sent;
  }
  return sent;
}

}  // namespace netman
