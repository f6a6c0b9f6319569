// Copyright netman authors.
//
// FakePoller: a Poller that watches nothing. It accepts any fd (even -1),
// reports no events, and Wait() returns when its timeout passes or Wakeup()
// is called. With it an EventLoop runs timers and posted tasks with no
// kernel objects at all: what FakeConnection and socket-free tests need.
//
// Threading: as Poller (Wakeup() from any thread).
#ifndef NETMAN_TESTING_FAKE_POLLER_H_
#define NETMAN_TESTING_FAKE_POLLER_H_

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "netman/base/sync.h"
#include "netman/poller/poller.h"

namespace netman::testing {

class FakePoller final : public Poller {
 public:
  static absl::StatusOr<std::unique_ptr<Poller>> Create() {
    return std::unique_ptr<Poller>(std::make_unique<FakePoller>());
  }

  absl::Status Add(int, uint32_t, void*) override { return absl::OkStatus(); }
  absl::Status Modify(int, uint32_t, void*) override { return absl::OkStatus(); }
  absl::Status Remove(int) override { return absl::OkStatus(); }

  absl::StatusOr<int> Wait(absl::Duration timeout, std::vector<PollEvent>& events) override {
    events.clear();
    MutexLock lock(&mu_);
    if (timeout > absl::ZeroDuration()) {  // a zero timeout only looks
      mu_.AwaitWithTimeout([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return woken_; },
                           timeout);
    }
    woken_ = false;
    return 0;
  }

  void Wakeup() override {
    MutexLock lock(&mu_);
    woken_ = true;
  }

 private:
  Mutex mu_;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace netman::testing

#endif  // NETMAN_TESTING_FAKE_POLLER_H_
