// Copyright netman authors.
//
// CreateDefaultPoller() for the platform this file is built for; BUILD selects
// which implementation is linked.
#include "netman/poller/poller.h"

#if defined(__linux__)
#include "netman/poller/epoll_poller.h"
#else
#include "netman/poller/kqueue_poller.h"
#endif

namespace netman {

absl::StatusOr<std::unique_ptr<Poller>> CreateDefaultPoller() {
#if defined(__linux__)
  auto poller = EpollPoller::Create();
#else
  auto poller = KqueuePoller::Create();
#endif
  if (!poller.ok()) return poller.status();
  return std::unique_ptr<Poller>(std::move(*poller));
}

}  // namespace netman
