// Copyright netman authors.
//
// proto_echo_server: the protobuf benchmark's server (tools/bench/proto_bench.py,
// docs/BENCHMARKS.md "Protobuf"). One binary, so that the only difference
// between its routes is the typed path:
//
//   id 0  raw bytes echo (the baseline): replies (0, body)
//   id 1  netman.test.Blob echo through TypedRouter: parse into the reused
//         per-loop message, reply with it serialised in place (id 1)
//   id 2  netman.test.Scalars echo, the same way (id 2)
//
// Flags: tcp_server's (server_flags.h). Prints
// "proto_echo_server listening on <address>"; SIGINT/SIGTERM stop it.

#include <cstdio>

#include "absl/status/statusor.h"
#include "netman/proto/test_messages.pb.h"
#include "netman/proto/typed_router.h"
#include "netman/server/command_line.h"
#include "netman/server/server_flags.h"
#include "netman/server/signal_waiter.h"
#include "netman/server/tcp_server.h"

int main(int argc, char** argv) {
  absl::StatusOr<netman::ServerFlags> flags;
  netman::ParseCommandLineOrExit(
      argc, argv,
      "echo server for the protobuf benchmark: id 0 raw bytes, id 1 Blob, id 2 Scalars.",
      [&flags] {
        flags = netman::ParseServerFlags();
        return flags.status();
      });
  netman::SignalWaiter signals;  // before the server's threads start

  netman::TcpServer server(flags->options);
  netman::TypedRouter typed(server);
  absl::Status s = server.AddRouter(0, [](netman::Request& r) {
    (void)r.connection().Send(0, r.body());
  });
  if (s.ok()) {
    s = typed.AddRouter<netman::test::Blob>(
        1, [&typed](netman::Request& r, const netman::test::Blob& blob) {
          (void)typed.Send(r.connection(), blob);
        });
  }
  if (s.ok()) {
    s = typed.AddRouter<netman::test::Scalars>(
        2, [&typed](netman::Request& r, const netman::test::Scalars& scalars) {
          (void)typed.Send(r.connection(), scalars);
        });
  }
  if (s.ok()) s = server.StartInBackground(flags->listen_address);
  if (!s.ok()) {
    std::fprintf(stderr, "proto_echo_server: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("proto_echo_server listening on %s\n",
              server.listen_address().ToString().c_str());
  std::fflush(stdout);
  signals.WaitForStop();
  server.Shutdown(flags->shutdown_timeout);
  std::printf("%s\n", server.stats().ToJson().c_str());
  return 0;
}
