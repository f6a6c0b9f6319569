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
// --tls_cert/--tls_key serve wss:// (and https:// for the page) through
// netman/tls's transport; SIGHUP reloads the certificate files. SIGUSR1
// prints the server's counters as one JSON line on stdout (and, with TLS,
// the TLS counters as a second line {"tls":{...}}), as tcp_server does.
// SIGINT/SIGTERM: every WebSocket is closed with 1001 (Going Away), then the
// server shuts down gracefully and exits 0. A bad flag value exits 2.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <memory>
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
#include "netman/server/server_flags.h"
#include "netman/server/signal_waiter.h"
#include "netman/tls/tls_flags.h"
#include "netman/ws/ws_server.h"

extern "C" const unsigned char kNetmanChatPage[];  // the page's bytes (UTF-8)
extern "C" const unsigned long kNetmanChatPageSize;  // NOLINT(runtime/int)

// The server flags (--host, --port, --loops, --heartbeat_idle_time,
// --handshake_timeout, --shutdown_timeout, --log_level, ...) are
// server_flags.h's and the TLS flags (--tls_cert/--tls_key for wss://, ...)
// tls_flags.h's, shared with tcp_server; these are the WebSocket ones.
// (--max_body is accepted but WebSocket messages are bounded by
// --max_message.)
ABSL_FLAG(std::string, mode, "echo", "echo | chat");
ABSL_FLAG(uint64_t, max_message, netman::ws::kDefaultMaxMessage,
          "Largest message in bytes (1009 beyond); 0 = unlimited.");
ABSL_FLAG(bool, permessage_deflate, false, "Negotiate permessage-deflate (RFC 7692).");
ABSL_FLAG(bool, deflate_context_takeover, false,
          "With --permessage_deflate: keep each connection's compression context between "
          "messages when the client allows it (better ratio on repetitive traffic, ~256 KiB of "
          "zlib state per connection) instead of one shared compressor per loop.");
ABSL_FLAG(absl::Duration, ping_interval, absl::ZeroDuration(), "Server ping interval; 0 = off.");
ABSL_FLAG(absl::Duration, pong_timeout, absl::ZeroDuration(),
          "Close a connection whose pong is this late; 0 = off (or the next ping).");
ABSL_FLAG(std::string, chat_page, "", "HTML served for GET / (default: the built-in page).");
ABSL_FLAG(std::string, origins, "", "Comma-separated Origin allow-list; empty = any.");

namespace {

constexpr char kUsage[] =
    "netman's WebSocket server: echo (default) or chat.\n\n"
    "Usage: ws_server [--flag=value]...\n\n"
    "Prints 'ws_server listening on <address>' once it serves. SIGUSR1 prints\n"
    "the stats as JSON; SIGHUP reloads the TLS certificate files; SIGINT/SIGTERM\n"
    "close every WebSocket with 1001 and exit 0. A bad flag value exits 2.";

constexpr std::string_view kChatTopic = "chat";

struct Config {
  netman::ServerFlags server;
  std::unique_ptr<netman::TlsContext> tls;  // null: plain ws://
  netman::ws::WsOptions ws;
  bool chat = false;
};

absl::StatusOr<Config> ReadFlags() {
  Config c;
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode != "echo" && mode != "chat") {
    return absl::InvalidArgumentError("--mode must be echo or chat, not '" + mode + "'");
  }
  c.chat = mode == "chat";
  absl::StatusOr<netman::ServerFlags> server = netman::ParseServerFlags();
  if (!server.ok()) return server.status();
  c.server = *std::move(server);
  for (const auto& [name, d] : {std::pair{"--ping_interval", absl::GetFlag(FLAGS_ping_interval)},
                                std::pair{"--pong_timeout", absl::GetFlag(FLAGS_pong_timeout)}}) {
    if (d < absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat(name, " must not be negative"));
    }
  }
  absl::StatusOr<std::unique_ptr<netman::TlsContext>> tls = netman::TlsContextFromFlags();
  if (!tls.ok()) return tls.status();
  c.tls = *std::move(tls);
  if (c.tls != nullptr) c.server.options.transport_factory = c.tls->TransportFactory();
  c.ws.max_message = absl::GetFlag(FLAGS_max_message);
  c.ws.permessage_deflate = absl::GetFlag(FLAGS_permessage_deflate);
  c.ws.deflate_context_takeover = absl::GetFlag(FLAGS_deflate_context_takeover);
  if (c.ws.deflate_context_takeover && !c.ws.permessage_deflate) {
    return absl::InvalidArgumentError("--deflate_context_takeover needs --permessage_deflate");
  }
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
    c.ws.http_page.assign(reinterpret_cast<const char*>(kNetmanChatPage), kNetmanChatPageSize);
  } else {
    std::ifstream in(page_path, std::ios::binary);
    if (!in) return absl::InvalidArgumentError("--chat_page: cannot read " + page_path);
    std::ostringstream page;
    page << in.rdbuf();
    c.ws.http_page = page.str();
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  absl::StatusOr<Config> config;
  netman::ParseCommandLineOrExit(argc, argv, kUsage, [&config] {
    config = ReadFlags();
    return config.status();
  });

  // Before the server's threads start: they must not see these signals.
  netman::SignalWaiter signals({SIGUSR1, SIGHUP});

  netman::WsServer server(config->server.options, config->ws);
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

  absl::Status s = server.StartInBackground(config->server.listen_address);
  if (!s.ok()) {
    std::fprintf(stderr, "ws_server: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("ws_server listening on %s\n", server.listen_address().ToString().c_str());
  std::fflush(stdout);

  signals.On(SIGUSR1, [&server, &config] {
    netman::PrintStatsLines(server.stats().ToJson(), config->tls.get());
  });
  signals.On(SIGHUP, [&server, &config] {
    netman::ReloadTlsAndLog(config->tls.get(), server.logger());
  });
  const int signal_number = signals.WaitForStop();
  server.logger().Info("signal %d: closing every WebSocket (1001) and shutting down",
                       signal_number);
  server.GoingAway(config->server.shutdown_timeout);
  return 0;
}
