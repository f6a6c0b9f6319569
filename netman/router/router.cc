// Copyright netman authors.
#include "netman/router/router.h"

#include "absl/strings/str_cat.h"

namespace netman {

absl::Status RouteGroup::Use(Middleware middleware) {
  return router_->AddMiddleware(middleware_, std::move(middleware));
}

absl::Status RouteGroup::AddRouter(uint32_t id, Handler handler) {
  return router_->AddRoute(id, std::move(handler), this);
}

void Next::operator()() const { router_->Run(*route_, *request_, index_); }

Router::Router() = default;

absl::Status Router::AddRouter(uint32_t id, Handler handler) {
  return AddRoute(id, std::move(handler), nullptr);
}

absl::Status Router::CheckNotFrozen(const char* what) const {
  if (!frozen_) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(what, " after the server started: routes and middleware are "
                         "fixed once it runs"));
}

absl::Status Router::AddRoute(uint32_t id, Handler handler,
                              const RouteGroup* group) {
  MutexLock lock(&mu_);
  if (absl::Status s = CheckNotFrozen("AddRouter"); !s.ok()) return s;
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

absl::Status Router::Use(Middleware middleware) {
  return AddMiddleware(middleware_, std::move(middleware));
}

absl::Status Router::AddMiddleware(std::vector<Middleware>& chain,
                                   Middleware middleware) {
  MutexLock lock(&mu_);
  if (absl::Status s = CheckNotFrozen("Use"); !s.ok()) return s;
  if (!middleware) return absl::InvalidArgumentError("empty middleware");
  chain.push_back(std::move(middleware));
  return absl::OkStatus();
}

RouteGroup& Router::Group(std::vector<Middleware> middleware) {
  MutexLock lock(&mu_);
  groups_.push_back(RouteGroup(this));
  // A frozen router hands out a group with no middleware, whose
  // registrations all fail.
  if (!frozen_) groups_.back().middleware_ = std::move(middleware);
  return groups_.back();
}

absl::Status Router::SetNotFoundHandler(Handler handler) {
  MutexLock lock(&mu_);
  if (absl::Status s = CheckNotFrozen("SetNotFoundHandler"); !s.ok()) return s;
  not_found_ = Route{std::move(handler), nullptr};
  return absl::OkStatus();
}

void Router::Freeze() {
  MutexLock lock(&mu_);
  frozen_ = true;
}

bool Router::frozen() const {
  MutexLock lock(&mu_);
  return frozen_;
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
