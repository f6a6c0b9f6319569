// Copyright netman authors.
//
// ServerProcess: runs //netman/server:tcp_server (id 0 echoes, id 1 answers
// the connection count) as a child process on 127.0.0.1 with a free port,
// for tests that need the server in its own process: more descriptors than
// one process may hold (client and server sides of 15,000 connections), a
// lowered open-file limit for the server alone, or the server's own memory
// and CPU figures.
//
// The test's data must include the binary:
//   data = ["//netman/server:tcp_server"]
//
// Example:
//   auto server = ServerProcess::Start({.loops = 2, .max_open_files = 256});
//   ASSERT_TRUE(server.ok()) << server.status();
//   ... connect to (*server)->port() ...
//   EXPECT_TRUE((*server)->WaitForLog("pausing accepts", absl::Seconds(10)));
//   EXPECT_EQ((*server)->Stop(absl::Seconds(20)).value_or(-1), 0);  // clean exit
//
// Threading: safe from any thread.
#ifndef TESTS_ROBUSTNESS_SERVER_PROCESS_H_
#define TESTS_ROBUSTNESS_SERVER_PROCESS_H_

#include <sys/resource.h>
#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "netman/base/unique_fd.h"

namespace netman::robustness {

class ServerProcess {
 public:
  struct Options {
    int loops = 2;
    uint64_t max_body = 64u << 20;
    std::string log_level = "warning";
    // RLIMIT_NOFILE (soft and hard) for the server; 0 keeps the inherited one.
    rlim_t max_open_files = 0;
    // Extra environment variables ("NAME=value"), e.g. sanitizer options.
    std::vector<std::string> environment;
  };

  // Starts the server and waits (up to 30 s) for its "listening on" line.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(Options options);
  // Kills the server if it is still running.
  ~ServerProcess();

  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  // False once the process has exited (for whatever reason).
  bool Running();
  // What the server wrote to stderr (its log) so far.
  std::string Log();
  // Waits until the log contains `needle`; false after `timeout`.
  bool WaitForLog(std::string_view needle, absl::Duration timeout);
  // SIGTERM, then waits up to `timeout` for the exit. Returns the exit code
  // (0: a clean shutdown; under ASan, LeakSanitizer makes leaks non-zero),
  // 128 + the signal if a signal killed it, or an error on timeout.
  absl::StatusOr<int> Stop(absl::Duration timeout);

 private:
  ServerProcess() = default;
  void ReadOutput();
  // Collects the exit status if the process has exited.
  bool Reap();

  pid_t pid_ = -1;
  uint16_t port_ = 0;
  UniqueFd stdout_;
  UniqueFd stderr_;
  UniqueFd wake_read_;   // closing wake_write_ stops the reader
  UniqueFd wake_write_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string out_;      // guarded by mu_
  std::string err_;      // guarded by mu_
  bool reaped_ = false;  // guarded by mu_
  int exit_code_ = -1;   // guarded by mu_
};

}  // namespace netman::robustness

#endif  // TESTS_ROBUSTNESS_SERVER_PROCESS_H_
