// Copyright netman authors.
#include "netman/proto/protobuf_log.h"

#include <memory>
#include <string>

#include "google/protobuf/stubs/logging.h"
#include "netman/base/log_rate_limiter.h"
#include "netman/base/sync.h"

namespace netman {
namespace {

// Where protobuf's lines go. The one piece of process-wide state here,
// mirroring protobuf's own process-wide handler.
struct Route {
  Mutex mu;
  std::unique_ptr<Logger> logger ABSL_GUARDED_BY(mu);
  LogRateLimiter limiter;
};

Route& TheRoute() {
  static Route route;
  return route;
}

void Handle(google::protobuf::LogLevel level, const char* filename, int line,
            const std::string& message) {
  Route& route = TheRoute();
  const LogLevel ours = level == google::protobuf::LOGLEVEL_INFO      ? LogLevel::kInfo
                        : level == google::protobuf::LOGLEVEL_WARNING ? LogLevel::kWarning
                                                                      : LogLevel::kError;
  MutexLock lock(&route.mu);
  if (route.logger == nullptr) return;
  route.limiter.Log(*route.logger, ours, "libprotobuf %s:%d: %s", filename, line, message);
}

}  // namespace

void RouteProtobufLogs(Logger logger) {
  Route& route = TheRoute();
  {
    MutexLock lock(&route.mu);
    route.logger = std::make_unique<Logger>(std::move(logger));
  }
  google::protobuf::SetLogHandler(&Handle);
}

}  // namespace netman
