// Copyright netman authors.
//
// Request: what a handler receives for one message: the connection it came
// from and the message (id and body). The body view is valid only during the
// handler call; copy it to keep it.
//
// Example:
//   server.AddRouter(1, [](netman::Request& request) {
//     request.connection().Send(2, request.body());
//   });
//
// Threading: used on the connection's loop thread, within the handler call.
#ifndef NETMAN_ROUTER_REQUEST_H_
#define NETMAN_ROUTER_REQUEST_H_

#include <cstdint>
#include <string_view>

#include "netman/codec/packer.h"
#include "netman/net/connection.h"

namespace netman {

class Request {
 public:
  Request(Connection& connection, const Message& message)
      : connection_(connection), message_(message) {}

  Connection& connection() const { return connection_; }
  const Message& message() const { return message_; }
  uint32_t id() const { return message_.id; }
  std::string_view body() const { return message_.body; }

 private:
  Connection& connection_;
  const Message& message_;
};

}  // namespace netman

#endif  // NETMAN_ROUTER_REQUEST_H_
