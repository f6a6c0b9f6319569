// Copyright netman authors.
//
// KvService: the example key-value service (kv.proto) on a netman server.
// Declare() holds the id <-> type table both ends share; Attach() routes
// the requests with a TypedRouter. The store is one map behind a mutex,
// shared by every loop.
//
// Example:
//   netman::TcpServer server(options);
//   netman::examples::KvService kv;
//   NETMAN_RETURN_IF_ERROR(kv.Attach(server));
//   ... server.Start(...)
//
// Threading: Attach() before the server starts; the handlers run on every
// loop and lock the store.
#ifndef EXAMPLES_KV_KV_SERVICE_H_
#define EXAMPLES_KV_KV_SERVICE_H_

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "examples/kv/kv.pb.h"
#include "netman/base/sync.h"
#include "netman/proto/message_registry.h"
#include "netman/proto/typed_router.h"
#include "netman/server/tcp_server.h"

namespace netman::examples {

// The message ids of kv.proto.
enum KvId : uint32_t {
  kGetRequest = 1,
  kGetReply = 2,
  kPutRequest = 3,
  kPutReply = 4,
  kDeleteRequest = 5,
  kDeleteReply = 6,
};

// Declares every kv.proto type with its id (for clients; Attach() does it
// for the server).
absl::Status DeclareKv(MessageRegistry& registry);

class KvService {
 public:
  // Routes kv.proto's requests on `server` (which it must outlive).
  absl::Status Attach(TcpServer& server, TypedRouter::Options options = {});
  size_t size() const;

 private:
  std::unique_ptr<TypedRouter> typed_;
  mutable Mutex mu_;
  absl::flat_hash_map<std::string, std::string> store_ ABSL_GUARDED_BY(mu_);
};

}  // namespace netman::examples

#endif  // EXAMPLES_KV_KV_SERVICE_H_
