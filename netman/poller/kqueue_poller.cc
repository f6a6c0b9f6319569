// Copyright netman authors.
//
// UNVERIFIED: never built on macOS/BSD; see the comment in kqueue_poller.h.
#include "netman/poller/kqueue_poller.h"

// clang-format off
#include <sys/types.h>
#include <sys/event.h>
// clang-format on
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "netman/base/status.h"

namespace netman {
namespace {

constexpr size_t kInitialEvents = 256;
constexpr size_t kMaxEvents = 8192;

// Longest single kevent() sleep; longer timeouts return early with zero
// events, as EpollPoller's do (its limit is INT_MAX milliseconds as well).
constexpr absl::Duration kMaxTimeout = absl::Milliseconds(INT_MAX);

// For change-only kevent() calls, which never need to sleep.
constexpr struct timespec kNoWait = {0, 0};

#if defined(EVFILT_USER)
// The EVFILT_USER identifier of the wakeup event. User events have their own
// identifier space, so it cannot clash with an fd.
constexpr uintptr_t kWakeupIdent = 0;
#endif

// Builds a kevent without EV_SET, whose expansion differs between systems
// (FreeBSD's is a C compound literal and also zeroes the ext[] array).
struct kevent MakeKevent(uintptr_t ident, int16_t filter, uint16_t flags,
                         uint32_t fflags, void* udata) {
  struct kevent ev;
  std::memset(&ev, 0, sizeof(ev));
  ev.ident = ident;
  ev.filter = filter;
  ev.flags = flags;
  ev.fflags = fflags;
  ev.data = 0;
  ev.udata = udata;
  return ev;
}

uint32_t FromKevent(const struct kevent& ev) {
  uint32_t bits = 0;
  if (ev.filter == EVFILT_READ) bits |= kPollReadable;
  if (ev.filter == EVFILT_WRITE) bits |= kPollWritable;
  if (ev.flags & EV_EOF) {
    bits |= kPollHangup | kPollReadable;
    // For sockets, fflags holds the pending socket error (e.g. ECONNRESET).
    if (ev.fflags != 0) bits |= kPollError;
  }
  if (ev.flags & EV_ERROR) bits |= kPollError | kPollReadable;
  return bits;
}

// Null for an infinite wait, else `ts` filled with the clamped timeout.
const struct timespec* ToTimespec(absl::Duration timeout, struct timespec& ts) {
  if (timeout == absl::InfiniteDuration()) return nullptr;
  timeout = std::clamp(timeout, absl::ZeroDuration(), kMaxTimeout);
  ts = absl::ToTimespec(timeout);
  return &ts;
}

const char* ChangeName(int16_t filter, uint16_t flags) {
  const bool read = filter == EVFILT_READ;
  if (flags & EV_DELETE) {
    return read ? "kevent(EV_DELETE EVFILT_READ)"
                : "kevent(EV_DELETE EVFILT_WRITE)";
  }
  return read ? "kevent(EV_ADD EVFILT_READ)" : "kevent(EV_ADD EVFILT_WRITE)";
}

#if !defined(EVFILT_USER)
// Makes a self-pipe end non-blocking and close-on-exec.
absl::Status SetFdFlags(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags == -1 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1) {
    return ErrnoStatus(errno, "fcntl(O_NONBLOCK)");
  }
  if (::fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
    return ErrnoStatus(errno, "fcntl(FD_CLOEXEC)");
  }
  return absl::OkStatus();
}
#endif

}  // namespace

