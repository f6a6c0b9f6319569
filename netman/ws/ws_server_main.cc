// Copyright netman authors.
//
// ws_server: netman's WebSocket server binary.
//
//   bazel run //netman/ws:ws_server -- --port=8080 --mode=chat
//
// --mode=echo (default): every message comes back to its sender, text as
// text and binary as binary. --mode=chat: every connection subscribes to
// the topic "chat" and every text message is published to it (each
// subscriber, the sender included, receives it once). Any path upgrades.
// A plain "GET /" returns the chat page (--chat_page, or the page built in
// from examples/ws/client.html); other plain requests get 404.
//
// Prints "ws_server listening on <host>:<port>" once it serves.
// SIGINT/SIGTERM: every WebSocket is closed with 1001 (Going Away), then the
// server shuts down gracefully and exits 0. A bad flag value exits 2.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "netman/base/log.h"
#include "netman/server/command_line.h"
#include "netman/ws/ws_server.h"

extern "C" const char kNetmanChatPage[];
extern "C" const unsigned long kNetmanChatPageSize;  // NOLINT(runtime/int)

ABSL_FLAG(std::string, host, "0.0.0.0", "Address to listen on (numeric IPv4/IPv6 or localhost).");
ABSL_FLAG(int, port, 8080, "TCP port, 0 = any free port.");
ABSL_FLAG(int, loops, 0, "Event loops (threads); 0 = one per core.");
ABSL_FLAG(std::string, mode, "echo", "echo | chat");
ABSL_FLAG(uint64_t, max_message, netman::ws::kDefaultMaxMessage,
          "Largest message in bytes (1009 beyond); 0 = unlimited.");
ABSL_FLAG(bool, permessage_deflate, false, "Negotiate permessage-deflate (RFC 7692).");
ABSL_FLAG(absl::Duration, ping_interval, absl::ZeroDuration(), "Server ping interval; 0 = off.");
ABSL_FLAG(absl::Duration, pong_timeout, absl::ZeroDuration(),
          "Close a connection whose pong is this late; 0 = off (or the next ping).");
ABSL_FLAG(absl::Duration, heartbeat, absl::Minutes(5),
          "Close connections that send nothing this long; 0 = off.");
ABSL_FLAG(absl::Duration, handshake_timeout, netman::kDefaultHandshakeTimeout,
          "Close connections whose upgrade takes longer; 0 = off.");
ABSL_FLAG(std::string, chat_page, "", "HTML served for GET / (default: the built-in page).");
ABSL_FLAG(std::string, origins, "", "Comma-separated Origin allow-list; empty = any.");
ABSL_FLAG(absl::Duration, shutdown_timeout, absl::Seconds(5), "Graceful shutdown limit.");
ABSL_FLAG(std::string, log_level, "info", "debug | info | warning | error | off");
// TODO(lead, TLS merge): --tls_cert/--tls_key. wss:// needs nothing from
// this package: set options.transport_factory to netman/tls's server
// transport factory here (branch issue-tls).

