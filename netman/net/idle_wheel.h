// Copyright netman authors.
//
// IdleWheel: finds entries (connections) that have been inactive for a given
// time, for heartbeats, at a cost that does not grow with the number of
// entries per tick.
//
// Activity is O(1) and allocation-free: Entry::Touch() stores a timestamp.
// Entries live in intrusive lists in a ring of buckets, one bucket per tick.
// An entry sits in the bucket of the tick when it would expire if nothing
// happened. Advance() visits only the buckets that came due since the last
// call. For each entry there, it either expires it (idle for idle_time or
// more) or moves it to the bucket of its new deadline. So each entry is
// visited about once per idle period, however often it is touched.
//
// Example (one per event loop):
//   IdleWheel wheel(absl::Seconds(30), absl::Seconds(1), clock.Now());
//   wheel.Add(&connection, clock.Now());          // Connection is an Entry
//   connection.Touch(now);                        // on every read
//   loop.RunEvery(absl::Seconds(1), [&] {
//     wheel.Advance(clock.Now(), [](IdleWheel::Entry* e) {
//       static_cast<Connection*>(e)->ForceClose(...);
//       return true;                              // false: still busy
//     });
//   });
//
// Threading: not synchronised; owned and used by one loop thread.
#ifndef NETMAN_NET_IDLE_WHEEL_H_
#define NETMAN_NET_IDLE_WHEEL_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "absl/time/time.h"

namespace netman {

class IdleWheel {
 public:
  // Embed (or derive from) one per tracked object. Unlinks itself on
  // destruction.
  class Entry {
   public:
    Entry() = default;
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;
    ~Entry() { Unlink(); }

    // Records activity at `now`.
    void Touch(absl::Time now) { last_active_ns_ = absl::ToUnixNanos(now); }
    // The same with `now` as absl::ToUnixNanos(now), for per-read callers
    // that have it at hand (abseil's time conversions are not inline).
    void TouchUnixNanos(int64_t now_ns) { last_active_ns_ = now_ns; }
    absl::Time last_active() const { return absl::FromUnixNanos(last_active_ns_); }
    bool in_wheel() const { return next_ != nullptr; }
    // Leaves the wheel (no-op if not in one).
    void Unlink() {
      if (next_ == nullptr) return;
      prev_->next_ = next_;
      next_->prev_ = prev_;
      prev_ = next_ = nullptr;
    }

   private:
    friend class IdleWheel;
    Entry* prev_ = nullptr;
    Entry* next_ = nullptr;
    int64_t last_active_ns_ = 0;
  };

  // Called for an entry idle for idle_time or more (already unlinked).
  // Returns true if it dealt with it (e.g. closed it); false means "still
  // busy": the entry counts as active now and stays in the wheel.
  using IdleCallback = std::function<bool(Entry*)>;

  // What the deadline counts from.
  enum class Expiry : uint8_t {
    kIdle,        // the last Touch(): heartbeats
    kSinceAdded,  // Add(), whatever the entry does since: handshake timeouts
  };

  // `idle_time` and `tick` must be positive; expiry happens at the first
  // Advance() at or after a tick boundary past the deadline, so it is late by
  // at most one tick (plus however late Advance() is called).
  IdleWheel(absl::Duration idle_time, absl::Duration tick, absl::Time now,
            Expiry expiry = Expiry::kIdle);
  ~IdleWheel();
  IdleWheel(const IdleWheel&) = delete;
  IdleWheel& operator=(const IdleWheel&) = delete;

  // Starts tracking `entry` as active at `now`. Advance() need not run
  // while the wheel is empty: Add() catches up with the ticks it missed.
  // While entries are tracked it must run at least once per tick.
  void Add(Entry* entry, absl::Time now);
  // Expires what has been idle for idle_time as of `now`. Returns how many
  // entries were expired.
  size_t Advance(absl::Time now, const IdleCallback& on_idle);

  // True when no entry is tracked (a look at every bucket's head).
  bool empty() const;
  absl::Duration idle_time() const { return idle_; }
  absl::Duration tick() const { return tick_; }
  size_t bucket_count() const { return buckets_; }

 private:
  int64_t TickAt(absl::Time t) const;  // floor
  // Moves done_tick_ over the empty buckets due by `now_tick`.
  void CatchUp(int64_t now_tick);
  void Place(Entry* entry);            // into the bucket of its deadline
  static void PushBack(Entry* head, Entry* entry);

  const absl::Duration idle_;
  const absl::Duration tick_;
  const absl::Time origin_;
  const size_t buckets_;
  const Expiry expiry_;
  std::unique_ptr<Entry[]> heads_;  // circular-list sentinels, one per bucket
  int64_t done_tick_;               // last tick whose bucket was processed
};

}  // namespace netman

#endif  // NETMAN_NET_IDLE_WHEEL_H_
