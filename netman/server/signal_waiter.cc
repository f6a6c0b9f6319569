// Copyright netman authors.
#include "netman/server/signal_waiter.h"

#include <pthread.h>

#include <cstdio>
#include <cstdlib>

namespace netman {
namespace {

bool IsStop(int signal) { return signal == SIGINT || signal == SIGTERM; }

}  // namespace

SignalWaiter::SignalWaiter(std::initializer_list<int> action_signals) {
  sigemptyset(&waited_);
  sigaddset(&waited_, SIGINT);
  sigaddset(&waited_, SIGTERM);
  for (int s : action_signals) {
    sigaddset(&waited_, s);
    actions_.emplace_back(s, nullptr);
  }
  pthread_sigmask(SIG_BLOCK, &waited_, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

void SignalWaiter::On(int signal, std::function<void()> action) {
  for (auto& [s, a] : actions_) {
    if (s == signal) {
      a = std::move(action);
      return;
    }
  }
  std::fprintf(stderr, "SignalWaiter::On(%d): not one of the constructor's action signals\n",
               signal);
  std::abort();
}

int SignalWaiter::WaitForStop() {
  for (;;) {
    int signal = 0;
    if (sigwait(&waited_, &signal) != 0) continue;
    if (IsStop(signal)) return signal;
    for (auto& [s, action] : actions_) {
      if (s == signal && action) action();
    }
  }
}

}  // namespace netman