namespace {

constexpr char kUsage[] =
    "netman's WebSocket server: echo (default) or chat.\n\n"
    "Usage: ws_server [--flag=value]...\n\n"
    "Prints 'ws_server listening on <address>' once it serves; SIGINT/SIGTERM\n"
    "close every WebSocket with 1001 and exit 0. A bad flag value exits 2.";

constexpr std::string_view kChatTopic = "chat";

struct Config {
  std::string listen_address;
  netman::ServerOptions options;
  netman::ws::WsOptions ws;
  bool chat = false;
  absl::Duration shutdown_timeout;
};

absl::StatusOr<netman::LogLevel> ParseLevel(std::string_view name) {
  if (name == "debug") return netman::LogLevel::kDebug;
  if (name == "info") return netman::LogLevel::kInfo;
  if (name == "warning") return netman::LogLevel::kWarning;
  if (name == "error") return netman::LogLevel::kError;
  if (name == "off") return netman::LogLevel::kOff;
  return absl::InvalidArgumentError(absl::StrCat("--log_level must be debug, info, warning, error or off, not '",
                   std::string(name), "'"));
}

absl::StatusOr<Config> ReadFlags() {
  Config c;
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode != "echo" && mode != "chat") {
    return absl::InvalidArgumentError("--mode must be echo or chat, not '" + mode + "'");
  }
  c.chat = mode == "chat";
  const int port = absl::GetFlag(FLAGS_port);
  if (port < 0 || port > 65535) return absl::InvalidArgumentError("--port must be 0..65535");
  const int loops = absl::GetFlag(FLAGS_loops);
  if (loops < 0) return absl::InvalidArgumentError("--loops must be 0 (one per core) or more");
  std::string host = absl::GetFlag(FLAGS_host);
  if (host == "localhost") host = "127.0.0.1";
  c.listen_address = host.find(':') != std::string::npos && host.front() != '['
                         ? absl::StrCat("[", host, "]:", port)
                         : absl::StrCat(host, ":", port);
  for (const auto& [name, d] :
       {std::pair{"--ping_interval", absl::GetFlag(FLAGS_ping_interval)},
        std::pair{"--pong_timeout", absl::GetFlag(FLAGS_pong_timeout)},
        std::pair{"--heartbeat", absl::GetFlag(FLAGS_heartbeat)},
        std::pair{"--handshake_timeout", absl::GetFlag(FLAGS_handshake_timeout)},
        std::pair{"--shutdown_timeout", absl::GetFlag(FLAGS_shutdown_timeout)}}) {
    if (d < absl::ZeroDuration()) return absl::InvalidArgumentError(absl::StrCat(name, " must not be negative"));
  }
  absl::StatusOr<netman::LogLevel> level = ParseLevel(absl::GetFlag(FLAGS_log_level));
  if (!level.ok()) return level.status();
  c.options.loops = loops;
  c.options.heartbeat_idle_time = absl::GetFlag(FLAGS_heartbeat);
  c.options.handshake_timeout = absl::GetFlag(FLAGS_handshake_timeout);
  c.options.logger = netman::Logger(std::make_shared<netman::StderrLogSink>(), *level);
  c.ws.max_message = absl::GetFlag(FLAGS_max_message);
  c.ws.permessage_deflate = absl::GetFlag(FLAGS_permessage_deflate);
  c.ws.ping_interval = absl::GetFlag(FLAGS_ping_interval);
  c.ws.pong_timeout = absl::GetFlag(FLAGS_pong_timeout);
  if (c.ws.pong_timeout > absl::ZeroDuration() && c.ws.ping_interval == absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--pong_timeout needs --ping_interval");
  }
  const std::string origins = absl::GetFlag(FLAGS_origins);
  if (!origins.empty()) {
    for (absl::string_view o : absl::StrSplit(origins, ',', absl::SkipWhitespace())) {
      c.ws.allowed_origins.emplace_back(o.data(), o.size());
    }
  }
  const std::string page_path = absl::GetFlag(FLAGS_chat_page);
  if (page_path.empty()) {
    c.ws.http_page.assign(kNetmanChatPage, kNetmanChatPageSize);
  } else {
    std::ifstream in(page_path, std::ios::binary);
    if (!in) return absl::InvalidArgumentError("--chat_page: cannot read " + page_path);
    std::ostringstream page;
    page << in.rdbuf();
    c.ws.http_page = page.str();
  }
  c.shutdown_timeout = absl::GetFlag(FLAGS_shutdown_timeout);
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  absl::StatusOr<Config> config;
  netman::ParseCommandLineOrExit(argc, argv, kUsage, [&config] {
    config = ReadFlags();
    return config.status();
  });

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  netman::WsServer server(config->options, config->ws);
  netman::ws::WsHandler handler;
  if (config->chat) {
    handler.open = [&server](netman::ws::WsConnection ws) {
      server.topics().Subscribe(kChatTopic, ws.connection());
    };
    handler.message = [&server](netman::Request& r) {
      if (r.id() == netman::ws::kText) server.topics().Publish(kChatTopic, r.id(), r.body());
    };
  } else {
    handler.message = [](netman::Request& r) { (void)r.connection().Send(r.id(), r.body()); };
  }
  (void)server.Handle(std::string(netman::WsServer::kAnyPath), std::move(handler));

  absl::Status s = server.StartInBackground(config->listen_address);
  if (!s.ok()) {
    std::fprintf(stderr, "ws_server: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("ws_server listening on %s\n", server.listen_address().ToString().c_str());
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  server.logger().Info("signal %d: closing every WebSocket (1001) and shutting down",
                       signal_number);
  server.GoingAway(config->shutdown_timeout);
  return 0;
}
