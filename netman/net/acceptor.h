// Copyright netman authors.
//
// Acceptor: a listening socket on an EventLoop. On readiness it accepts until
// the backlog is empty (accept4 with SOCK_NONBLOCK|SOCK_CLOEXEC) and hands
// each new socket to its callback.
//
// Accept errors are sorted as muduo does: transient ones (EAGAIN,
// ECONNABORTED, EINTR, EPROTO, EPERM) are skipped; running out of
// descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) pauses accepting
// (no busy loop on a level-triggered listener) and resumes after
// `retry_delay` or as soon as Resume() is called (the server calls it when a
// connection closes and frees a descriptor). Pending connections wait in the
// kernel backlog meanwhile; none is accepted-and-dropped.
//
// Logging a shortage: under a storm of clients at the descriptor limit the
// acceptor pauses and resumes once per freed descriptor, so it logs per
// shortage, not per pause. The first pause logs one WARNING (an unexpected
// errno: one ERROR) and the first resume one INFO "resuming"; later pauses
// and resumes are DEBUG lines until accepting has run for
// kShortageQuietPeriod without pausing. Then, if it paused more than once,
// one INFO line sums up the shortage ("paused N times in D"); the next
// pause is a new shortage with a new WARNING.
//
// Threading: created, used and destroyed on its loop's thread; Resume() is
// safe from any thread.
#ifndef NETMAN_NET_ACCEPTOR_H_
#define NETMAN_NET_ACCEPTOR_H_

#include <atomic>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "netman/base/unique_fd.h"
#include "netman/net/event_loop.h"
#include "netman/net/io_handler.h"
#include "netman/net/socket_address.h"

namespace netman {

class Acceptor final : public IoHandler {
 public:
  using NewConnectionCallback =
      std::function<void(UniqueFd fd, const SocketAddress& peer)>;

  // Accepts per readiness event at most; level triggering brings the
  // listener back for the rest, so a connection storm cannot starve the
  // established connections on this loop.
  static constexpr int kMaxAcceptsPerEvent = 1024;
  static constexpr int kDefaultBacklog = 4096;
  static constexpr absl::Duration kDefaultRetryDelay = absl::Milliseconds(100);
  // A descriptor shortage ends (and its summary is logged) once accepting
  // has run this long without pausing again.
  static constexpr absl::Duration kShortageQuietPeriod = absl::Seconds(10);

  struct Options {
    int backlog = kDefaultBacklog;
    bool reuse_port = false;
    // How long a pause lasts at most when no Resume() comes first.
    absl::Duration retry_delay = kDefaultRetryDelay;
  };

  // Binds and listens on `address`; call Listen() on the loop thread to start
  // accepting.
  static absl::StatusOr<std::unique_ptr<Acceptor>> Create(
      EventLoop* loop, const SocketAddress& address, Options options,
      NewConnectionCallback callback);
  ~Acceptor() override;

  absl::Status Listen();
  // Stops accepting and closes the listening socket. Loop thread only.
  void Close();
  // Resumes accepting after a descriptor shortage. Any thread; cheap when
  // not paused.
  void Resume();

  // The bound address (with the real port when bound to port 0).
  const SocketAddress& local_address() const { return local_address_; }
  bool paused() const { return paused_.load(std::memory_order_acquire); }

  void OnIoEvent(uint32_t events) override;

 private:
  Acceptor(EventLoop* loop, UniqueFd fd, SocketAddress local, Options options,
           NewConnectionCallback callback);
  void Pause(int error_number);
  void ResumeInLoop();
  // Runs kShortageQuietPeriod after the shortage began and again until
  // accepting has been quiet that long; then ends the shortage.
  void OnShortageTimer();

  EventLoop* const loop_;
  UniqueFd fd_;
  const SocketAddress local_address_;
  const Options options_;
  const NewConnectionCallback callback_;
  std::atomic<bool> paused_{false};
  bool listening_ = false;
  TimerId retry_timer_ = 0;
  // The current descriptor shortage (pauses == 0: none).
  struct Shortage {
    int pauses = 0;
    absl::Time began;
    absl::Time last_resume;
    TimerId timer = 0;
  };
  Shortage shortage_;
  // Keeps posted Resume tasks from touching a destroyed acceptor.
  std::shared_ptr<Acceptor*> alive_;
};

}  // namespace netman

#endif  // NETMAN_NET_ACCEPTOR_H_