absl::StatusOr<std::unique_ptr<KqueuePoller>> KqueuePoller::Create() {
  UniqueFd kq(::kqueue());
  if (!kq) return ErrnoStatus(errno, "kqueue");
  // kqueue descriptors are not inherited by fork(), but they are by exec().
  if (::fcntl(kq.get(), F_SETFD, FD_CLOEXEC) == -1) {
    return ErrnoStatus(errno, "fcntl(kqueue, FD_CLOEXEC)");
  }
#if defined(EVFILT_USER)
  struct kevent ev =
      MakeKevent(kWakeupIdent, EVFILT_USER, EV_ADD | EV_CLEAR, 0, nullptr);
  if (::kevent(kq.get(), &ev, 1, nullptr, 0, &kNoWait) == -1) {
    return ErrnoStatus(errno, "kevent(EV_ADD EVFILT_USER)");
  }
  return std::unique_ptr<KqueuePoller>(new KqueuePoller(std::move(kq)));
#else
  int fds[2];
  if (::pipe(fds) != 0) return ErrnoStatus(errno, "pipe");
  UniqueFd wakeup_read(fds[0]);
  UniqueFd wakeup_write(fds[1]);
  NETMAN_RETURN_IF_ERROR(SetFdFlags(wakeup_read.get()));
  NETMAN_RETURN_IF_ERROR(SetFdFlags(wakeup_write.get()));
  // Level-triggered like every other fd: it stays reported until drained.
  struct kevent ev = MakeKevent(static_cast<uintptr_t>(wakeup_read.get()),
                                EVFILT_READ, EV_ADD, 0, nullptr);
  if (::kevent(kq.get(), &ev, 1, nullptr, 0, &kNoWait) == -1) {
    return ErrnoStatus(errno, "kevent(EV_ADD wakeup pipe)");
  }
  std::unique_ptr<KqueuePoller> poller(new KqueuePoller(std::move(kq)));
  poller->wakeup_read_ = std::move(wakeup_read);
  poller->wakeup_write_ = std::move(wakeup_write);
  return poller;
#endif
}

KqueuePoller::KqueuePoller(UniqueFd kq)
    : kq_(std::move(kq)), ready_(kInitialEvents) {}

absl::Status KqueuePoller::Change(int fd, int16_t filter, uint16_t flags,
                                  void* tag) {
  struct kevent change =
      MakeKevent(static_cast<uintptr_t>(fd), filter, flags, 0, tag);
  // With no room for events, a failed change is reported as -1 and errno.
  if (::kevent(kq_.get(), &change, 1, nullptr, 0, &kNoWait) == -1) {
    return ErrnoStatus(errno, ChangeName(filter, flags));
  }
  return absl::OkStatus();
}

absl::Status KqueuePoller::Apply(int fd, uint32_t interest, void* tag,
                                 Registration& registration) {
  constexpr struct {
    uint32_t bit;
    int16_t filter;
  } kFilters[] = {{kPollReadable, EVFILT_READ}, {kPollWritable, EVFILT_WRITE}};
  for (const auto& f : kFilters) {
    const bool have = (registration.interest & f.bit) != 0;
    const bool want = (interest & f.bit) != 0;
    if (want) {
      if (have && registration.tag == tag) continue;  // nothing to change
      // EV_ADD on an existing knote updates it in place, including udata.
      NETMAN_RETURN_IF_ERROR(Change(fd, f.filter, EV_ADD | EV_ENABLE, tag));
      registration.interest |= f.bit;
    } else if (have) {
      NETMAN_RETURN_IF_ERROR(Change(fd, f.filter, EV_DELETE, nullptr));
      registration.interest &= ~f.bit;
    }
  }
  registration.tag = tag;
  return absl::OkStatus();
}

absl::Status KqueuePoller::Add(int fd, uint32_t interest, void* tag) {
  interest &= kPollReadable | kPollWritable;
  auto [it, inserted] = registrations_.try_emplace(fd);
  if (!inserted) {
    return absl::AlreadyExistsError(
        absl::StrCat("KqueuePoller::Add: fd ", fd, " is already registered"));
  }
  // With no interest nothing reaches the kernel, so check the fd here to fail
  // like epoll_ctl(EPOLL_CTL_ADD) would.
  if (interest == 0 && ::fcntl(fd, F_GETFD) == -1) {
    const int error = errno;
    registrations_.erase(it);
    return ErrnoStatus(error, "KqueuePoller::Add");
  }
  absl::Status status = Apply(fd, interest, tag, it->second);
  if (!status.ok()) {
    // Leave nothing behind: undo whichever filter was added.
    absl::Status undone = Apply(fd, 0, nullptr, it->second);
    (void)undone;
    registrations_.erase(it);
  }
  return status;
}

