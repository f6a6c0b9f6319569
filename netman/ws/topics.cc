// Copyright netman authors.
#include "netman/ws/topics.h"

#include <vector>

#include "netman/server/connection_manager.h"

namespace netman::ws {
namespace {

// abseil 20220623 has its own string_view type for heterogeneous lookup.
absl::string_view Key(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

bool Topics::Subscribe(std::string_view topic, Connection& connection) {
  ConnectionPtr c = connection.shared_from_this();
  MutexLock lock(&mu_);
  return topics_[Key(topic)].emplace(c->id(), std::move(c)).second;
}

bool Topics::Unsubscribe(std::string_view topic, uint64_t connection_id) {
  MutexLock lock(&mu_);
  auto it = topics_.find(Key(topic));
  if (it == topics_.end() || it->second.erase(connection_id) == 0) return false;
  if (it->second.empty()) topics_.erase(it);
  return true;
}

void Topics::RemoveConnection(uint64_t connection_id) {
  MutexLock lock(&mu_);
  for (auto it = topics_.begin(); it != topics_.end();) {
    it->second.erase(connection_id);
    if (it->second.empty()) {
      topics_.erase(it++);
    } else {
      ++it;
    }
  }
}

size_t Topics::Publish(std::string_view topic, uint32_t message_id, std::string_view body) const {
  std::vector<ConnectionPtr> recipients;
  {
    MutexLock lock(&mu_);
    auto it = topics_.find(Key(topic));
    if (it == topics_.end()) return 0;
    recipients.reserve(it->second.size());
    for (const auto& [id, c] : it->second) recipients.push_back(c);
  }
  return ConnectionManager::BroadcastTo(std::move(recipients), message_id, body);
}

size_t Topics::SubscriberCount(std::string_view topic) const {
  MutexLock lock(&mu_);
  auto it = topics_.find(Key(topic));
  return it == topics_.end() ? 0 : it->second.size();
}

}  // namespace netman::ws
