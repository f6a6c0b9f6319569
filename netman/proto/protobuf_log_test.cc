// Copyright netman authors.
#include "netman/proto/protobuf_log.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "netman/base/testing/capturing_log_sink.h"
#include "netman/codec/protobuf_codec.h"
#include "netman/proto/test_messages.pb.h"

namespace netman {
namespace {

TEST(ProtobufLogTest, InvalidUtf8LinesGoToTheLoggerRateLimited) {
  auto sink = std::make_shared<CapturingLogSink>();
  RouteProtobufLogs(Logger(sink, LogLevel::kDebug));
  // Ping.text is a proto3 string: 0xc3 0x28 is not UTF-8.
  const std::string body("\x0a\x02\xc3\x28", 4);
  constexpr int kMessages = 100;
  for (int i = 0; i < kMessages; ++i) {
    test::Ping ping;
    absl::Status s = ParseProto(body, ping);
    ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  }
  const std::vector<std::string> lines = sink->Lines();
  ASSERT_FALSE(lines.empty());
  EXPECT_LE(lines.size(), 10u);  // LogRateLimiter's default burst
  EXPECT_NE(lines[0].find("ERROR libprotobuf"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("netman.test.Ping.text"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("invalid UTF-8"), std::string::npos) << lines[0];
}

}  // namespace
}  // namespace netman
