// Copyright netman authors.
#include "netman/server/connection_manager.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "netman/buffer/buffer.h"

namespace netman {
namespace {

// One loop's share of a broadcast.
struct LoopBatch {
  EventLoop* loop;
  std::vector<ConnectionPtr> recipients;
  size_t count;  // recipients on this loop (to size `recipients`)
};

// The message of one broadcast, shared by every loop's task.
struct BroadcastMessage {
  uint32_t id;
  std::string body;
};

// Sends `message` to a loop's recipients, on that loop: the frame is encoded
// once per encoding key (normally once), then copied to each connection.
void SendOnLoop(const BroadcastMessage& message, const std::vector<ConnectionPtr>& recipients) {
  struct Frame {
    const void* key;
    Buffer bytes;
    bool ok;  // false: the protocol cannot frame this message
  };
  absl::InlinedVector<Frame, 2> frames;
  for (const ConnectionPtr& c : recipients) {
    if (!c->is_open()) continue;
    Protocol* protocol = c->protocol();
    const void* key = protocol->encoding_key();
    std::string_view frame;
    if (key != nullptr) {
      auto it = frames.begin();
      while (it != frames.end() && it->key != key) ++it;
      if (it == frames.end()) {
        frames.push_back(Frame{key, Buffer(), false});
        it = frames.end() - 1;
        it->ok = protocol->Encode(message.id, message.body, it->bytes).ok();
      }
      if (!it->ok) continue;
      frame = it->bytes.readable();
    }
    c->SendEncoded(key, frame, message.id, message.body);
  }
}

// Sends `message` to a loop's recipients and flushes them from one task at
// the end of the loop iteration (with whatever else they were sent by then).
void BroadcastOnLoop(EventLoop* loop, std::shared_ptr<const BroadcastMessage> message,
                     std::vector<ConnectionPtr> recipients) {
  SendOnLoop(*message, recipients);
  loop->Post([recipients = std::move(recipients)]() {
    for (const ConnectionPtr& c : recipients) c->FlushIfQueued();
  });
}

}  // namespace

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
  for (const ConnectionPtr& c : Snapshot()) {
    if (c->is_open()) fn(c);
  }
}

size_t ConnectionManager::Broadcast(uint32_t message_id, std::string_view body) const {
  // One pass under the lock; the grouping by loop happens outside it.
  return BroadcastTo(Snapshot(), message_id, body);
}

size_t ConnectionManager::BroadcastTo(std::vector<ConnectionPtr> open, uint32_t message_id,
                                      std::string_view body) {
  std::erase_if(open, [](const ConnectionPtr& c) { return !c->is_open(); });
  if (open.empty()) return 0;
  // Group by loop (a handful of loops: linear search), sizing each group
  // before filling it.
  absl::InlinedVector<LoopBatch, 8> batches;
  for (const ConnectionPtr& c : open) {
    auto it = batches.begin();
    while (it != batches.end() && it->loop != c->loop()) ++it;
    if (it == batches.end()) {
      batches.push_back(LoopBatch{c->loop(), {}, 0});
      it = batches.end() - 1;
    }
    ++it->count;
  }
  for (LoopBatch& batch : batches) batch.recipients.reserve(batch.count);
  for (ConnectionPtr& c : open) {
    auto it = batches.begin();
    while (it->loop != c->loop()) ++it;
    it->recipients.push_back(std::move(c));
  }
  auto message = std::make_shared<const BroadcastMessage>(
      BroadcastMessage{message_id, std::string(body)});
  for (LoopBatch& batch : batches) {
    // On the caller's own loop this runs now, keeping the broadcast in
    // order with the caller's other sends.
    batch.loop->RunInLoop([loop = batch.loop, message,
                           recipients = std::move(batch.recipients)]() mutable {
      BroadcastOnLoop(loop, std::move(message), std::move(recipients));
    });
  }
  return open.size();
}

}  // namespace netman
