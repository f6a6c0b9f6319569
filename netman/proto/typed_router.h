// Copyright netman authors.
//
// TypedRouter: protobuf handlers on top of the byte Router. A handler takes
// the parsed message, `void(Request&, const MyRequest&)`, and is registered
// for the id its type is declared with (MessageRegistry: each id and each
// type once). Under the hood each typed handler is an ordinary byte route
// that parses the body and calls it, so global middleware, groups, the
// not-found handler, close_on_unknown_id and every server (TcpServer, the
// WebSocket server) work exactly as for byte handlers, and byte routes and
// typed routes share one server. The server core knows nothing of protobuf.
//
// Example:
//   netman::TcpServer server(options);
//   netman::TypedRouter typed(server);                     // or a Router
//   (void)typed.Declare<kv::GetReply>(2);                  // reply type
//   (void)typed.AddRouter<kv::GetRequest>(                 // declares id 1
//       1, [&](netman::Request& r, const kv::GetRequest& get) {
//         kv::GetReply reply;
//         reply.set_value(store.Get(get.key()));
//         (void)typed.Send(r.connection(), reply);         // id 2, in place
//       });
//   netman::RouteGroup& admin = server.Group({RequireAdmin});
//   (void)typed.AddRouter<kv::Clear>(admin, 9, HandleClear);  // middleware
//
// A body that does not parse as its id's type (bad input from the peer) is
// counted (the loop's decode_errors, so ServerStats::decode_errors, and
// bad_payloads() here), logged as a warning (rate-limited: LogRateLimiter)
// and then, by Options::on_bad_payload, either closes the connection
// (ForceClose with InvalidArgument, the default: a peer sending malformed
// messages is broken) or is dropped with the connection left open. The
// handler never sees it.
//
// Parsing reuses one message object per type and loop thread (bodies up to
// Options::max_reused_body): Clear() keeps the capacity of its strings and
// repeated fields, so a steady stream of requests parses without allocating.
// The handler's `const T&` is valid only during the call (copy what you
// keep). A handler that dispatches another message of the same type on the
// same thread from inside itself gets a fresh object for it, not the one in
// use.
//
// Threading: configuration (Declare, AddRouter) as the Router's: before the
// server starts. Handlers run on the loop thread of their connection; Send()
// is Connection::SendWith's.
#ifndef NETMAN_PROTO_TYPED_ROUTER_H_
#define NETMAN_PROTO_TYPED_ROUTER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "netman/base/log_rate_limiter.h"
#include "netman/codec/protobuf_codec.h"
#include "netman/proto/message_registry.h"
#include "netman/proto/send_proto.h"
#include "netman/router/request.h"
#include "netman/router/router.h"

namespace netman {

// What TypedRouter does with a body that does not parse as its id's type.
enum class BadPayloadPolicy : uint8_t {
  kClose,  // ForceClose(InvalidArgument): the default
  kDrop,   // drop the message, keep the connection
};

// TypedRouter::Options (at namespace scope so that it can be a default
// argument of the constructor).
struct TypedRouterOptions {
  // Bodies up to this size parse into the reused per-thread object; larger
  // ones into a fresh one, so one huge message does not pin its memory.
  static constexpr size_t kDefaultMaxReusedBody = size_t{64} << 10;

  BadPayloadPolicy on_bad_payload = BadPayloadPolicy::kClose;
  size_t max_reused_body = kDefaultMaxReusedBody;
};

class TypedRouter {
 public:
  using BadPayloadPolicy = ::netman::BadPayloadPolicy;
  using Options = TypedRouterOptions;

  template <ProtoMessage T>
  using TypedHandler = std::function<void(Request&, const T&)>;

  // Typed routes go to `routes`: a Router, a server (TcpServer, ...), or
  // anything with `absl::Status AddRouter(uint32_t, Handler)`. `routes` must
  // outlive this object, which must outlive the server's dispatching.
  template <typename Routes>
  explicit TypedRouter(Routes& routes, Options options = {})
      : add_route_([&routes](uint32_t id, Handler handler) {
          return routes.AddRouter(id, std::move(handler));
        }),
        options_(options) {}
  TypedRouter(const TypedRouter&) = delete;
  TypedRouter& operator=(const TypedRouter&) = delete;

