// Copyright netman authors.
#include "netman/server/signal_waiter.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <gtest/gtest.h>

namespace netman {
namespace {

// raise() on a blocked signal leaves it pending for this (the only) thread,
// where WaitForStop's sigwait takes it: no timing involved.

TEST(SignalWaiterTest, ActionsRunOnTheWaitingThreadUntilAStopSignal) {
  SignalWaiter signals({SIGUSR1, SIGHUP});
  int usr1 = 0;
  int hup = 0;
  signals.On(SIGUSR1, [&] {
    ++usr1;
    raise(SIGHUP);  // pending until the waiter takes it
  });
  signals.On(SIGHUP, [&] {
    ++hup;
    raise(SIGTERM);
  });
  raise(SIGUSR1);
  EXPECT_EQ(signals.WaitForStop(), SIGTERM);
  EXPECT_EQ(usr1, 1);
  EXPECT_EQ(hup, 1);
}

TEST(SignalWaiterTest, SigintStopsTooAndAnActionSignalWithoutActionIsIgnored) {
  SignalWaiter signals({SIGUSR2});
  raise(SIGUSR2);  // no action: taken, ignored (not the default: terminate)
  raise(SIGINT);
  EXPECT_EQ(signals.WaitForStop(), SIGINT);
}

TEST(SignalWaiterTest, SigpipeIsIgnored) {
  SignalWaiter signals;
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  ::close(fds[1]);
  // Without SIG_IGN this write would kill the test with SIGPIPE.
  EXPECT_EQ(::write(fds[0], "x", 1), -1);
  EXPECT_EQ(errno, EPIPE);
  ::close(fds[0]);
}

TEST(SignalWaiterDeathTest, OnForASignalNotBlockedAborts) {
  EXPECT_DEATH(
      {
        SignalWaiter signals({SIGUSR1});
        signals.On(SIGHUP, [] {});
      },
      "not one of the constructor's action signals");
}

}  // namespace
}  // namespace netman
