// Copyright netman authors.
#include "netman/base/log.h"

#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "netman/base/sync.h"

namespace netman {

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarning:
      return "WARNING";
    case LogLevel::kError:
      return "ERROR";
    case LogLevel::kOff:
      return "OFF";
  }
  return "?";
}

void StderrLogSink::Write(LogLevel level, std::string_view message) {
  std::string line;
  line.reserve(message.size() + 16);
  line.append("netman ").append(LogLevelName(level)).append(" ");
  line.append(message).append("\n");
  // One write per line: concurrent lines do not interleave (stderr is
  // unbuffered and writes below PIPE_BUF are atomic on pipes).
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
    if (n <= 0) return;  // Nothing sensible to do if stderr is gone.
    done += static_cast<size_t>(n);
  }
}

void OstreamLogSink::Write(LogLevel level, std::string_view message) {
  MutexLock lock(&mu_);
  out_ << "netman " << LogLevelName(level) << " " << message << "\n";
  out_.flush();
}

Logger::Logger() : Logger(std::make_shared<StderrLogSink>(), LogLevel::kInfo) {}

Logger::Logger(std::shared_ptr<LogSink> sink, LogLevel min_level)
    : sink_(sink ? std::move(sink) : std::make_shared<StderrLogSink>()),
      min_level_(min_level) {}

}  // namespace netman
