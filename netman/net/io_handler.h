// Copyright netman authors.
//
// IoHandler: what an EventLoop calls when a registered fd is ready. Acceptor
// and Connection implement it; the loop passes the handler pointer to the
// Poller as the fd's tag, so dispatch is one virtual call.
//
// Threading: OnIoEvent runs on the loop thread that registered the fd.
#ifndef NETMAN_NET_IO_HANDLER_H_
#define NETMAN_NET_IO_HANDLER_H_

#include <cstdint>

namespace netman {

class IoHandler {
 public:
  virtual ~IoHandler() = default;
  // `events` is a set of PollBits (netman/poller/poller.h).
  virtual void OnIoEvent(uint32_t events) = 0;
};

}  // namespace netman

#endif  // NETMAN_NET_IO_HANDLER_H_