absl::Status KqueuePoller::Modify(int fd, uint32_t interest, void* tag) {
  auto it = registrations_.find(fd);
  if (it == registrations_.end()) {
    return absl::NotFoundError(
        absl::StrCat("KqueuePoller::Modify: fd ", fd, " is not registered"));
  }
  return Apply(fd, interest & (kPollReadable | kPollWritable), tag, it->second);
}

absl::Status KqueuePoller::Remove(int fd) {
  auto it = registrations_.find(fd);
  if (it == registrations_.end()) {
    return absl::NotFoundError(
        absl::StrCat("KqueuePoller::Remove: fd ", fd, " is not registered"));
  }
  // Delete both filters even if the first fails, then forget the fd.
  absl::Status status;
  if (it->second.interest & kPollReadable) {
    status.Update(Change(fd, EVFILT_READ, EV_DELETE, nullptr));
  }
  if (it->second.interest & kPollWritable) {
    status.Update(Change(fd, EVFILT_WRITE, EV_DELETE, nullptr));
  }
  registrations_.erase(it);
  return status;
}

bool KqueuePoller::ConsumeWakeup(const struct kevent& ev) {
#if defined(EVFILT_USER)
  // EV_CLEAR resets it as it is reported: nothing to drain.
  return ev.filter == EVFILT_USER;
#else
  if (ev.filter != EVFILT_READ ||
      ev.ident != static_cast<uintptr_t>(wakeup_read_.get())) {
    return false;
  }
  char buf[64];
  while (::read(wakeup_read_.get(), buf, sizeof(buf)) > 0) {
  }
  return true;
#endif
}

absl::StatusOr<int> KqueuePoller::Wait(absl::Duration timeout,
                                       std::vector<PollEvent>& events) {
  events.clear();
  struct timespec ts;
  const int n =
      ::kevent(kq_.get(), nullptr, 0, ready_.data(),
               static_cast<int>(ready_.size()), ToTimespec(timeout, ts));
  if (n < 0) {
    if (errno == EINTR) return 0;
    return ErrnoStatus(errno, "kevent(wait)");
  }
  ++generation_;
  for (int i = 0; i < n; ++i) {
    const struct kevent& ev = ready_[i];
    if (ConsumeWakeup(ev)) continue;
    const uint32_t bits = FromKevent(ev);
    const int fd = static_cast<int>(ev.ident);
    auto it = registrations_.find(fd);
    if (it == registrations_.end()) {
      // Cannot happen: Remove() deletes the knotes before forgetting the fd,
      // and nothing else runs between kevent() and here. Report it anyway.
      events.push_back(PollEvent{ev.udata, bits});
      continue;
    }
    Registration& registration = it->second;
    if (registration.generation == generation_) {
      // The fd's other filter already produced an event in this batch.
      events[registration.event_index].events |= bits;
      continue;
    }
    registration.generation = generation_;
    registration.event_index = events.size();
    events.push_back(PollEvent{ev.udata, bits});
  }
  // A full batch suggests more fds are ready than we asked for: grow.
  if (static_cast<size_t>(n) == ready_.size() && ready_.size() < kMaxEvents) {
    ready_.resize(ready_.size() * 2);
  }
  return static_cast<int>(events.size());
}

void KqueuePoller::Wakeup() {
#if defined(EVFILT_USER)
  struct kevent trigger =
      MakeKevent(kWakeupIdent, EVFILT_USER, 0, NOTE_TRIGGER, nullptr);
  // Fails only if the kqueue is gone; nothing useful to do about it here.
  int result = ::kevent(kq_.get(), &trigger, 1, nullptr, 0, &kNoWait);
  (void)result;
#else
  const char byte = 0;
  // EAGAIN means the pipe is full: a wakeup is pending anyway.
  ssize_t n = ::write(wakeup_write_.get(), &byte, 1);
  (void)n;
#endif
}

}  // namespace netman
