// Copyright netman authors.
#include "netman/poller/epoll_poller.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>

#include "netman/base/status.h"

namespace netman {
namespace {

constexpr size_t kInitialEvents = 256;
constexpr size_t kMaxEvents = 8192;

uint32_t ToEpoll(uint32_t interest) {
  uint32_t e = 0;
  if (interest & kPollReadable) e |= EPOLLIN | EPOLLRDHUP;
  if (interest & kPollWritable) e |= EPOLLOUT;
  return e;
}

uint32_t FromEpoll(uint32_t e) {
  uint32_t bits = 0;
  if (e & (EPOLLIN | EPOLLPRI | EPOLLRDHUP)) bits |= kPollReadable;
  if (e & EPOLLOUT) bits |= kPollWritable;
  if (e & EPOLLERR) bits |= kPollError | kPollReadable;
  if (e & EPOLLHUP) bits |= kPollHangup | kPollReadable;
  return bits;
}

// Rounds up so that a timer due in 0.4 ms does not turn into a busy loop of
// zero-timeout waits.
int ToTimeoutMs(absl::Duration timeout) {
  if (timeout == absl::InfiniteDuration()) return -1;
  if (timeout <= absl::ZeroDuration()) return 0;
  int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(timeout, absl::Milliseconds(1)));
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

// The eventfd's tag: an address no caller can pass (callers may use null).
void* WakeupTag() {
  static char marker;
  return &marker;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EpollPoller>> EpollPoller::Create() {
  UniqueFd epoll_fd(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd) return ErrnoStatus(errno, "epoll_create1");
  UniqueFd wakeup_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wakeup_fd) return ErrnoStatus(errno, "eventfd");
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.ptr = WakeupTag();
  if (::epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, wakeup_fd.get(), &ev) != 0) {
    return ErrnoStatus(errno, "epoll_ctl(ADD eventfd)");
  }
  return std::unique_ptr<EpollPoller>(
      new EpollPoller(std::move(epoll_fd), std::move(wakeup_fd)));
}

EpollPoller::EpollPoller(UniqueFd epoll_fd, UniqueFd wakeup_fd)
    : epoll_fd_(std::move(epoll_fd)),
      wakeup_fd_(std::move(wakeup_fd)),
      ready_(kInitialEvents) {}

absl::Status EpollPoller::Control(int op, int fd, uint32_t interest, void* tag) {
  struct epoll_event ev = {};
  ev.events = ToEpoll(interest);
  ev.data.ptr = tag;
  if (::epoll_ctl(epoll_fd_.get(), op, fd, &ev) != 0) {
    return ErrnoStatus(errno, op == EPOLL_CTL_ADD   ? "epoll_ctl(ADD)"
                              : op == EPOLL_CTL_MOD ? "epoll_ctl(MOD)"
                                                    : "epoll_ctl(DEL)");
  }
  return absl::OkStatus();
}

absl::Status EpollPoller::Add(int fd, uint32_t interest, void* tag) {
  return Control(EPOLL_CTL_ADD, fd, interest, tag);
}

absl::Status EpollPoller::Modify(int fd, uint32_t interest, void* tag) {
  return Control(EPOLL_CTL_MOD, fd, interest, tag);
}

absl::Status EpollPoller::Remove(int fd) {
  return Control(EPOLL_CTL_DEL, fd, 0, nullptr);
}

absl::StatusOr<int> EpollPoller::Wait(absl::Duration timeout,
                                      std::vector<PollEvent>& events) {
  events.clear();
  int n = ::epoll_wait(epoll_fd_.get(), ready_.data(),
                       static_cast<int>(ready_.size()), ToTimeoutMs(timeout));
  if (n < 0) {
    if (errno == EINTR) return 0;
    return ErrnoStatus(errno, "epoll_wait");
  }
  for (int i = 0; i < n; ++i) {
    const struct epoll_event& ev = ready_[i];
    if (ev.data.ptr == WakeupTag()) {  // our eventfd: reset it, report nothing
      uint64_t value;
      while (::read(wakeup_fd_.get(), &value, sizeof(value)) > 0) {
      }
      continue;
    }
    events.push_back(PollEvent{ev.data.ptr, FromEpoll(ev.events)});
  }
  // A full batch suggests more fds are ready than we asked for: grow.
  if (static_cast<size_t>(n) == ready_.size() && ready_.size() < kMaxEvents) {
    ready_.resize(ready_.size() * 2);
  }
  return static_cast<int>(events.size());
}

void EpollPoller::Wakeup() {
  uint64_t one = 1;
  // EAGAIN means the counter is saturated: a wakeup is pending anyway.
  ssize_t n = ::write(wakeup_fd_.get(), &one, sizeof(one));
  (void)n;
}

}  // namespace netman
