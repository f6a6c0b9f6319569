// Copyright netman authors.
//
// Logging never blocks a loop and never floods: a log sink that blocks
// forever (a stuck log collector) does not stop the server from serving or
// from shutting down in time, and a flood of per-message warnings (unknown
// message ids) writes a handful of lines, not one per message.
#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "netman/testing/frames.h"
#include "netman/base/log.h"
#include "netman/base/log_rate_limiter.h"
#include "netman/base/sync.h"
#include "netman/base/testing/capturing_log_sink.h"
#include "netman/client/client.h"
#include "netman/codec/default_packer.h"
#include "netman/server/tcp_server.h"

namespace netman {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(20);

using testing::Frame;

// A sink whose Write() blocks until Release() (a stuck log collector).
class BlockingSink final : public LogSink {
 public:
  void Write(LogLevel, std::string_view) override {
    writes_.fetch_add(1);
    release_.WaitForNotification();
  }
  void Release() { release_.Notify(); }
  int writes() const { return writes_.load(); }

 private:
  Notification release_;
  std::atomic<int> writes_{0};
};

TEST(ServerLoggingTest, ASinkThatBlocksForeverNeitherStallsTheLoopNorShutdown) {
  auto sink = std::make_shared<BlockingSink>();
  ServerOptions options;
  options.loops = 1;  // the flooding peer and the others share the loop
  options.logger = Logger(sink, LogLevel::kDebug);
  auto server = std::make_unique<TcpServer>(options);
  ASSERT_TRUE(server->AddRouter(0, [](Request& r) { (void)r.connection().Send(0, r.body()); })
                  .ok());
  ASSERT_TRUE(server->StartInBackground("127.0.0.1:0").ok());

  // Unknown ids (a warning each, rate-limited) and debug lines per
  // connection, while the sink is stuck on its first line.
  auto flooder = Client::Connect("127.0.0.1", server->port());
  ASSERT_TRUE(flooder.ok());
  std::string flood;
  for (int i = 0; i < 20000; ++i) flood += Frame(777, "?");
  ASSERT_TRUE((*flooder)->SendRaw(flood).ok());
  for (int i = 0; i < 50; ++i) {  // connections open and close: debug lines
    auto c = Client::Connect("127.0.0.1", server->port());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE((*c)->Send(0, "x").ok());
    ASSERT_TRUE((*c)->Receive(kTimeout).ok());
  }
  // A fresh client is still served.
  auto fresh = Client::Connect("127.0.0.1", server->port());
  ASSERT_TRUE(fresh.ok());
  ASSERT_TRUE((*fresh)->Send(0, "still served").ok());
  auto reply = (*fresh)->Receive(kTimeout);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->body, "still served");
  EXPECT_GE(sink->writes(), 1);  // the sink really is stuck

  // Graceful shutdown returns (within its timeout plus the log flush
  // budget) although the sink never returns.
  Notification shut_down;
  std::thread stopper([&] {
    server->Shutdown(absl::Milliseconds(500));
    shut_down.Notify();
  });
  const bool returned = shut_down.WaitForNotificationWithTimeout(kTimeout);
  EXPECT_TRUE(returned) << "Shutdown() blocked on the log sink";
  if (!returned) sink->Release();
  stopper.join();
  sink->Release();  // let the detached log thread finish
}

TEST(ServerLoggingTest, AFloodOfUnknownIdsLogsAFewLinesNotOnePerMessage) {
  auto sink = std::make_shared<CapturingLogSink>();
  ServerOptions options;
  options.loops = 1;
  options.logger = Logger(sink, LogLevel::kInfo);
  TcpServer server(options);
  ASSERT_TRUE(server.AddRouter(0, [](Request& r) { (void)r.connection().Send(0, r.body()); })
                  .ok());
  ASSERT_TRUE(server.StartInBackground("127.0.0.1:0").ok());
  auto c = Client::Connect("127.0.0.1", server.port());
  ASSERT_TRUE(c.ok());
  constexpr int kFlood = 50000;
  std::string flood;
  for (int i = 0; i < kFlood; ++i) flood += Frame(4242, "?");
  ASSERT_TRUE((*c)->SendRaw(flood).ok());
  // A round trip after the flood: every unknown id has been handled.
  ASSERT_TRUE((*c)->Send(0, "done").ok());
  auto reply = (*c)->Receive(kTimeout);
  ASSERT_TRUE(reply.ok()) << reply.status();
  server.Stop();  // flushes the log
  int no_route = 0;
  bool says_suppressed = false;
  for (const std::string& line : sink->Lines()) {
    if (absl::StrContains(line, "no route for message id 4242")) ++no_route;
    if (absl::StrContains(line, "rate limited")) says_suppressed = true;
  }
  EXPECT_GE(no_route, 1);
  // At most two intervals' bursts (a flood can straddle an interval edge).
  EXPECT_LE(no_route, 2 * LogRateLimiter::kDefaultBurst);
  EXPECT_TRUE(says_suppressed);
}

}  // namespace
}  // namespace netman
