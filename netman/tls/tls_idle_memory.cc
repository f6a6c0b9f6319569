// Copyright netman authors.
//
// tls_idle_memory: server RSS per idle TLS connection, measured on the real
// tcp_server binary (1 loop) in a subprocess, against the same binary
// serving plain TCP in the same run.
//
//   bazel run -c opt //netman/tls:tls_idle_memory -- --connections=10000
//
// Method (as tools/bench's memory check for plain TCP): start the server,
// let 8 connections exchange one 64 B message and close (one-time costs such
// as the loop's buffers are then in the baseline), read VmRSS; open N
// connections that each complete the handshake and exchange one 64 B echo
// and then stay idle (the client frees its SSL and keeps only the socket);
// read VmRSS again. Per connection = (after - before) / N. Kernel socket
// memory is not in RSS. The client is this process, one handshake at a time.
//
// Prints one line per mode, e.g.
//   tls1.3 connections=10000 rss_before=... rss_after=... per_connection=4321
#include <openssl/ssl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "netman/tls/testing/test_certs.h"
#include "netman/tls/testing/tls_test_client.h"

ABSL_FLAG(std::string, server, "netman/server/tcp_server", "path of the tcp_server binary");
ABSL_FLAG(int, connections, 10000, "idle connections to open per mode");
ABSL_FLAG(std::string, modes, "plain,tls1.3,tls1.2", "comma-separated: plain, tls1.3, tls1.2");

extern char** environ;

namespace {

using netman::testing::TlsClientOptions;
using netman::testing::TlsTestClient;

constexpr int kWarmupConnections = 8;
const std::string kBody(64, 'm');

long VmRssBytes(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6) * 1024;
  }
  return -1;
}

struct Server {
  pid_t pid = -1;
  uint16_t port = 0;
};

Server StartServer(const std::vector<std::string>& extra) {
  int out[2];
  if (::pipe(out) != 0) std::abort();
  std::vector<std::string> args = {absl::GetFlag(FLAGS_server), "--host=127.0.0.1", "--port=0",
                                   "--loops=1", "--heartbeat_idle_time=0",
                                   "--log_level=warning"};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  Server s;
  if (posix_spawn(&s.pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) {
    std::fprintf(stderr, "cannot start %s\n", argv[0]);
    std::exit(1);
  }
  ::close(out[1]);
  std::string line;
  char c;
  while (::read(out[0], &c, 1) == 1 && c != '\n') line.push_back(c);
  ::close(out[0]);
  const size_t colon = line.rfind(':');
  if (line.find("listening on") == std::string::npos || colon == std::string::npos) {
    std::fprintf(stderr, "server did not start: %s\n", line.c_str());
    std::exit(1);
  }
  s.port = static_cast<uint16_t>(std::atoi(line.c_str() + colon + 1));
  return s;
}

// One connection that has exchanged one 64 B message; returns its socket
// (the TLS client state is freed).
int OpenIdle(uint16_t port, const std::string& mode, const TlsClientOptions& options) {
  if (mode == "plain") {
    const int fd = netman::testing::ConnectTcp(port);
    std::string frame(8, '\0');
    frame[0] = static_cast<char>(kBody.size());
    frame += kBody;
    if (fd < 0 || ::write(fd, frame.data(), frame.size()) != static_cast<ssize_t>(frame.size())) {
      std::abort();
    }
    char reply[8 + 64];
    size_t got = 0;
    while (got < sizeof(reply)) {
      const ssize_t n = ::read(fd, reply + got, sizeof(reply) - got);
      if (n <= 0) std::abort();
      got += static_cast<size_t>(n);
    }
    return fd;
  }
  absl::StatusOr<std::unique_ptr<TlsTestClient>> c = TlsTestClient::Connect(port, options);
  if (!c.ok()) {
    std::fprintf(stderr, "connect: %s\n", c.status().ToString().c_str());
    std::exit(1);
  }
  if (!(*c)->SendFrame(0, kBody).ok() || !(*c)->ReadFrame().ok()) std::abort();
  const int fd = ::dup((*c)->fd());
  SSL_set_quiet_shutdown((*c)->ssl(), 1);  // no close_notify when freed
  return fd;  // *c is destroyed: its socket closes, the dup stays open
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  netman::testing::TestCa ca("idle memory CA");
  const netman::testing::KeyPair pair = ca.Issue({});
  const std::string cert = netman::testing::WriteTestFile("idle_memory_cert.pem", pair.cert_pem);
  const std::string key = netman::testing::WriteTestFile("idle_memory_key.pem", pair.key_pem);
  const int n = absl::GetFlag(FLAGS_connections);

  std::string modes = absl::GetFlag(FLAGS_modes);
  size_t start = 0;
  while (start <= modes.size()) {
    size_t end = modes.find(',', start);
    if (end == std::string::npos) end = modes.size();
    const std::string mode = modes.substr(start, end - start);
    start = end + 1;
    if (mode.empty()) continue;
    TlsClientOptions options;
    options.ca_pem = ca.cert_pem();
    std::vector<std::string> extra;
    if (mode != "plain") {
      extra = {"--tls_cert=" + cert, "--tls_key=" + key};
      options.min_version = options.max_version =
          mode == "tls1.2" ? TLS1_2_VERSION : TLS1_3_VERSION;
    }
    const Server server = StartServer(extra);
    for (int i = 0; i < kWarmupConnections; ++i) ::close(OpenIdle(server.port, mode, options));
    // The warm-up closes are processed before the next accept is answered.
    ::close(OpenIdle(server.port, mode, options));
    const long before = VmRssBytes(server.pid);
    std::vector<int> fds;
    fds.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) fds.push_back(OpenIdle(server.port, mode, options));
    const long after = VmRssBytes(server.pid);
    std::printf("%s connections=%d rss_before=%ld rss_after=%ld per_connection=%ld\n",
                mode.c_str(), n, before, after, (after - before) / n);
    std::fflush(stdout);
    for (int fd : fds) ::close(fd);
    ::kill(server.pid, SIGTERM);
    int status;
    ::waitpid(server.pid, &status, 0);
  }
  return 0;
}
