// Copyright netman authors.
#include "netman/base/log.h"

#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "netman/base/testing/capturing_log_sink.h"

namespace netman {
namespace {

TEST(LoggerTest, FiltersBelowMinimumLevel) {
  auto sink = std::make_shared<CapturingLogSink>();
  Logger logger(sink, LogLevel::kWarning);
  logger.Debug("debug %d", 1);
  logger.Info("info %d", 2);
  logger.Warning("warning %d", 3);
  logger.Error("error %s", "four");
  EXPECT_EQ(sink->Lines(),
            (std::vector<std::string>{"WARNING warning 3", "ERROR error four"}));
}

TEST(LoggerTest, OffDisablesEverything) {
  auto sink = std::make_shared<CapturingLogSink>();
  Logger logger(sink, LogLevel::kOff);
  logger.Error("x");
  EXPECT_FALSE(logger.Enabled(LogLevel::kError));
  EXPECT_TRUE(sink->Lines().empty());
}

TEST(LoggerTest, CallbackAndOstreamSinksReceiveLines) {
  std::vector<std::string> got;
  Logger a(std::make_shared<CallbackLogSink>(
               [&](LogLevel level, std::string_view line) {
                 got.push_back(std::string(LogLevelName(level)) + ":" +
                               std::string(line));
               }),
           LogLevel::kDebug);
  a.Debug("hello %s", "there");
  EXPECT_EQ(got, std::vector<std::string>{"DEBUG:hello there"});

  std::ostringstream out;
  Logger b(std::make_shared<OstreamLogSink>(out), LogLevel::kInfo);
  b.Info("accepted %d", 7);
  EXPECT_EQ(out.str(), "netman INFO accepted 7\n");
}

TEST(LoggerTest, DefaultLoggerIsInfoToStderr) {
  Logger logger;
  EXPECT_EQ(logger.min_level(), LogLevel::kInfo);
  EXPECT_FALSE(logger.Enabled(LogLevel::kDebug));
}

}  // namespace
}  // namespace netman
