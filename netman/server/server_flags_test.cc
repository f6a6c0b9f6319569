// Copyright netman authors.
#include "netman/server/server_flags.h"

#include <functional>
#include <string>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "netman/base/log.h"
#include "netman/server/tcp_server.h"

ABSL_DECLARE_FLAG(std::string, host);
ABSL_DECLARE_FLAG(int, port);
ABSL_DECLARE_FLAG(int, loops);
ABSL_DECLARE_FLAG(absl::Duration, heartbeat_idle_time);
ABSL_DECLARE_FLAG(std::string, output_policy);
ABSL_DECLARE_FLAG(std::string, log_level);

namespace netman {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// The flag values with one change.
ServerFlagValues With(const std::function<void(ServerFlagValues&)>& change) {
  ServerFlagValues v;
  change(v);
  return v;
}

// Expects InvalidArgument whose message starts with "--<flag>".
void ExpectRejected(const ServerFlagValues& values, const std::string& flag) {
  absl::StatusOr<ServerFlags> flags = ValidateServerFlags(values);
  ASSERT_FALSE(flags.ok()) << "--" << flag << " accepted";
  EXPECT_EQ(flags.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(flags.status().message()), StartsWith("--" + flag))
      << flags.status();
}

TEST(ServerFlagsTest, DefaultsAreValid) {
  absl::StatusOr<ServerFlags> flags = ValidateServerFlags(ServerFlagValues());
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->listen_address, "0.0.0.0:8999");
  EXPECT_EQ(flags->options.loops, 0);
  EXPECT_EQ(flags->options.max_body, 64u << 20);
  // The binaries close silent connections by default; the library does not.
  EXPECT_EQ(flags->options.heartbeat_idle_time, absl::Minutes(5));
  EXPECT_EQ(ServerOptions().heartbeat_idle_time, absl::ZeroDuration());
  EXPECT_EQ(flags->options.heartbeat_check_interval, absl::ZeroDuration());
  EXPECT_EQ(flags->options.tcp_keepalive, absl::ZeroDuration());
  EXPECT_EQ(flags->options.max_output_bytes, size_t{64} << 20);
  EXPECT_EQ(flags->options.output_limit_policy, OutputLimitPolicy::kPauseReading);
  EXPECT_EQ(flags->options.logger.min_level(), LogLevel::kInfo);
  EXPECT_EQ(flags->shutdown_timeout, absl::Seconds(5));
}

TEST(ServerFlagsTest, FlagDefaultsMatchServerFlagValues) {
  absl::FlagSaver saver;
  const ServerFlagValues read = ReadServerFlagValues();
  const ServerFlagValues want;
  EXPECT_EQ(read.host, want.host);
  EXPECT_EQ(read.port, want.port);
  EXPECT_EQ(read.loops, want.loops);
  EXPECT_EQ(read.max_body, want.max_body);
  EXPECT_EQ(read.heartbeat_idle_time, want.heartbeat_idle_time);
  EXPECT_EQ(read.heartbeat_check_interval, want.heartbeat_check_interval);
  EXPECT_EQ(read.tcp_keepalive, want.tcp_keepalive);
  EXPECT_EQ(read.max_output_bytes, want.max_output_bytes);
  EXPECT_EQ(read.output_policy, want.output_policy);
  EXPECT_EQ(read.shutdown_timeout, want.shutdown_timeout);
  EXPECT_EQ(read.log_level, want.log_level);
}

TEST(ServerFlagsTest, ParseServerFlagsReadsTheFlags) {
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_host, "::1");
  absl::SetFlag(&FLAGS_port, 0);
  absl::SetFlag(&FLAGS_loops, 3);
  absl::SetFlag(&FLAGS_heartbeat_idle_time, absl::ZeroDuration());
  absl::SetFlag(&FLAGS_output_policy, "close");
  absl::SetFlag(&FLAGS_log_level, "debug");
  absl::StatusOr<ServerFlags> flags = ParseServerFlags();
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->listen_address, "[::1]:0");
  EXPECT_EQ(flags->options.loops, 3);
  EXPECT_EQ(flags->options.heartbeat_idle_time, absl::ZeroDuration());
  EXPECT_EQ(flags->options.output_limit_policy, OutputLimitPolicy::kClose);
  EXPECT_EQ(flags->options.logger.min_level(), LogLevel::kDebug);

  absl::SetFlag(&FLAGS_loops, -3);
  EXPECT_EQ(ParseServerFlags().status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ServerFlagsTest, Loops) {
  ExpectRejected(With([](auto& v) { v.loops = -3; }), "loops");
  ExpectRejected(With([](auto& v) { v.loops = kMaxLoops + 1; }), "loops");
  EXPECT_TRUE(ValidateServerFlags(With([](auto& v) { v.loops = kMaxLoops; })).ok());
  EXPECT_TRUE(ValidateServerFlags(With([](auto& v) { v.loops = 1; })).ok());
}

