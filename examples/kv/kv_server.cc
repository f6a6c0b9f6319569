// Copyright netman authors.
//
// kv_server: the example key-value service (kv.proto, KvService) as a
// server binary, with exactly tcp_server's flags (server_flags.h) and
// behaviour: prints "kv_server listening on <address>", SIGUSR1 prints the
// stats as JSON, SIGINT/SIGTERM shut down gracefully (exit 0), a bad flag
// value exits 2.
//
//   bazel run //examples/kv:kv_server -- --port=8999 --loops=2
#include <signal.h>

#include <cstdio>

#include "absl/status/statusor.h"
#include "examples/kv/kv_service.h"
#include "netman/proto/protobuf_log.h"
#include "netman/server/command_line.h"
#include "netman/server/server_flags.h"
#include "netman/server/signal_waiter.h"
#include "netman/server/tcp_server.h"

namespace {

constexpr char kUsage[] =
    "netman's example key-value service (examples/kv/kv.proto): Get (id 1),\n"
    "Put (id 3) and Delete (id 5) requests, protobuf bodies in netman frames.\n\n"
    "Usage: kv_server [--flag=value]...\n\n"
    "Prints 'kv_server listening on <address>' once it serves. SIGUSR1 prints\n"
    "the stats as JSON; SIGINT/SIGTERM shut it down gracefully (exit 0).\n"
    "A bad flag value exits 2.";

}  // namespace

int main(int argc, char** argv) {
  absl::StatusOr<netman::ServerFlags> flags;
  netman::ParseCommandLineOrExit(argc, argv, kUsage, [&flags] {
    flags = netman::ParseServerFlags();
    return flags.status();
  });

  // Before the server's threads start: they must not see these signals.
  netman::SignalWaiter signals({SIGUSR1});
  netman::TcpServer server(flags->options);
  // protobuf's own lines (e.g. invalid UTF-8 in a string field) through the
  // server's logger, rate-limited.
  netman::RouteProtobufLogs(server.logger());
  netman::examples::KvService kv;
  if (absl::Status s = kv.Attach(server); !s.ok()) {
    std::fprintf(stderr, "kv_server: %s\n", s.ToString().c_str());
    return 1;
  }
  if (absl::Status s = server.StartInBackground(flags->listen_address); !s.ok()) {
    std::fprintf(stderr, "kv_server: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("kv_server listening on %s\n", server.listen_address().ToString().c_str());
  std::fflush(stdout);

  signals.On(SIGUSR1, [&server] {
    std::printf("%s\n", server.stats().ToJson().c_str());
    std::fflush(stdout);
  });
  const int stop = signals.WaitForStop();
  server.logger().Info("signal %d: shutting down", stop);
  server.Shutdown(flags->shutdown_timeout);
  std::printf("%s\n", server.stats().ToJson().c_str());
  return 0;
}
