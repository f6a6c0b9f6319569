// Copyright netman authors.
//
// RunOnLoopAndWait: runs `fn` on `loop`'s thread and returns once it has
// run, for tests and benchmarks that set up or inspect loop-owned state
// (connections, wheels) from the main thread.
//
// Threading: call from any thread but `loop`'s own (it would wait forever).
#ifndef NETMAN_TESTING_RUN_ON_LOOP_H_
#define NETMAN_TESTING_RUN_ON_LOOP_H_

#include "netman/base/sync.h"
#include "netman/net/event_loop.h"

namespace netman::testing {

template <typename Fn>
void RunOnLoopAndWait(EventLoop* loop, Fn fn) {
  Notification done;
  loop->Post([&fn, &done]() {
    fn();
    done.Notify();
  });
  done.WaitForNotification();
}

}  // namespace netman::testing

#endif  // NETMAN_TESTING_RUN_ON_LOOP_H_
