// Copyright netman authors.
#include "netman/server/server_flags.h"

#include <memory>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "netman/net/socket_address.h"

// The defaults come from ServerFlagValues, so the two cannot disagree.
ABSL_FLAG(std::string, host, netman::ServerFlagValues().host,
          "Address to listen on: numeric IPv4 or IPv6 (0.0.0.0 = every IPv4 "
          "address, :: = every IPv6 address) or localhost.");
ABSL_FLAG(int, port, netman::ServerFlagValues().port,
          "TCP port to listen on, 0..65535 (0 = any free port; the "
          "'listening on' line shows which).");
ABSL_FLAG(int, loops, netman::ServerFlagValues().loops,
          "Event loop threads (0 = one per core).");
ABSL_FLAG(uint64_t, max_body, netman::ServerFlagValues().max_body,
          "Largest accepted message body in bytes (0 = unlimited).");
ABSL_FLAG(absl::Duration, heartbeat_idle_time,
          netman::ServerFlagValues().heartbeat_idle_time,
          "Close connections that send nothing for this long (0 = never).");
ABSL_FLAG(absl::Duration, heartbeat_check_interval,
          netman::ServerFlagValues().heartbeat_check_interval,
          "How often idle connections are looked for, at most "
          "--heartbeat_idle_time (0 = idle time / 4). A silent connection is "
          "closed up to one interval late.");
ABSL_FLAG(absl::Duration, tcp_keepalive, netman::ServerFlagValues().tcp_keepalive,
          "TCP keepalive idle time on accepted sockets, whole seconds (0 = "
          "off).");
ABSL_FLAG(uint64_t, max_output_bytes, netman::ServerFlagValues().max_output_bytes,
          "Per-connection cap on output the peer has not read, in bytes (0 = "
          "unlimited).");
ABSL_FLAG(std::string, output_policy, netman::ServerFlagValues().output_policy,
          "Over --max_output_bytes: 'pause' reading from the peer, or 'close' "
          "it.");
ABSL_FLAG(absl::Duration, shutdown_timeout,
          netman::ServerFlagValues().shutdown_timeout,
          "On SIGINT/SIGTERM, how long connections get to finish before they "
          "are closed (0 = close at once).");
ABSL_FLAG(absl::Duration, handshake_timeout, netman::ServerFlagValues().handshake_timeout,
          "a connection whose handshake (TLS, WebSocket upgrade) has not "
          "finished this long after accept is closed; 0 disables");
ABSL_FLAG(std::string, log_level, netman::ServerFlagValues().log_level,
          "debug, info, warning, error or off. debug logs a one-line reason "
          "for every close.");

namespace netman {
namespace {

// absl::string_view is not std::string_view in this abseil (20220623).
absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

// A duration flag that must be finite and not negative.
absl::Status CheckDuration(std::string_view flag, absl::Duration value) {
  if (value < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", Absl(flag), " must be 0 or more, not ", absl::FormatDuration(value)));
  }
  if (value == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", Absl(flag), " must be finite, not inf"));
  }
  return absl::OkStatus();
}

absl::Status CheckHeartbeat(absl::Duration idle, absl::Duration interval) {
  if (absl::Status s = CheckDuration("heartbeat_idle_time", idle); !s.ok()) return s;
  if (absl::Status s = CheckDuration("heartbeat_check_interval", interval); !s.ok()) {
    return s;
  }
  if (interval > absl::ZeroDuration() && idle == absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--heartbeat_check_interval is set but --heartbeat_idle_time is 0 "
        "(heartbeat off): set the idle time after which a silent connection "
        "is closed, or drop the interval");
  }
  if (interval > idle) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--heartbeat_check_interval (", absl::FormatDuration(interval),
        ") must not exceed --heartbeat_idle_time (", absl::FormatDuration(idle),
        "): a silent connection is closed up to one interval late"));
  }
  return absl::OkStatus();
}

