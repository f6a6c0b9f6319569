// Copyright netman authors.
//
// Router: maps message ids to handlers. Register every route before the
// server starts; lookups are then lock-free reads from every loop.
//
// Ids below kDenseIds are looked up in a flat array (one indexed load), the
// rest in a hash map.
//
// Example:
//   netman::Router router;
//   absl::Status s = router.AddRouter(0, [](netman::Request& r) {
//     r.connection().Send(0, r.body());
//   });
//   router.AddRouter(0, ...);  // AlreadyExists: no silent override
//
// Threading: AddRouter()/SetNotFoundHandler() must happen before concurrent
// use; Find()/Dispatch() are then safe from any number of threads. Handlers
// run on the loop thread of the connection the message came from.
#ifndef NETMAN_ROUTER_ROUTER_H_
#define NETMAN_ROUTER_ROUTER_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "netman/router/request.h"

namespace netman {

using Handler = std::function<void(Request&)>;

class Router {
 public:
  static constexpr uint32_t kDenseIds = 1024;

  // Registers `handler` for `id`. AlreadyExists if `id` has a handler,
  // InvalidArgument if `handler` is empty.
  absl::Status AddRouter(uint32_t id, Handler handler);

  // Called for ids with no route (instead of the default: log and drop).
  void SetNotFoundHandler(Handler handler) { not_found_ = std::move(handler); }
  const Handler& not_found_handler() const { return not_found_; }

  // The handler for `id`, or null.
  const Handler* Find(uint32_t id) const {
    if (id < dense_.size()) return dense_[id] ? &dense_[id] : nullptr;
    if (sparse_.empty()) return nullptr;
    auto it = sparse_.find(id);
    return it == sparse_.end() ? nullptr : &it->second;
  }

  size_t size() const { return count_; }

 private:
  std::vector<Handler> dense_;  // grows to cover the largest dense id used
  absl::flat_hash_map<uint32_t, Handler> sparse_;
  Handler not_found_;
  size_t count_ = 0;
};

}  // namespace netman

#endif  // NETMAN_ROUTER_ROUTER_H_
