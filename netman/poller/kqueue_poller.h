// Copyright netman authors.
//
// UNVERIFIED: this file has never been compiled or run on macOS or a BSD.
// netman is developed on Linux machines, which have no kqueue, and CI does not
// build it (the Bazel targets are incompatible with Linux and skipped there).
// It was written against the conformance suite in
// testing/poller_conformance.h; the only check so far was by hand on Linux,
// against a stub <sys/event.h> and a throwaway poll()-based imitation of the
// kqueue API, which says nothing about real kernels. Run
// `bazel test //netman/poller:kqueue_poller_test` on macOS or a BSD before
// relying on it.
//
// KqueuePoller: the macOS/BSD Poller, built on kqueue(2), level-triggered like
// EpollPoller.
//
// Each registered fd has up to two knotes, EVFILT_READ and EVFILT_WRITE, one
// per interest bit, both carrying the fd's tag in udata. They are added without
// EV_CLEAR, so the kernel keeps reporting an fd while it stays ready. A small
// map remembers each fd's interest, so Modify() adds only the filters that
// were missing and deletes only the ones no longer wanted; switching write
// interest on and off costs one kevent() change. Wait() merges the read and
// write events of one fd into a single PollEvent.
//
// Wakeup() triggers an EVFILT_USER event (NOTE_TRIGGER) that was registered
// with EV_CLEAR, so it resets once reported and any number of Wakeup()s before
// a Wait() coalesce. Where EVFILT_USER is missing (older OpenBSD) it writes to
// a non-blocking self-pipe instead.
//
// Event mapping: EVFILT_READ -> kPollReadable, EVFILT_WRITE -> kPollWritable;
// EV_EOF adds kPollHangup|kPollReadable (and kPollError when the kernel
// reports a socket error in fflags); EV_ERROR adds kPollError|kPollReadable.
// Note that EV_EOF on EVFILT_READ also means a half-close (the peer's
// shutdown(SHUT_WR)), which EpollPoller reports as kPollReadable only.
//
// Remove() must be called before the fd is closed (as Poller requires): the
// kernel drops the knotes of a closed fd by itself, but this class would keep
// the fd in its map and refuse a later Add() of the same descriptor number.
//
// Threading: see Poller. Wakeup() is safe from any thread.
#ifndef NETMAN_POLLER_KQUEUE_POLLER_H_
#define NETMAN_POLLER_KQUEUE_POLLER_H_

// clang-format off
#include <sys/types.h>  // before <sys/event.h> on older BSDs
#include <sys/event.h>
// clang-format on

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "netman/base/unique_fd.h"
#include "netman/poller/poller.h"

namespace netman {

class KqueuePoller final : public Poller {
 public:
  static absl::StatusOr<std::unique_ptr<KqueuePoller>> Create();

  absl::Status Add(int fd, uint32_t interest, void* tag) override;
  absl::Status Modify(int fd, uint32_t interest, void* tag) override;
  absl::Status Remove(int fd) override;
  absl::StatusOr<int> Wait(absl::Duration timeout,
                           std::vector<PollEvent>& events) override;
  void Wakeup() override;

 private:
  struct Registration {
    uint32_t interest = 0;  // the filters the kernel has: kPollReadable|...
    void* tag = nullptr;
    // Set by Wait(): the Wait() generation in which this fd last produced an
    // event, and that event's index, so a second filter merges into it.
    uint64_t generation = 0;
    size_t event_index = 0;
  };

  explicit KqueuePoller(UniqueFd kq);

  // Applies one change (EV_ADD/EV_DELETE/...) to `fd`'s `filter`.
  absl::Status Change(int fd, int16_t filter, uint16_t flags, void* tag);
  // Adds and deletes `fd`'s filters so that they match `interest` and all
  // carry `tag`. On failure `registration` still describes what the kernel
  // has, which may be a partial update.
  absl::Status Apply(int fd, uint32_t interest, void* tag,
                     Registration& registration);
  // Whether `ev` is our own wakeup event (and, for the self-pipe, drains it).
  bool ConsumeWakeup(const struct kevent& ev);

  UniqueFd kq_;
#if !defined(EVFILT_USER)
  UniqueFd wakeup_read_;   // self-pipe, registered for EVFILT_READ
  UniqueFd wakeup_write_;  // written by Wakeup()
#endif
  absl::flat_hash_map<int, Registration> registrations_;
  std::vector<struct kevent> ready_;
  uint64_t generation_ = 0;  // Wait() count, for merging events per fd
};

}  // namespace netman

#endif  // NETMAN_POLLER_KQUEUE_POLLER_H_
