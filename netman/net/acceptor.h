// Copyright netman authors.
//
// Acceptor: a listening socket on an EventLoop. On readiness it accepts until
// the backlog is empty (accept4 with SOCK_NONBLOCK|SOCK_CLOEXEC) and hands
// each new socket to its callback.
//
// Accept errors are sorted as muduo does: transient ones (EAGAIN,
// ECONNABORTED, EINTR, EPROTO, EPERM) are skipped; running out of
// descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) pauses accepting
// (no busy loop on a level-triggered listener), logs one warning, and resumes
// after `retry_delay` or as soon as Resume() is called (the server calls it
// when a connection closes and frees a descriptor). Pending connections wait
// in the kernel backlog meanwhile; none is accepted-and-dropped.
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

  struct Options {
    int backlog = 4096;
    bool reuse_port = false;
    absl::Duration retry_delay = absl::Milliseconds(100);
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

  EventLoop* const loop_;
  UniqueFd fd_;
  const SocketAddress local_address_;
  const Options options_;
  const NewConnectionCallback callback_;
  std::atomic<bool> paused_{false};
  bool listening_ = false;
  TimerId retry_timer_ = 0;
  // Keeps posted Resume tasks from touching a destroyed acceptor.
  std::shared_ptr<Acceptor*> alive_;
};

}  // namespace netman

#endif  // NETMAN_NET_ACCEPTOR_H_
