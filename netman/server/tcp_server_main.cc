// Copyright netman authors.
//
// tcp_server: a netman TCP server. Message id 0 echoes its body back (id 0);
// id 1 replies with the server's connection count as decimal text.
//
//   bazel run //netman/server:tcp_server -- --port=8999 --loops=2
//       --heartbeat_idle_time=30s --max_output_bytes=16777216
//
// The flags are server_flags.h's and netman/tls/tls_flags.h's (--help lists
// them with their defaults). --tls_cert/--tls_key serve TLS instead of plain
// TCP (same framing inside):
//   tcp_server --tls_cert=server.pem --tls_key=server.key --tls_min_version=1.3
// Unlike the library, the binary closes connections that send nothing for
// 5 minutes by default (--heartbeat_idle_time=0 turns that off).
//
// Exit status: 0 after SIGINT/SIGTERM and for --help; 2 for a bad flag value
// ("tcp_server: <message>" on stderr); 1 if it cannot listen (or, from
// abseil, for an unknown flag or a value of the wrong type).
//
// SIGINT/SIGTERM shut it down gracefully (stop accepting, flush what is
// queued, close every connection; after --shutdown_timeout the rest are
// closed). SIGUSR1 prints its counters as one JSON line on stdout (and,
// with TLS, the TLS counters as a second line {"tls":{...}}). SIGHUP
// re-reads the TLS certificate, key and client CA files for new
// handshakes; the outcome is logged and a failed reload keeps the old ones.
// --log_level=debug logs a one-line reason for every close.
#include <signal.h>

#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "netman/server/command_line.h"
#include "netman/server/server_flags.h"
#include "netman/server/signal_waiter.h"
#include "netman/server/tcp_server.h"
#include "netman/tls/tls_flags.h"

namespace {

constexpr char kUsage[] =
    "netman's TCP server; message id 0 echoes its body, id 1 replies with\n"
    "the connection count.\n\n"
    "Usage: tcp_server [--flag=value]...\n\n"
    "Prints 'tcp_server listening on <address>' once it serves. SIGUSR1 prints\n"
    "the stats as JSON; SIGHUP reloads the TLS certificate files; SIGINT/SIGTERM\n"
    "shut it down gracefully (exit 0). --tls_cert and --tls_key serve TLS.\n"
    "A bad flag value exits 2.";

}  // namespace

int main(int argc, char** argv) {
  absl::StatusOr<netman::ServerFlags> flags;
  absl::StatusOr<std::unique_ptr<netman::TlsContext>> tls;
  netman::ParseCommandLineOrExit(argc, argv, kUsage, [&flags, &tls] {
    flags = netman::ParseServerFlags();
    if (!flags.ok()) return flags.status();
    tls = netman::TlsContextFromFlags();
    return tls.status();
  });
  if (*tls != nullptr) flags->options.transport_factory = (*tls)->TransportFactory();

  // Before the server's threads start: they must not see these signals.
  netman::SignalWaiter signals({SIGUSR1, SIGHUP});
  netman::TcpServer server(flags->options);

  (void)server.AddRouter(0, [](netman::Request& request) {
    (void)request.connection().Send(0, request.body());
  });
  (void)server.AddRouter(1, [&server](netman::Request& request) {
    (void)request.connection().Send(
        1, absl::StrCat(server.connections().Count()));
  });

  absl::Status s = server.StartInBackground(flags->listen_address);
  if (!s.ok()) {
    std::fprintf(stderr, "tcp_server: %s\n", s.ToString().c_str());
    return 1;
  }
  // Scripts read the port from this line (useful with --port=0).
  std::printf("tcp_server listening on %s\n",
              server.listen_address().ToString().c_str());
  std::fflush(stdout);

  signals.On(SIGUSR1, [&server, &tls] {
    netman::PrintStatsLines(server.stats().ToJson(), tls->get());
  });
  signals.On(SIGHUP, [&server, &tls] { netman::ReloadTlsAndLog(tls->get(), server.logger()); });
  const int stop = signals.WaitForStop();
  server.logger().Info("signal %d: shutting down", stop);
  server.Shutdown(flags->shutdown_timeout);
  std::printf("%s\n", server.stats().ToJson().c_str());
  return 0;
}
