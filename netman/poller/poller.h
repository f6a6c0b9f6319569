// Copyright netman authors.
//
// Poller: readiness notification for file descriptors, the one part of the
// reactor that is operating-system specific. EpollPoller (Linux) and
// KqueuePoller (macOS/BSD) implement it; CreateDefaultPoller() picks the one
// built for this platform. An EventLoop owns exactly one Poller and is its only
// caller, except for Wakeup().
//
// Semantics every implementation provides (checked by the conformance suite in
// testing/poller_conformance.h):
//   * Level-triggered: an fd that stays readable (or writable) is reported by
//     every Wait() until the condition clears or the interest is removed.
//   * Each registered fd carries an opaque `void* tag` returned with its
//     events; the Poller never dereferences it.
//   * Errors and hang-ups are reported as kReadable|kError or kHangup so the
//     owner notices them through its normal read path. On epoll they are
//     reported even for an fd registered with interest 0, on every Wait():
//     an owner that stops reading must handle them (Connection closes).
//   * Wakeup() makes a concurrent or the next Wait() return promptly; it is
//     coalesced and its own events are never reported.
//
// Threading: all methods but Wakeup() must be called from the owning loop's
// thread. Wakeup() is safe from any thread.
#ifndef NETMAN_POLLER_POLLER_H_
#define NETMAN_POLLER_POLLER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace netman {

// Interest and event bits.
enum PollBits : uint32_t {
  kPollReadable = 1u << 0,
  kPollWritable = 1u << 1,
  kPollError = 1u << 2,   // events only
  kPollHangup = 1u << 3,  // events only: peer closed both directions or reset
};

struct PollEvent {
  void* tag;        // the tag given to Add()/Modify()
  uint32_t events;  // PollBits
};

class Poller {
 public:
  virtual ~Poller() = default;

  // Starts watching `fd` for `interest` (kPollReadable|kPollWritable, or 0
  // to register without interest). `fd` must not already be registered.
  virtual absl::Status Add(int fd, uint32_t interest, void* tag) = 0;
  // Replaces the interest set and tag of a registered fd.
  virtual absl::Status Modify(int fd, uint32_t interest, void* tag) = 0;
  // Stops watching `fd`. Must be called before the fd is closed.
  virtual absl::Status Remove(int fd) = 0;

  // Waits up to `timeout` (absl::InfiniteDuration() blocks until an event or a
  // Wakeup()) and replaces the contents of `events` with what is ready.
  // Returns the number of events; EINTR is reported as zero events.
  virtual absl::StatusOr<int> Wait(absl::Duration timeout,
                                   std::vector<PollEvent>& events) = 0;

  // Makes Wait() return soon. Safe from any thread, async-signal-safe.
  virtual void Wakeup() = 0;
};

// Factory type used by EventLoop and TcpServer options, so tests and users can
// inject another implementation.
using PollerFactory = std::function<absl::StatusOr<std::unique_ptr<Poller>>()>;

// The poller for this platform: epoll on Linux, kqueue on macOS/BSD.
absl::StatusOr<std::unique_ptr<Poller>> CreateDefaultPoller();

}  // namespace netman

#endif  // NETMAN_POLLER_POLLER_H_
