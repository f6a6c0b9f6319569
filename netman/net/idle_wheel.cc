// Copyright netman authors.
#include "netman/net/idle_wheel.h"

#include <algorithm>

namespace netman {

IdleWheel::IdleWheel(absl::Duration idle_time, absl::Duration tick,
                     absl::Time now, Expiry expiry)
    : idle_(idle_time),
      tick_(tick),
      origin_(now),
      // Deadlines are at most idle_ + one tick ahead of the tick being
      // processed; two spare buckets keep them from wrapping onto it.
      buckets_(static_cast<size_t>(absl::Ceil(idle_time, tick) / tick) + 2),
      expiry_(expiry),
      heads_(new Entry[buckets_]),
      done_tick_(0) {
  for (size_t i = 0; i < buckets_; ++i) heads_[i].prev_ = heads_[i].next_ = &heads_[i];
}

IdleWheel::~IdleWheel() {
  // Detach every entry so none keeps pointers into the freed sentinels.
  for (size_t i = 0; i < buckets_; ++i) {
    Entry* head = &heads_[i];
    while (head->next_ != head) head->next_->Unlink();
    head->prev_ = head->next_ = nullptr;
  }
}

int64_t IdleWheel::TickAt(absl::Time t) const {
  absl::Duration remainder;
  return absl::IDivDuration(t - origin_, tick_, &remainder);
}

void IdleWheel::PushBack(Entry* head, Entry* entry) {
  entry->prev_ = head->prev_;
  entry->next_ = head;
  head->prev_->next_ = entry;
  head->prev_ = entry;
}

void IdleWheel::Place(Entry* entry) {
  // The first tick at or after the deadline, never one already processed.
  const absl::Time deadline = entry->last_active() + idle_;
  int64_t tick = TickAt(deadline);
  if (origin_ + tick_ * tick < deadline) ++tick;
  tick = std::max(tick, done_tick_ + 1);
  PushBack(&heads_[static_cast<size_t>(tick) % buckets_], entry);
}

void IdleWheel::CatchUp(int64_t now_tick) {
  const int64_t behind = now_tick - done_tick_;
  if (behind <= 0) return;
  const int64_t visits = std::min<int64_t>(behind, static_cast<int64_t>(buckets_));
  for (int64_t i = 0; i < visits; ++i) {
    const Entry* head = &heads_[static_cast<size_t>(done_tick_ + 1) % buckets_];
    if (head->next_ != head) return;  // due entries: Advance() expires them
    ++done_tick_;
  }
  done_tick_ = now_tick;  // every bucket was empty
}

void IdleWheel::Add(Entry* entry, absl::Time now) {
  entry->Unlink();
  entry->Touch(now);
  // A wheel not advanced for a while (one whose owner stops its timer while
  // it is empty) first skips the empty ticks it has not visited: otherwise
  // the new entry's bucket could be one of those stale ticks, reached by the
  // next Advance() a whole revolution early.
  CatchUp(TickAt(now));
  Place(entry);
}

bool IdleWheel::empty() const {
  for (size_t i = 0; i < buckets_; ++i) {
    if (heads_[i].next_ != &heads_[i]) return false;
  }
  return true;
}

size_t IdleWheel::Advance(absl::Time now, const IdleCallback& on_idle) {
  const int64_t now_tick = TickAt(now);
  size_t expired = 0;
  // After a long pause every bucket is due once; no need to go round twice.
  int64_t first = std::max(done_tick_ + 1, now_tick - static_cast<int64_t>(buckets_) + 1);
  for (int64_t tick = first; tick <= now_tick; ++tick) {
    Entry* head = &heads_[static_cast<size_t>(tick) % buckets_];
    if (head->next_ == head) continue;
    // Detach the bucket first: callbacks may close (unlink) any entry.
    Entry due;
    due.prev_ = head->prev_;
    due.next_ = head->next_;
    due.prev_->next_ = &due;
    due.next_->prev_ = &due;
    head->prev_ = head->next_ = head;
    done_tick_ = tick;
    while (due.next_ != &due) {
      Entry* e = due.next_;
      e->Unlink();
      // An entry's bucket is that of its deadline, so every entry in a due
      // bucket has reached it, unless activity since moved its deadline on.
      if (expiry_ == Expiry::kSinceAdded || e->last_active() + idle_ <= now) {
        if (on_idle(e)) {
          ++expired;
          continue;
        }
        e->Touch(now);  // busy: counts as activity
      }
      Place(e);
    }
    due.prev_ = due.next_ = nullptr;  // nothing left to unlink
  }
  done_tick_ = std::max(done_tick_, now_tick);
  return expired;
}

}  // namespace netman
