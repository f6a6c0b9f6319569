// Copyright netman authors.
//
// kv_client: one request to the example key-value service with
// netman::TypedClient, printing the reply.
//
//   kv_client --op=put --key=a --value=hello     # put: replaced=false
//   kv_client --op=get --key=a                   # get: found value=hello
//   kv_client --op=delete --key=a                # delete: deleted=true
//
// Flags: --host (127.0.0.1), --port (8999), --op (get|put|delete), --key,
// --value (put), --timeout (5s). A bad value exits 2; a failed request
// prints "kv_client: <status>" and exits 1.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "examples/kv/kv_service.h"
#include "netman/proto/typed_client.h"
#include "netman/server/command_line.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "Server address.");
ABSL_FLAG(int, port, 8999, "Server TCP port, 1..65535.");
ABSL_FLAG(std::string, op, "get", "get, put or delete.");
ABSL_FLAG(std::string, key, "", "The key.");
ABSL_FLAG(std::string, value, "", "The value (put).");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5), "Reply timeout, positive.");

namespace {

namespace kv = netman::examples::kv;

absl::Status Run() {
  auto client = netman::TypedClient::Connect(absl::GetFlag(FLAGS_host),
                                             static_cast<uint16_t>(absl::GetFlag(FLAGS_port)));
  if (!client.ok()) return client.status();
  netman::TypedClient& c = **client;
  if (absl::Status s = netman::examples::DeclareKv(c.registry()); !s.ok()) return s;
  const std::string op = absl::GetFlag(FLAGS_op);
  const absl::Duration timeout = absl::GetFlag(FLAGS_timeout);
  if (op == "get") {
    kv::GetRequest get;
    get.set_key(absl::GetFlag(FLAGS_key));
    absl::StatusOr<kv::GetReply> reply = c.Call<kv::GetReply>(get, timeout);
    if (!reply.ok()) return reply.status();
    std::printf(reply->found() ? "get: found value=%s\n" : "get: not found\n",
                reply->value().c_str());
  } else if (op == "put") {
    kv::PutRequest put;
    put.set_key(absl::GetFlag(FLAGS_key));
    put.set_value(absl::GetFlag(FLAGS_value));
    absl::StatusOr<kv::PutReply> reply = c.Call<kv::PutReply>(put, timeout);
    if (!reply.ok()) return reply.status();
    std::printf("put: replaced=%s\n", reply->replaced() ? "true" : "false");
  } else {
    kv::DeleteRequest del;
    del.set_key(absl::GetFlag(FLAGS_key));
    absl::StatusOr<kv::DeleteReply> reply = c.Call<kv::DeleteReply>(del, timeout);
    if (!reply.ok()) return reply.status();
    std::printf("delete: deleted=%s\n", reply->deleted() ? "true" : "false");
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  netman::ParseCommandLineOrExit(
      argc, argv, "one request to the example key-value service (examples/kv).", [] {
        const std::string op = absl::GetFlag(FLAGS_op);
        if (op != "get" && op != "put" && op != "delete") {
          return absl::InvalidArgumentError(
              absl::StrCat("--op must be get, put or delete, not '", op, "'"));
        }
        if (const int port = absl::GetFlag(FLAGS_port); port < 1 || port > 65535) {
          return absl::InvalidArgumentError(
              absl::StrCat("--port must be 1..65535, not ", port));
        }
        if (absl::GetFlag(FLAGS_timeout) <= absl::ZeroDuration()) {
          return absl::InvalidArgumentError("--timeout must be positive");
        }
        return absl::OkStatus();
      });
  if (absl::Status s = Run(); !s.ok()) {
    std::fprintf(stderr, "kv_client: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
