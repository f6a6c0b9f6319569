// Copyright netman authors.
//
// tcp_server: a netman TCP server. Message id 0 echoes its body back (id 0);
// id 1 replies with the server's connection count as decimal text.
//
//   bazel run //netman/server:tcp_server -- --port=8999 --loops=2
//
// SIGINT/SIGTERM stop it cleanly (every connection closed, exit status 0).
#include <signal.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "netman/base/log.h"
#include "netman/server/tcp_server.h"

ABSL_FLAG(std::string, host, "0.0.0.0", "Address to listen on (IPv4 or IPv6).");
ABSL_FLAG(int, port, 8999, "TCP port to listen on (0 = any free port).");
ABSL_FLAG(int, loops, 0, "Event loop threads (0 = one per core).");
ABSL_FLAG(uint64_t, max_body, 64u << 20,
          "Largest accepted message body in bytes (0 = unlimited).");
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
  absl::SetProgramUsageMessage("netman TCP server: id 0 echoes, id 1 counts connections.");
  absl::ParseCommandLine(argc, argv);

  // Block the stop signals in every thread; main waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  netman::ServerOptions options;
  options.loops = absl::GetFlag(FLAGS_loops);
  options.max_body = absl::GetFlag(FLAGS_max_body);
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

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  server.logger().Info("signal %d: stopping", signal_number);
  server.Stop();
  return 0;
}
