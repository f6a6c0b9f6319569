// Copyright netman authors.
//
// Topics: publish/subscribe over a server's connections, as in uWebSockets.
// A connection subscribes to named topics; Publish() sends a message to
// every subscriber through ConnectionManager::BroadcastTo, so the frame is
// encoded (and compressed) once per loop and framing, not once per
// subscriber, and each loop gets one posted task. Connections leave every
// topic when they close (the WebSocket server calls RemoveConnection).
//
// Example:
//   server.topics().Subscribe("chat", ws.connection());
//   server.topics().Publish("chat", netman::ws::kText, "hello");
//
// Threading: every method is safe from any thread (one mutex; Publish
// snapshots the subscribers under it and sends outside it).
#ifndef NETMAN_WS_TOPICS_H_
#define NETMAN_WS_TOPICS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "netman/base/sync.h"
#include "netman/net/connection.h"

namespace netman::ws {

class Topics {
 public:
  // Adds `connection` to `topic`; false if it already was subscribed.
  bool Subscribe(std::string_view topic, Connection& connection);
  // Removes it; false if it was not subscribed.
  bool Unsubscribe(std::string_view topic, uint64_t connection_id);
  // Removes a connection from every topic (it closed).
  void RemoveConnection(uint64_t connection_id);
  // Sends (message_id, body) to every open subscriber of `topic`; returns
  // how many it was queued for.
  size_t Publish(std::string_view topic, uint32_t message_id, std::string_view body) const;
  size_t SubscriberCount(std::string_view topic) const;

 private:
  using Subscribers = absl::flat_hash_map<uint64_t, ConnectionPtr>;
  mutable Mutex mu_;
  absl::flat_hash_map<std::string, Subscribers> topics_ ABSL_GUARDED_BY(mu_);
};

}  // namespace netman::ws

#endif  // NETMAN_WS_TOPICS_H_
