// Copyright netman authors.
//
// SignalWaiter: how a server binary's main thread spends its life while the
// server's loops run in the background. Constructed before any thread
// starts, it blocks the stop signals (SIGINT, SIGTERM) and the action
// signals it is given, in the calling thread and so in every thread started
// after it (the loops never see them), and ignores SIGPIPE (a write to a
// closed socket is an error the connection handles, not a signal).
// WaitForStop() then takes the signals with sigwait(2): an action signal
// runs its action on the main thread and the wait goes on; a stop signal
// ends it.
//
//   int main(int argc, char** argv) {
//     ...parse flags...
//     netman::SignalWaiter signals({SIGUSR1});  // before the server's threads
//     netman::TcpServer server(options);
//     ...routes, StartInBackground...
//     signals.On(SIGUSR1, [&server] { std::puts(server.stats().ToJson().c_str()); });
//     const int stop = signals.WaitForStop();
//     server.Shutdown(absl::Seconds(5));
//   }
//
// An action signal with no action set is taken and ignored.
//
// Threading: construct, On() and WaitForStop() on the main thread; construct
// before any other thread starts (threads keep the signal mask they started
// with).
#ifndef NETMAN_SERVER_SIGNAL_WAITER_H_
#define NETMAN_SERVER_SIGNAL_WAITER_H_

#include <signal.h>

#include <functional>
#include <initializer_list>
#include <utility>
#include <vector>

namespace netman {

class SignalWaiter {
 public:
  explicit SignalWaiter(std::initializer_list<int> action_signals = {});
  SignalWaiter(const SignalWaiter&) = delete;
  SignalWaiter& operator=(const SignalWaiter&) = delete;

  // What `signal`, one of the constructor's action signals, does from now
  // on (replacing an earlier action). Aborts for any other signal: it was
  // not blocked, so it would never reach WaitForStop().
  void On(int signal, std::function<void()> action);

  // Waits, running actions, until SIGINT or SIGTERM; returns which came.
  int WaitForStop();

 private:
  sigset_t waited_;
  std::vector<std::pair<int, std::function<void()>>> actions_;
};

}  // namespace netman

#endif  // NETMAN_SERVER_SIGNAL_WAITER_H_
