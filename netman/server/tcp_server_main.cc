// Copyright netman authors.
//
// tcp_server: a netman TCP server. Message id 0 echoes its body back (id 0);
// id 1 replies with the server's connection count as decimal text.
//
//   bazel run //netman/server:tcp_server -- --port=8999 --loops=2
//       --heartbeat_idle_time=30s --max_output_bytes=16777216
//
// SIGINT/SIGTERM shut it down gracefully (stop accepting, flush what is
// queued, close every connection; after --shutdown_timeout the rest are
// closed) and it exits with status 0. SIGUSR1 prints its counters as one JSON
// line on stdout. --log_level=debug logs a one-line reason for every close.
#include <signal.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "netman/base/log.h"
#include "netman/server/tcp_server.h"

ABSL_FLAG(std::string, host, "0.0.0.0", "Address to listen on (IPv4 or IPv6).");
ABSL_FLAG(int, port, 8999, "TCP port to listen on (0 = any free port).");
ABSL_FLAG(int, loops, 0, "Event loop threads (0 = one per core).");
ABSL_FLAG(uint64_t, max_body, 64u << 20,
          "Largest accepted message body in bytes (0 = unlimited).");
ABSL_FLAG(absl::Duration, heartbeat_idle_time, absl::ZeroDuration(),
          "Close connections that send nothing for this long (0 = never).");
ABSL_FLAG(absl::Duration, heartbeat_check_interval, absl::ZeroDuration(),
          "How often idle connections are looked for (0 = idle time / 4).");
ABSL_FLAG(absl::Duration, tcp_keepalive, absl::ZeroDuration(),
          "TCP keepalive idle time on accepted sockets (0 = off).");
ABSL_FLAG(uint64_t, max_output_bytes, 64u << 20,
          "Per-connection cap on output the peer has not read (0 = unlimited).");
ABSL_FLAG(std::string, output_policy, "pause",
          "Over the output cap: 'pause' reading from the peer, or 'close' it.");
ABSL_FLAG(absl::Duration, shutdown_timeout, absl::Seconds(5),
          "On SIGINT/SIGTERM, how long connections get to finish.");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning, error or off.");

namespace {

netman::LogLevel ParseLevel(const std::string& name) {
  if (name == "debug") return netman::LogLevel::kDebug;
  if (name == "warning") return netman::LogLevel::kWarning;
  if (name == "error") return netman::LogLevel::kError;
  if (name == "off") return netman::LogLevel::kOff;
  return netman::LogLevel::kInfo;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "netman TCP server: id 0 echoes, id 1 counts connections.");
  absl::ParseCommandLine(argc, argv);

  // Block the control signals in every thread; main waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  const std::string policy = absl::GetFlag(FLAGS_output_policy);
  if (policy != "pause" && policy != "close") {
    std::fprintf(stderr, "tcp_server: --output_policy must be 'pause' or 'close'\n");
    return 2;
  }
  netman::ServerOptions options;
  options.loops = absl::GetFlag(FLAGS_loops);
  options.max_body = absl::GetFlag(FLAGS_max_body);
  options.heartbeat_idle_time = absl::GetFlag(FLAGS_heartbeat_idle_time);
  options.heartbeat_check_interval = absl::GetFlag(FLAGS_heartbeat_check_interval);
  options.tcp_keepalive = absl::GetFlag(FLAGS_tcp_keepalive);
  options.max_output_bytes = absl::GetFlag(FLAGS_max_output_bytes);
  options.output_limit_policy = policy == "close"
                                    ? netman::OutputLimitPolicy::kClose
                                    : netman::OutputLimitPolicy::kPauseReading;
  options.logger = netman::Logger(std::make_shared<netman::StderrLogSink>(),
                                  ParseLevel(absl::GetFlag(FLAGS_log_level)));
  netman::TcpServer server(options);

  (void)server.AddRouter(0, [](netman::Request& request) {
    (void)request.connection().Send(0, request.body());
  });
  (void)server.AddRouter(1, [&server](netman::Request& request) {
    (void)request.connection().Send(
        1, absl::StrCat(server.connections().Count()));
  });

  std::string host = absl::GetFlag(FLAGS_host);
  if (host.find(':') != std::string::npos) host = absl::StrCat("[", host, "]");
  absl::Status s = server.StartInBackground(
      absl::StrCat(host, ":", absl::GetFlag(FLAGS_port)));
  if (!s.ok()) {
    std::fprintf(stderr, "tcp_server: %s\n", s.ToString().c_str());
    return 1;
  }
  // Scripts read the port from this line (useful with --port=0).
  std::printf("tcp_server listening on %s\n",
              server.listen_address().ToString().c_str());
  std::fflush(stdout);

  for (;;) {
    int signal_number = 0;
    sigwait(&signals, &signal_number);
    if (signal_number == SIGUSR1) {
      std::printf("%s\n", server.stats().ToJson().c_str());
      std::fflush(stdout);
      continue;
    }
    server.logger().Info("signal %d: shutting down", signal_number);
    server.Shutdown(absl::GetFlag(FLAGS_shutdown_timeout));
    std::printf("%s\n", server.stats().ToJson().c_str());
    return 0;
  }
}
