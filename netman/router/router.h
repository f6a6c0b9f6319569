// Copyright netman authors.
//
// Router: maps message ids to handlers, with middleware around them.
//
// A middleware takes the request and a `next` continuation. It may act before
// and after calling next(), or end the chain by not calling it (for example,
// reject and close an unauthenticated connection). The order is: global
// middleware in Use() order, then the route's group middleware in the order
// given, then the handler.
//
// Example:
//   netman::Router router;
//   router.Use(LogEverything);                        // global
//   netman::RouteGroup& admin = router.Group({RequireAdmin});
//   admin.AddRouter(100, Shutdown);                   // RequireAdmin → Shutdown
//   router.AddRouter(0, Echo);                        // LogEverything → Echo
//   router.AddRouter(0, Other);                       // AlreadyExists
//
// Ids below kDenseIds are looked up in a flat array, the rest in a hash map.
// Nothing here knows about framing: the TCP framed protocol and the WebSocket
// server dispatch through the same Router.
//
// Configuration (AddRouter, Use, Group, SetNotFoundHandler, and the same on
// a RouteGroup) ends with Freeze(), which a server calls when it starts:
// every registration after it returns FailedPrecondition and changes
// nothing, so routes cannot race with the loops dispatching them.
//
// Threading: registrations and Freeze() are safe from any thread (they are
// serialised by a mutex). Find() and Dispatch() are safe from any number of
// threads once the router is frozen (or while nothing registers); they take
// no lock. Handlers run on the loop thread of the request's connection.
#ifndef NETMAN_ROUTER_ROUTER_H_
#define NETMAN_ROUTER_ROUTER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "netman/base/sync.h"
#include "netman/router/request.h"

namespace netman {

using Handler = std::function<void(Request&)>;

class Next;
using Middleware = std::function<void(Request&, const Next&)>;

class Router;

// A set of routes sharing middleware. Owned by its Router; references stay
// valid for the Router's lifetime.
class RouteGroup {
 public:
  // Adds middleware that runs (after the global ones) for this group's
  // routes. InvalidArgument if empty, FailedPrecondition once frozen.
  absl::Status Use(Middleware middleware);
  // Routes `id` through this group's middleware. AlreadyExists if any group
  // (or the router itself) already routes `id`; FailedPrecondition once the
  // router is frozen.
  absl::Status AddRouter(uint32_t id, Handler handler);

 private:
  friend class Router;
  friend class Next;
  explicit RouteGroup(Router* router) : router_(router) {}
  Router* const router_;
  std::vector<Middleware> middleware_;
};

// A registered route: its handler and the group whose middleware wraps it.
struct Route {
  Handler handler;
  const RouteGroup* group = nullptr;  // null: global middleware only
};

// The continuation handed to a middleware: calling it runs the rest of the
// chain (the next middleware, or the handler). Calling it more than once runs
// the rest again; not calling it ends the chain.
class Next {
 public:
  void operator()() const;

 private:
  friend class Router;
  Next(const Router* router, const Route* route, Request* request, size_t index)
      : router_(router), route_(route), request_(request), index_(index) {}
  const Router* router_;
  const Route* route_;
  Request* request_;
  size_t index_;
};

class Router {
 public:
  static constexpr uint32_t kDenseIds = 1024;

  Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Routes `id` to `handler` (global middleware only). AlreadyExists if `id`
  // has a route, InvalidArgument if `handler` is empty, FailedPrecondition
  // once frozen.
  absl::Status AddRouter(uint32_t id, Handler handler);
  // Adds global middleware, run for every routed message in Use() order.
  // InvalidArgument if empty, FailedPrecondition once frozen.
  absl::Status Use(Middleware middleware);
  // Creates a group with its own middleware. Once frozen the group is still
  // returned (so call chains stay valid) but every registration on it fails.
  RouteGroup& Group(std::vector<Middleware> middleware = {});

  // Called (through the global middleware) for ids with no route, instead of
  // the caller's default (the framed protocol logs and drops them).
  // FailedPrecondition once frozen.
  absl::Status SetNotFoundHandler(Handler handler);
  bool has_not_found_handler() const { return static_cast<bool>(not_found_.handler); }

  // Whether Use() added any global middleware. A protocol whose routes are
  // its own and ungrouped (the WebSocket server's) may call its handler
  // directly when there is none, exactly as Dispatch() would.
  bool has_global_middleware() const { return !middleware_.empty(); }

  // Ends configuration (idempotent). Servers call it when they start.
  void Freeze();
  bool frozen() const;

  // The route for `id`, or null.
  const Route* Find(uint32_t id) const {
    if (id < dense_.size()) return dense_[id].handler ? &dense_[id] : nullptr;
    if (sparse_.empty()) return nullptr;
    auto it = sparse_.find(id);
    return it == sparse_.end() ? nullptr : &it->second;
  }

  // Runs the middleware chain and handler for the request's id (or the
  // not-found handler). Returns false when there is neither.
  // Inline for the common case (a route with no middleware at all), which
  // is then one lookup and one call from the framed protocol's loop.
  bool Dispatch(Request& request) const {
    const Route* route = Find(request.id());
    if (route != nullptr && route->group == nullptr && middleware_.empty()) [[likely]] {
      route->handler(request);
      return true;
    }
    return DispatchWithMiddleware(request, route);
  }

  size_t size() const { return count_; }

 private:
  friend class RouteGroup;
  friend class Next;
  absl::Status AddRoute(uint32_t id, Handler handler, const RouteGroup* group);
  absl::Status AddMiddleware(std::vector<Middleware>& chain, Middleware middleware);
  absl::Status CheckNotFrozen(const char* what) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Run(const Route& route, Request& request, size_t index) const;

  // Dispatch() for a route with middleware, an unknown id (`route` null)
  // and the not-found handler.
  bool DispatchWithMiddleware(Request& request, const Route* route) const;

  std::vector<Route> dense_;  // grows to cover the largest dense id used
  absl::flat_hash_map<uint32_t, Route> sparse_;
  std::vector<Middleware> middleware_;
  std::deque<RouteGroup> groups_;  // deque: stable addresses
  Route not_found_;
  size_t count_ = 0;
  // Serialises registrations; Dispatch() never takes it.
  mutable Mutex mu_;
  bool frozen_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace netman

#endif  // NETMAN_ROUTER_ROUTER_H_
