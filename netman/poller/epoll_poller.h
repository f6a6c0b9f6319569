// Copyright netman authors.
//
// EpollPoller: the Linux Poller, built on epoll(7) in level-triggered mode
// with an eventfd for Wakeup().
//
// Why level-triggered: the connection read path reads at most one buffer per
// readiness event and then moves on, so one busy connection cannot starve the
// others on its loop; with level triggering the kernel simply reports the fd
// again on the next Wait(). Write interest is switched on only while a
// connection has output the kernel would not take, so the extra epoll_ctl
// calls happen only under backpressure. Edge-triggered mode would need every
// reader to drain to EAGAIN (one extra read(2) per event on the hot path).
//
// Threading: see Poller. Wakeup() is safe from any thread.
#ifndef NETMAN_POLLER_EPOLL_POLLER_H_
#define NETMAN_POLLER_EPOLL_POLLER_H_

#include <sys/epoll.h>

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "netman/base/unique_fd.h"
#include "netman/poller/poller.h"

namespace netman {

class EpollPoller final : public Poller {
 public:
  static absl::StatusOr<std::unique_ptr<EpollPoller>> Create();

  absl::Status Add(int fd, uint32_t interest, void* tag) override;
  absl::Status Modify(int fd, uint32_t interest, void* tag) override;
  absl::Status Remove(int fd) override;
  absl::StatusOr<int> Wait(absl::Duration timeout,
                           std::vector<PollEvent>& events) override;
  void Wakeup() override;

 private:
  EpollPoller(UniqueFd epoll_fd, UniqueFd wakeup_fd);
  absl::Status Control(int op, int fd, uint32_t interest, void* tag);

  UniqueFd epoll_fd_;
  UniqueFd wakeup_fd_;  // eventfd; registered with a private tag
  std::vector<struct epoll_event> ready_;
};

}  // namespace netman

#endif  // NETMAN_POLLER_EPOLL_POLLER_H_