TEST(ServerFlagsTest, LogLevel) {
  ExpectRejected(With([](auto& v) { v.log_level = "bogus"; }), "log_level");
  ExpectRejected(With([](auto& v) { v.log_level = ""; }), "log_level");
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("INFO"), LogLevel::kInfo);
  EXPECT_EQ(*ParseLogLevel("warning"), LogLevel::kWarning);
  EXPECT_EQ(*ParseLogLevel("error"), LogLevel::kError);
  EXPECT_EQ(*ParseLogLevel("off"), LogLevel::kOff);
  EXPECT_THAT(std::string(ParseLogLevel("warn").status().message()),
              HasSubstr("debug, info, warning, error or off"));
}

TEST(ServerFlagsTest, OutputPolicy) {
  ExpectRejected(With([](auto& v) { v.output_policy = "drop"; }), "output_policy");
  EXPECT_EQ(*ParseOutputPolicy("pause"), OutputLimitPolicy::kPauseReading);
  EXPECT_EQ(*ParseOutputPolicy("close"), OutputLimitPolicy::kClose);
}

TEST(ServerFlagsTest, ShutdownTimeout) {
  ExpectRejected(With([](auto& v) { v.shutdown_timeout = absl::Seconds(-5); }),
                 "shutdown_timeout");
  ExpectRejected(
      With([](auto& v) { v.shutdown_timeout = absl::InfiniteDuration(); }),
      "shutdown_timeout");
  EXPECT_TRUE(ValidateServerFlags(
                  With([](auto& v) { v.shutdown_timeout = absl::ZeroDuration(); }))
                  .ok());
}

TEST(ServerFlagsTest, Heartbeat) {
  ExpectRejected(With([](auto& v) {
                   v.heartbeat_idle_time = absl::Seconds(1);
                   v.heartbeat_check_interval = absl::Seconds(2);
                 }),
                 "heartbeat_check_interval");
  // An interval without an idle time.
  ExpectRejected(With([](auto& v) {
                   v.heartbeat_idle_time = absl::ZeroDuration();
                   v.heartbeat_check_interval = absl::Seconds(1);
                 }),
                 "heartbeat_check_interval");
  ExpectRejected(With([](auto& v) { v.heartbeat_idle_time = absl::Seconds(-1); }),
                 "heartbeat_idle_time");
  ExpectRejected(
      With([](auto& v) { v.heartbeat_idle_time = absl::InfiniteDuration(); }),
      "heartbeat_idle_time");
  ExpectRejected(
      With([](auto& v) { v.heartbeat_check_interval = absl::Seconds(-1); }),
      "heartbeat_check_interval");
  // Off, and an interval equal to the idle time, are fine.
  EXPECT_TRUE(ValidateServerFlags(With([](auto& v) {
                v.heartbeat_idle_time = absl::ZeroDuration();
              })).ok());
  EXPECT_TRUE(ValidateServerFlags(With([](auto& v) {
                v.heartbeat_idle_time = absl::Seconds(10);
                v.heartbeat_check_interval = absl::Seconds(10);
              })).ok());
}

TEST(ServerFlagsTest, TcpKeepalive) {
  ExpectRejected(With([](auto& v) { v.tcp_keepalive = absl::Seconds(-1); }),
                 "tcp_keepalive");
  ExpectRejected(With([](auto& v) { v.tcp_keepalive = absl::Milliseconds(1500); }),
                 "tcp_keepalive");
  ExpectRejected(With([](auto& v) { v.tcp_keepalive = absl::Milliseconds(500); }),
                 "tcp_keepalive");
  ExpectRejected(
      With([](auto& v) { v.tcp_keepalive = kMaxTcpKeepalive + absl::Seconds(1); }),
      "tcp_keepalive");
  absl::StatusOr<ServerFlags> flags =
      ValidateServerFlags(With([](auto& v) { v.tcp_keepalive = absl::Seconds(60); }));
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->options.tcp_keepalive, absl::Seconds(60));
}

TEST(ServerFlagsTest, HostAndPort) {
  ExpectRejected(With([](auto& v) { v.host = ""; }), "host");
  ExpectRejected(With([](auto& v) { v.host = "example.com"; }), "host");
  ExpectRejected(With([](auto& v) { v.host = "1.2.3.4.5"; }), "host");
  ExpectRejected(With([](auto& v) { v.host = "[::1"; }), "host");
  ExpectRejected(With([](auto& v) { v.port = -1; }), "port");
  ExpectRejected(With([](auto& v) { v.port = 65536; }), "port");

  EXPECT_EQ(*ListenAddressFromFlags("127.0.0.1", 0), "127.0.0.1:0");
  EXPECT_EQ(*ListenAddressFromFlags("0.0.0.0", 65535), "0.0.0.0:65535");
  EXPECT_EQ(*ListenAddressFromFlags("::", 80), "[::]:80");
  EXPECT_EQ(*ListenAddressFromFlags("[::1]", 80), "[::1]:80");
  EXPECT_EQ(*ListenAddressFromFlags("localhost", 80), "localhost:80");
}

TEST(ServerFlagsTest, SizesPassThrough) {
  absl::StatusOr<ServerFlags> flags = ValidateServerFlags(With([](auto& v) {
    v.max_body = 0;
    v.max_output_bytes = 1024;
  }));
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->options.max_body, 0u);
  EXPECT_EQ(flags->options.max_output_bytes, 1024u);
}

}  // namespace
}  // namespace netman
