// Copyright netman authors.
//
// FramedProtocol: the Protocol of netman's TCP message server. It decodes
// messages with the server's Packer (the Go-compatible default or any
// other), enforces the max body length for every packer (rejecting an
// oversize message as soon as its header declares it), dispatches each
// message to the Router in arrival order on the connection's loop thread,
// and frames Connection::Send() with the same packer.
//
// What it does with problems (each closes only the connection concerned, with
// the reason passed on to OnClosed and logged by the server):
//   * a packer error (malformed header)      -> close, InvalidArgument/...;
//   * a declared body above max_body          -> close, ResourceExhausted;
//   * a handler throwing an exception         -> close, Internal;
//   * an id with no route: the not-found handler if set, else log
//     (rate-limited: LogRateLimiter) and drop (the connection stays open),
//     or close when close_on_unknown_id.
//
// Threading: one instance serves all connections of a server, from every
// loop (ProtocolPtr::Shared); it holds no per-connection state and is
// immutable after construction.
#ifndef NETMAN_SERVER_FRAMED_PROTOCOL_H_
#define NETMAN_SERVER_FRAMED_PROTOCOL_H_

#include <cstdint>
#include <span>

#include "netman/base/log.h"
#include "netman/base/log_rate_limiter.h"
#include "netman/codec/default_packer.h"
#include "netman/codec/packer.h"
#include "netman/net/connection.h"
#include "netman/net/protocol.h"
#include "netman/router/router.h"
#include "netman/server/server_options.h"

namespace netman {

class FramedProtocol final : public Protocol {
 public:
  struct Options {
    uint64_t max_body = kDefaultMaxBody;  // 0 = unlimited
    bool close_on_unknown_id = false;
  };

  // `packer`, `router` and `logger` must outlive this object.
  FramedProtocol(const Packer* packer, const Router* router, const Logger* logger,
                 Options options);

  absl::StatusOr<size_t> OnData(Connection& connection, std::span<char> input) override;
  absl::Status Encode(uint32_t id, std::string_view body, Buffer& out) override;
  absl::Status EncodeWith(uint32_t id, size_t size, BodyWriter writer,
                          Buffer& out) override;
  // Frames depend on the packer alone.
  const void* encoding_key() const override { return packer_; }

 private:
  // OnData's loop; with kDefaultPacker the packer is `default_packer_`,
  // called directly (its Decode is inline and never fails).
  template <bool kDefaultPacker>
  absl::StatusOr<size_t> DecodeAndDispatch(Connection& connection,
                                           std::string_view input);
  // Runs the route for `message`. False (with `*error` set) when the
  // connection must close.
  bool Dispatch(Connection& connection, const Message& message, absl::Status* error);
  // The cold paths of Dispatch(), out of line to keep its frame small.
  [[gnu::cold, gnu::noinline]] static absl::Status HandlerThrew(uint32_t id,
                                                                const char* what);
  [[gnu::cold, gnu::noinline]] absl::Status NoRoute(Connection& connection, uint32_t id);

  const Packer* const packer_;
  const DefaultPacker* const default_packer_;  // packer_ if it is one, else null
  const Router* const router_;
  const Logger* const logger_;
  const Options options_;
  // "no route for message id N" is logged per message: rate-limited.
  LogRateLimiter no_route_log_;
};

}  // namespace netman

#endif  // NETMAN_SERVER_FRAMED_PROTOCOL_H_