absl::Status CheckTcpKeepalive(absl::Duration value) {
  if (absl::Status s = CheckDuration("tcp_keepalive", value); !s.ok()) return s;
  if (value == absl::ZeroDuration()) return absl::OkStatus();
  // The kernel counts the keepalive idle time in whole seconds.
  if (value < absl::Seconds(1) || value > kMaxTcpKeepalive ||
      value != absl::Seconds(absl::ToInt64Seconds(value))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tcp_keepalive must be 0 (off) or whole seconds from 1s to ",
        absl::ToInt64Seconds(kMaxTcpKeepalive), "s, not ",
        absl::FormatDuration(value)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LogLevel> ParseLogLevel(std::string_view name) {
  const std::string lower = absl::AsciiStrToLower(Absl(name));
  if (lower == "debug") return LogLevel::kDebug;
  if (lower == "info") return LogLevel::kInfo;
  if (lower == "warning") return LogLevel::kWarning;
  if (lower == "error") return LogLevel::kError;
  if (lower == "off") return LogLevel::kOff;
  return absl::InvalidArgumentError(absl::StrCat(
      "--log_level must be debug, info, warning, error or off, not '", Absl(name), "'"));
}

absl::StatusOr<OutputLimitPolicy> ParseOutputPolicy(std::string_view name) {
  if (name == "pause") return OutputLimitPolicy::kPauseReading;
  if (name == "close") return OutputLimitPolicy::kClose;
  return absl::InvalidArgumentError(
      absl::StrCat("--output_policy must be 'pause' or 'close', not '", Absl(name), "'"));
}

absl::StatusOr<std::string> ListenAddressFromFlags(std::string_view host,
                                                   int port) {
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--port must be 0..65535 (0 = any free port), not ", port));
  }
  if (host.empty()) {
    return absl::InvalidArgumentError(
        "--host is empty: give the address to listen on (0.0.0.0 for every "
        "IPv4 address, :: for every IPv6 address, 127.0.0.1 for this host "
        "only)");
  }
  std::string_view bare = host;
  if (bare.size() >= 2 && bare.front() == '[' && bare.back() == ']') {
    bare = bare.substr(1, bare.size() - 2);
  }
  if (!SocketAddress::FromHostPort(bare, static_cast<uint16_t>(port)).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--host='", Absl(host),
        "' is not a numeric IPv4 or IPv6 address or localhost (names are not "
        "resolved)"));
  }
  if (bare.find(':') != std::string_view::npos) {
    return absl::StrCat("[", Absl(bare), "]:", port);
  }
  return absl::StrCat(Absl(bare), ":", port);
}

ServerFlagValues ReadServerFlagValues() {
  ServerFlagValues v;
  v.host = absl::GetFlag(FLAGS_host);
  v.port = absl::GetFlag(FLAGS_port);
  v.loops = absl::GetFlag(FLAGS_loops);
  v.max_body = absl::GetFlag(FLAGS_max_body);
  v.heartbeat_idle_time = absl::GetFlag(FLAGS_heartbeat_idle_time);
  v.heartbeat_check_interval = absl::GetFlag(FLAGS_heartbeat_check_interval);
  v.tcp_keepalive = absl::GetFlag(FLAGS_tcp_keepalive);
  v.max_output_bytes = absl::GetFlag(FLAGS_max_output_bytes);
  v.output_policy = absl::GetFlag(FLAGS_output_policy);
  v.shutdown_timeout = absl::GetFlag(FLAGS_shutdown_timeout);
  v.log_level = absl::GetFlag(FLAGS_log_level);
  v.handshake_timeout = absl::GetFlag(FLAGS_handshake_timeout);
  return v;
}

absl::StatusOr<ServerFlags> ValidateServerFlags(const ServerFlagValues& v) {
  ServerFlags flags;
  absl::StatusOr<std::string> address = ListenAddressFromFlags(v.host, v.port);
  if (!address.ok()) return address.status();
  flags.listen_address = *std::move(address);

  if (v.loops < 0 || v.loops > kMaxLoops) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--loops must be 0 (one per core) to ", kMaxLoops, ", not ", v.loops));
  }
  if (absl::Status s = CheckHeartbeat(v.heartbeat_idle_time,
                                      v.heartbeat_check_interval);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckTcpKeepalive(v.tcp_keepalive); !s.ok()) return s;
  absl::StatusOr<OutputLimitPolicy> policy = ParseOutputPolicy(v.output_policy);
  if (!policy.ok()) return policy.status();
  if (absl::Status s = CheckDuration("shutdown_timeout", v.shutdown_timeout); !s.ok()) {
    return s;
  }
  absl::StatusOr<LogLevel> level = ParseLogLevel(v.log_level);
  if (!level.ok()) return level.status();
  if (absl::Status s = CheckDuration("handshake_timeout", v.handshake_timeout); !s.ok()) {
    return s;
  }

  ServerOptions& o = flags.options;
  o.loops = v.loops;
  o.max_body = v.max_body;
  o.heartbeat_idle_time = v.heartbeat_idle_time;
  o.heartbeat_check_interval = v.heartbeat_check_interval;
  o.tcp_keepalive = v.tcp_keepalive;
  o.max_output_bytes = static_cast<size_t>(v.max_output_bytes);
  o.output_limit_policy = *policy;
  o.handshake_timeout = v.handshake_timeout;
  o.logger = Logger(std::make_shared<StderrLogSink>(), *level);
  flags.shutdown_timeout = v.shutdown_timeout;
  return flags;
}

absl::StatusOr<ServerFlags> ParseServerFlags() {
  return ValidateServerFlags(ReadServerFlagValues());
}

}  // namespace netman
