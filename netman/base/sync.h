// Copyright netman authors.
//
// Mutex, MutexLock and Notification: netman's synchronisation primitives.
//
// Why not absl::Mutex: netman links the system abseil (Debian's shared
// libraries), which is not built with ThreadSanitizer, so TSan cannot see
// absl::Mutex's happens-before edges and reports every access it protects as
// a race. These wrappers sit on std::mutex / std::condition_variable, i.e.
// on pthread calls that TSan intercepts, and carry the same Clang
// thread-safety annotations (ABSL_GUARDED_BY etc. work with them), so
// -Wthread-safety and TSan both keep working.
//
// Example:
//   netman::Mutex mu;
//   int count ABSL_GUARDED_BY(mu) = 0;
//   { netman::MutexLock lock(&mu); ++count; }
//   // Wait (with a deadline) until a condition holds:
//   netman::MutexLock lock(&mu);
//   bool ok = mu.AwaitWithTimeout([&] { return count > 3; }, absl::Seconds(5));
//
// Threading: all of it is for use from any thread.
#ifndef NETMAN_BASE_SYNC_H_
#define NETMAN_BASE_SYNC_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace netman {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  // Releases the mutex and wakes threads in AwaitWithTimeout() so they
  // re-check their conditions (as absl::Mutex::Await does). The wake-up
  // comes before the unlock: a waiter that then sees its condition may
  // destroy the object holding this Mutex (a Notification on its stack) as
  // soon as it can take the lock, which it cannot while we still touch cv_.
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    if (waiters_ > 0) cv_.notify_all();
    mu_.unlock();
  }

  // With the mutex held: waits until `condition()` is true (re-checked each
  // time another thread unlocks) or `timeout` passes. Returns the final
  // value of `condition()`. The mutex is held again on return.
  template <typename Condition>
  bool AwaitWithTimeout(Condition condition, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
    ++waiters_;
    bool result;
    if (timeout == absl::InfiniteDuration()) {
      cv_.wait(lock, condition);
      result = true;
    } else {
      result = cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), condition);
    }
    --waiters_;
    lock.release();  // still held: ownership goes back to the caller
    return result;
  }
  template <typename Condition>
  void Await(Condition condition) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    AwaitWithTimeout(condition, absl::InfiniteDuration());
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int waiters_ = 0;  // guarded by mu_
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// A one-shot event: Notify() once, any number of threads wait for it.
class Notification {
 public:
  void Notify() {
    MutexLock lock(&mu_);
    notified_ = true;
  }
  bool HasBeenNotified() {
    MutexLock lock(&mu_);
    return notified_;
  }
  void WaitForNotification() {
    MutexLock lock(&mu_);
    mu_.Await([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return notified_; });
  }
  bool WaitForNotificationWithTimeout(absl::Duration timeout) {
    MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(
        [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return notified_; }, timeout);
  }

 private:
  Mutex mu_;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace netman

#endif  // NETMAN_BASE_SYNC_H_