  // Declares `id` <-> T (see MessageRegistry), e.g. for reply types.
  template <ProtoMessage T>
  absl::Status Declare(uint32_t id) {
    return registry_.Declare<T>(id);
  }

  // Declares `id` <-> T and routes `id` to `handler`. AlreadyExists if `id`
  // or T is declared already or `id` has a route; InvalidArgument for an
  // empty handler; FailedPrecondition once the server runs. On error
  // nothing is declared or routed.
  template <ProtoMessage T>
  absl::Status AddRouter(uint32_t id, TypedHandler<T> handler) {
    return Add<T>(id, std::move(handler), add_route_);
  }
  // The same, through `group`'s middleware (a group of the same router).
  template <ProtoMessage T>
  absl::Status AddRouter(RouteGroup& group, uint32_t id, TypedHandler<T> handler) {
    return Add<T>(id, std::move(handler), [&group](uint32_t i, Handler h) {
      return group.AddRouter(i, std::move(h));
    });
  }

  // Sends `message` with the id its type is declared with (NotFound if it is
  // not), serialised in place (SendProto).
  template <ProtoMessage T>
  absl::Status Send(Connection& connection, const T& message) const {
    absl::StatusOr<uint32_t> id = registry_.IdOf<T>();
    if (!id.ok()) [[unlikely]] return id.status();
    return SendProto(connection, *id, message);
  }

  const MessageRegistry& registry() const { return registry_; }
  // Messages whose body did not parse, over all loops.
  uint64_t bad_payloads() const { return bad_payloads_.load(std::memory_order_relaxed); }

 private:
  using AddRouteFn = std::function<absl::Status(uint32_t, Handler)>;

  template <typename T>
  struct Scratch {
    T message;
    bool in_use = false;
  };
  // The reused message for T on this thread (a loop thread: one per loop).
  template <typename T>
  static Scratch<T>& ThreadScratch() {
    thread_local Scratch<T> scratch;
    return scratch;
  }

  template <ProtoMessage T>
  absl::Status Add(uint32_t id, TypedHandler<T> handler, const AddRouteFn& add) {
    if (!handler) {
      return absl::InvalidArgumentError(
          absl::StrCat("empty handler for ", T::descriptor()->full_name()));
    }
    if (absl::Status s = registry_.Declare<T>(id); !s.ok()) return s;
    absl::Status s = add(id, [this, handler = std::move(handler)](Request& request) {
      Dispatch<T>(request, handler);
    });
    if (!s.ok()) registry_.Forget(id);
    return s;
  }

  template <typename T>
  void Dispatch(Request& request, const TypedHandler<T>& handler) {
    const std::string_view body = request.body();
    if (body.size() <= options_.max_reused_body) [[likely]] {
      Scratch<T>& scratch = ThreadScratch<T>();
      if (!scratch.in_use) [[likely]] {
        scratch.in_use = true;
        struct Release {
          bool& in_use;
          ~Release() { in_use = false; }
        } release{scratch.in_use};
        ParseAndCall(request, body, scratch.message, handler);
        return;
      }
    }
    T message;
    ParseAndCall(request, body, message, handler);
  }

  template <typename T>
  void ParseAndCall(Request& request, std::string_view body, T& message,
                    const TypedHandler<T>& handler) {
    if (!ParseProto(body, message).ok()) [[unlikely]] {
      BadPayload(request, message);
      return;
    }
    handler(request, message);
  }

  // Counts, logs and applies the policy to a body that did not parse.
  [[gnu::cold, gnu::noinline]] void BadPayload(Request& request,
                                               const google::protobuf::Message& type);

  AddRouteFn add_route_;
  const Options options_;
  MessageRegistry registry_;
  std::atomic<uint64_t> bad_payloads_{0};
  LogRateLimiter bad_payload_log_;
};

}  // namespace netman

#endif  // NETMAN_PROTO_TYPED_ROUTER_H_
