// Copyright netman authors.
//
// server: the Go netman README's server example in C++. Message id 0 is
// printed and answered with id 1 "ping...ping...ping"; id 1 is answered with
// id 2. The open/close hooks log each connection and keep a name for it in
// the connection's user_data().
//
//   bazel run //examples:server -- --port=8999
//
// It takes the flags every netman server binary shares (server_flags.h:
// --host, --port, --loops, --heartbeat_idle_time, ...; --help lists them).
// Prints "server listening on <address>" once listening (scripts read the
// port from it with --port=0). SIGINT/SIGTERM shut it down gracefully with
// exit status 0; a bad flag value exits 2.

#include <any>
#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "netman/server/command_line.h"
#include "netman/server/server_flags.h"
#include "netman/server/signal_waiter.h"
#include "netman/server/tcp_server.h"

int main(int argc, char** argv) {
  absl::StatusOr<netman::ServerFlags> flags;
  netman::ParseCommandLineOrExit(
      argc, argv,
      "the netman README's example server: prints each id 0 message and\n"
      "answers it with id 1 \"ping...ping...ping\".\n\n"
      "Usage: server [--flag=value]...",
      [&flags] {
        flags = netman::ParseServerFlags();
        return flags.status();
      });
  // Before the server's threads start: SIGINT/SIGTERM reach only main,
  // which waits for them below.
  netman::SignalWaiter signals;

  netman::TcpServer server(flags->options);
  (void)server.OnOpen([](netman::Connection& connection) {
    absl::PrintF("connection %d open, peer %s\n", connection.id(),
                 connection.peer_address().ToString());
    connection.user_data() = absl::StrCat("client-", connection.id());
  });
  (void)server.OnClose([](netman::Connection& connection, const absl::Status& reason) {
    const auto* name = std::any_cast<std::string>(&connection.user_data());
    absl::PrintF("connection %d closed, name=%s (%s)\n", connection.id(),
                 name != nullptr ? *name : "?", reason.ToString());
  });
  (void)server.AddRouter(0, [](netman::Request& request) {
    absl::PrintF("recv from client: id=%d body=%s\n", request.id(), request.body());
    (void)request.connection().Send(1, "ping...ping...ping");
  });
  (void)server.AddRouter(1, [](netman::Request& request) {
    (void)request.connection().Send(2, "hello from router 1");
  });

  if (absl::Status s = server.StartInBackground(flags->listen_address); !s.ok()) {
    absl::FPrintF(stderr, "server: %s\n", s.ToString());
    return 1;
  }
  absl::PrintF("server listening on %s\n", server.listen_address().ToString());
  std::fflush(stdout);

  signals.WaitForStop();
  server.Shutdown(flags->shutdown_timeout);
  return 0;
}
