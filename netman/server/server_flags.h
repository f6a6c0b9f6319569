// Copyright netman authors.
//
// server_flags: the command-line flags every netman server binary shares
// (tcp_server, the examples' server, later ws_server), defined once and
// validated once.
//
// Linking this library defines these abseil flags (so a binary must not
// define flags of the same names):
//
//   --host                      address to listen on         default 0.0.0.0
//   --port                      0..65535, 0 = any free port  default 8999
//   --loops                     threads, 0 = one per core    default 0
//   --max_body                  bytes, 0 = unlimited         default 64 MiB
//   --heartbeat_idle_time       close silent connections     default 5m
//   --heartbeat_check_interval  0 = idle time / 4            default 0
//   --tcp_keepalive             SO_KEEPALIVE idle time       default 0 (off)
//   --max_output_bytes          bytes, 0 = unlimited         default 64 MiB
//   --output_policy             pause | close                default pause
//   --shutdown_timeout          graceful shutdown limit      default 5s
//   --handshake_timeout         TLS/WebSocket handshake limit default 10s
//   --log_level                 debug|info|warning|error|off default info
//
// The heartbeat is on by default in the binaries, unlike in ServerOptions
// (where it stays off): a peer that connects and never sends a byte, or
// vanishes without a FIN, would otherwise hold a file descriptor for as long
// as the server runs. --heartbeat_idle_time=0 turns it off.
//
// Example (with command_line.h for --help and the exit status):
//   absl::StatusOr<netman::ServerFlags> flags;
//   netman::ParseCommandLineOrExit(argc, argv, "my server.", [&flags] {
//     flags = netman::ParseServerFlags();
//     return flags.status();
//   });
//   netman::TcpServer server(flags->options);
//   ... server.StartInBackground(flags->listen_address) ...
//   server.Shutdown(flags->shutdown_timeout);
//
// Every error is InvalidArgument and its message starts with the flag's name
// ("--loops must be 0 (one per core) or more, not -3").
#ifndef NETMAN_SERVER_SERVER_FLAGS_H_
#define NETMAN_SERVER_SERVER_FLAGS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "netman/base/log.h"
#include "netman/server/server_options.h"

namespace netman {

// The raw flag values, before validation. The defaults here are the flags'
// defaults.
struct ServerFlagValues {
  std::string host = "0.0.0.0";
  int port = 8999;
  int loops = 0;
  uint64_t max_body = kDefaultMaxBody;
  absl::Duration heartbeat_idle_time = absl::Minutes(5);
  absl::Duration heartbeat_check_interval = absl::ZeroDuration();
  absl::Duration tcp_keepalive = absl::ZeroDuration();
  uint64_t max_output_bytes = kDefaultMaxOutputBytes;
  std::string output_policy = "pause";
  absl::Duration shutdown_timeout = absl::Seconds(5);
  std::string log_level = "info";
  absl::Duration handshake_timeout = kDefaultHandshakeTimeout;
};

// The validated configuration of a server binary.
struct ServerFlags {
  // For TcpServer::Start*(): "0.0.0.0:8999", "[::1]:0".
  std::string listen_address;
  // loops, max_body, heartbeat_*, tcp_keepalive, max_output_bytes,
  // output_limit_policy, handshake_timeout and logger (stderr at --log_level) are set from the
  // flags; the rest keep ServerOptions' defaults.
  ServerOptions options;
  // For TcpServer::Shutdown() on SIGINT/SIGTERM.
  absl::Duration shutdown_timeout;
};

// Upper bound of --loops: far more threads than cores only costs memory.
inline constexpr int kMaxLoops = 1024;
// Upper bound of --tcp_keepalive: Linux's limit for TCP_KEEPIDLE (seconds).
inline constexpr absl::Duration kMaxTcpKeepalive = absl::Seconds(32767);

// The current values of the flags (after absl::ParseCommandLine).
ServerFlagValues ReadServerFlagValues();

// Checks every value and builds the configuration. InvalidArgument, with a
// message naming the flag, for the first bad value.
absl::StatusOr<ServerFlags> ValidateServerFlags(const ServerFlagValues& values);

// ValidateServerFlags(ReadServerFlagValues()).
absl::StatusOr<ServerFlags> ParseServerFlags();

// The pieces, for binaries with flags of their own.

// "debug", "info", "warning", "error" or "off" (any case).
absl::StatusOr<LogLevel> ParseLogLevel(std::string_view name);
// "pause" or "close".
absl::StatusOr<OutputLimitPolicy> ParseOutputPolicy(std::string_view name);
// "host:port" for TcpServer::Start from --host and --port: the host is a
// numeric IPv4 or IPv6 address (brackets optional) or "localhost"; the port is
// 0..65535.
absl::StatusOr<std::string> ListenAddressFromFlags(std::string_view host,
                                                   int port);

}  // namespace netman

#endif  // NETMAN_SERVER_SERVER_FLAGS_H_
