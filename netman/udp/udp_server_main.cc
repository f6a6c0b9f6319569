// Copyright netman authors.
//
// udp_server: a netman UDP server. Message id 0 echoes its body back (id 0);
// id 1 replies with the server's session count as decimal text. Each
// datagram holds one or more whole messages in the Go netman framing.
//
//   bazel run //netman/udp:udp_server -- --port=8999 --loops=2
//       --heartbeat_idle_time=30s --max_sessions=100000
//
// The flags are server_flags.h's (--help lists them; the TCP-only ones,
// --tcp_keepalive, --max_output_bytes and --output_policy, are accepted and
// have no effect on UDP), plus:
//   --udp_batch           datagrams per receive call; 1 = one per syscall
//   --max_sessions        session cap (oldest idle evicted)
//   --max_datagram_bytes  largest datagram received or sent
// --heartbeat_idle_time is how long an idle peer's session lives (default
// 5m here; 0 means UdpServer::kDefaultSessionIdleTime).
//
// Exit status: 0 after SIGINT/SIGTERM and for --help; 2 for a bad flag value;
// 1 if it cannot bind. SIGUSR1 prints the server stats and the UDP stats as
// two JSON lines on stdout; so does the exit.
#include <signal.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "netman/server/command_line.h"
#include "netman/server/server_flags.h"
#include "netman/server/signal_waiter.h"
#include "netman/udp/udp_server.h"

ABSL_FLAG(int, udp_batch, netman::UdpOptions{}.batch_size,
          "datagrams per receive system call (recvmmsg), 1..1024; 1 reads and sends "
          "one datagram per system call");
ABSL_FLAG(uint64_t, max_sessions, netman::UdpOptions{}.max_sessions,
          "most peer sessions held at once; a new peer at the cap evicts the least "
          "recently active one");
ABSL_FLAG(uint64_t, max_datagram_bytes, netman::UdpOptions{}.max_datagram_bytes,
          "largest datagram received or sent, 1..65507");

namespace {

constexpr char kUsage[] =
    "netman's UDP server; message id 0 echoes its body, id 1 replies with\n"
    "the session count.\n\n"
    "Usage: udp_server [--flag=value]...\n\n"
    "Prints 'udp_server listening on <address>' once it serves. SIGUSR1 prints\n"
    "the stats as JSON; SIGINT/SIGTERM shut it down gracefully (exit 0).\n"
    "A bad flag value exits 2.";

constexpr int kMaxBatch = 1024;

void PrintStats(const netman::UdpServer& server) {
  std::printf("%s\n%s\n", server.stats().ToJson().c_str(),
              server.udp_stats().ToJson().c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  absl::StatusOr<netman::ServerFlags> flags;
  netman::UdpOptions udp;
  netman::ParseCommandLineOrExit(argc, argv, kUsage, [&flags, &udp]() -> absl::Status {
    flags = netman::ParseServerFlags();
    if (!flags.ok()) return flags.status();
    const int batch = absl::GetFlag(FLAGS_udp_batch);
    if (batch < 1 || batch > kMaxBatch) {
      return absl::InvalidArgumentError(
          absl::StrCat("--udp_batch must be 1..", kMaxBatch, ", not ", batch));
    }
    udp.batch_size = batch;
    const uint64_t sessions = absl::GetFlag(FLAGS_max_sessions);
    if (sessions == 0) return absl::InvalidArgumentError("--max_sessions must be positive");
    udp.max_sessions = sessions;
    const uint64_t datagram = absl::GetFlag(FLAGS_max_datagram_bytes);
    if (datagram == 0 || datagram > netman::kMaxUdpPayload) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--max_datagram_bytes must be 1..", netman::kMaxUdpPayload, ", not ", datagram));
    }
    udp.max_datagram_bytes = datagram;
    return absl::OkStatus();
  });

  // Before the server's threads start: they must not see these signals.
  netman::SignalWaiter signals({SIGUSR1});

  netman::UdpServer server(flags->options, udp);
  (void)server.AddRouter(0, [](netman::Request& request) {
    (void)request.connection().Send(0, request.body());
  });
  (void)server.AddRouter(1, [&server](netman::Request& request) {
    (void)request.connection().Send(1, absl::StrCat(server.connections().Count()));
  });

  absl::Status s = server.StartInBackground(flags->listen_address);
  if (!s.ok()) {
    std::fprintf(stderr, "udp_server: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("udp_server listening on %s\n", server.listen_address().ToString().c_str());
  std::fflush(stdout);

  signals.On(SIGUSR1, [&server] { PrintStats(server); });
  const int stop = signals.WaitForStop();
  server.logger().Info("signal %d: shutting down", stop);
  server.Shutdown(flags->shutdown_timeout);
  PrintStats(server);
  return 0;
}
