// Copyright netman authors.
#include "netman/router/router.h"

#include "absl/strings/str_cat.h"

namespace netman {

RouteGroup& RouteGroup::Use(Middleware middleware) {
  middleware_.push_back(std::move(middleware));
  return *this;
}

absl::Status RouteGroup::AddRouter(uint32_t id, Handler handler) {
  return router_->AddRoute(id, std::move(handler), this);
}

void Next::operator()() const { router_->Run(*route_, *request_, index_); }

Router::Router() = default;

absl::Status Router::AddRouter(uint32_t id, Handler handler) {
  return AddRoute(id, std::move(handler), nullptr);
}

absl::Status Router::AddRoute(uint32_t id, Handler handler,
                              const RouteGroup* group) {
  if (!handler) {
    return absl::InvalidArgumentError(
        absl::StrCat("empty handler for message id ", id));
  }
  if (Find(id) != nullptr) {
    return absl::AlreadyExistsError(
        absl::StrCat("message id ", id, " already has a handler"));
  }
  Route route{std::move(handler), group};
  if (id < kDenseIds) {
    if (dense_.size() <= id) dense_.resize(id + 1);
    dense_[id] = std::move(route);
  } else {
    sparse_.emplace(id, std::move(route));
  }
  ++count_;
  return absl::OkStatus();
}

Router& Router::Use(Middleware middleware) {
  middleware_.push_back(std::move(middleware));
  return *this;
}

RouteGroup& Router::Group(std::vector<Middleware> middleware) {
  groups_.push_back(RouteGroup(this));
  groups_.back().middleware_ = std::move(middleware);
  return groups_.back();
}

void Router::SetNotFoundHandler(Handler handler) {
  not_found_ = Route{std::move(handler), nullptr};
}

bool Router::DispatchWithMiddleware(Request& request, const Route* route) const {
  if (route == nullptr) {
    if (!not_found_.handler) return false;
    route = &not_found_;
  }
  // Fast path: no middleware at all.
  if (middleware_.empty() &&
      (route->group == nullptr || route->group->middleware_.empty())) {
    route->handler(request);
    return true;
  }
  Run(*route, request, 0);
  return true;
}

// Index `i` walks the global middleware, then the group's, then the handler.
void Router::Run(const Route& route, Request& request, size_t index) const {
  const size_t globals = middleware_.size();
  if (index < globals) {
    middleware_[index](request, Next(this, &route, &request, index + 1));
    return;
  }
  if (route.group != nullptr) {
    const std::vector<Middleware>& own = route.group->middleware_;
    if (index - globals < own.size()) {
      own[index - globals](request, Next(this, &route, &request, index + 1));
      return;
    }
  }
  route.handler(request);
}

}  // namespace netman
