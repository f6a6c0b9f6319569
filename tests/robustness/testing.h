// Copyright netman authors.
//
// Helpers for netman's abuse and fault tests (tests/robustness): raw sockets
// that misbehave on purpose, measurements of what the server spends (buffer
// capacity read on the connection's loop thread, loop-thread CPU, process
// RSS and descriptors), bounded waits on conditions, and the Canary: a
// well-behaved client that keeps echoing while a test attacks the server and
// reports whether it was ever refused, corrupted or slowed down.
//
// Threading: every function is safe from any thread; a Canary runs its own.
#ifndef TESTS_ROBUSTNESS_TESTING_H_
#define TESTS_ROBUSTNESS_TESTING_H_

#include <sys/types.h>
#include <time.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "netman/base/unique_fd.h"
#include "netman/client/client.h"
#include "netman/base/testing/capturing_log_sink.h"
#include "netman/net/connection.h"
#include "netman/server/tcp_server.h"

namespace netman::robustness {

// Which sanitizers this build has. Timing bounds are relaxed under any of
// them (Relaxed()), never the functional checks. --config=asan always pairs
// ASan with UBSan.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
#else
inline constexpr bool kAddressSanitizer = false;
#endif
#if defined(__SANITIZE_THREAD__)
inline constexpr bool kThreadSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool kThreadSanitizer = true;
#else
inline constexpr bool kThreadSanitizer = false;
#endif
#else
inline constexpr bool kThreadSanitizer = false;
#endif
inline constexpr bool kSanitized = kAddressSanitizer || kThreadSanitizer;

// `normal` in plain builds, `normal` * `factor` under sanitizers.
inline absl::Duration Relaxed(absl::Duration normal, int factor = 5) {
  return kSanitized ? normal * factor : normal;
}

// The DefaultPacker frame for (id, body), and just its 8-byte header for a
// body of `length` bytes.
std::string Frame(uint32_t id, std::string_view body);
std::string Header(uint32_t length, uint32_t id = 0);

// Polls `condition` (every millisecond or so) until it holds or `timeout`
// passes; returns its last value. For conditions nothing can notify us of
// (kernel state, another process, a server counter).
bool WaitUntil(const std::function<bool()>& condition, absl::Duration timeout);

// Runs `fn` on `connection`'s loop thread and returns its result, or nullopt
// if the loop did not run it within `timeout` (e.g. a handler blocks it).
template <typename T>
std::optional<T> OnLoop(const ConnectionPtr& connection, std::function<T()> fn,
                        absl::Duration timeout = absl::Seconds(10)) {
  auto promise = std::make_shared<std::promise<T>>();
  std::future<T> future = promise->get_future();
  connection->loop()->Post([promise, fn = std::move(fn)]() { promise->set_value(fn()); });
  if (future.wait_for(absl::ToChronoNanoseconds(timeout)) != std::future_status::ready) {
    return std::nullopt;
  }
  return future.get();
}

// Input + output buffer capacity a connection holds (read on its loop).
size_t BufferCapacity(const ConnectionPtr& connection);

// CPU time of one thread, readable from any thread.
class ThreadCpuClock {
 public:
  // The clock of the loop thread `connection` lives on.
  static absl::StatusOr<ThreadCpuClock> OfLoop(const ConnectionPtr& connection);
  absl::Duration Now() const;

 private:
  explicit ThreadCpuClock(clockid_t id) : id_(id) {}
  clockid_t id_;
};

// From /proc: resident memory, CPU time (user + system) and open
// descriptors of process `pid` (0: this process).
int64_t ResidentBytes(pid_t pid = 0);
absl::Duration ProcessCpu(pid_t pid = 0);
int OpenDescriptors(pid_t pid = 0);

// A blocking, close-on-exec TCP connection to 127.0.0.1:`port`. A non-zero
// `receive_buffer` sets SO_RCVBUF first (a small one makes a client that
// does not read push back on the server sooner).
absl::StatusOr<UniqueFd> ConnectTo(uint16_t port, int receive_buffer = 0);
// Makes close() send a RST instead of a FIN (SO_LINGER with a zero timeout).
void SetLingerZero(int fd);
// The local port of a connected socket.
uint16_t LocalPort(int fd);
// Writes all of `bytes` (MSG_NOSIGNAL); an error if the peer is gone or the
// socket is not writable within `timeout`.
absl::Status WriteAll(int fd, std::string_view bytes,
                      absl::Duration timeout = absl::Seconds(20));
// Reads until the peer closes (EOF or reset) or `timeout` passes; returns
// what arrived. `closed` tells which.
std::string ReadUntilClosed(int fd, absl::Duration timeout, bool* closed);
// Reads exactly `n` bytes; an error on EOF, reset or timeout.
absl::StatusOr<std::string> ReadExactly(int fd, size_t n, absl::Duration timeout);

// A well-behaved client that echoes a message (id 0, varying sizes and
// contents) every `interval` on its own connection until Stop(), checking
// each reply byte for byte. Tests start one before an attack and check
// Stop()'s result: the server kept serving others at full speed.
class Canary {
 public:
  struct Stats {
    int64_t round_trips = 0;
    absl::Duration max_latency;
    // The first failure (refused, closed, timed out, wrong reply); OK if none.
    absl::Status error;
  };

  // Connects and starts echoing; an error if the first round trip fails.
  static absl::StatusOr<std::unique_ptr<Canary>> Start(
      uint16_t port, absl::Duration interval = absl::Milliseconds(2));
  ~Canary();

  // Round trips completed so far.
  int64_t round_trips() const { return round_trips_.load(); }
  // Waits until `n` more round trips have completed (false after `timeout`,
  // or if the canary failed): the server is still serving.
  bool ServesMore(int64_t n, absl::Duration timeout = absl::Seconds(20));
  // Stops (joining the thread) and returns what happened.
  Stats Stop();

 private:
  Canary() = default;
  void Run(absl::Duration interval);

  std::unique_ptr<Client> client_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::atomic<int64_t> round_trips_{0};
  Stats stats_;        // written by the thread, read after join
};

// gtest-friendly check of a canary's result: no error, at least
// `min_round_trips`, and no round trip slower than `max_latency`.
::testing::AssertionResult CanaryWasServed(const Canary::Stats& stats,
                                           int64_t min_round_trips,
                                           absl::Duration max_latency);

// A fixture running an in-process TcpServer on 127.0.0.1 (port 0) whose
// id 0 echoes, logging at kDebug into sink_.
class ServerTest : public ::testing::Test {
 protected:
  // Stops the server before the fixture's members (hooks may use them) go.
  void TearDown() override;

  // `configure` may add routes and hooks before the server starts.
  void StartServer(ServerOptions options = {},
                   const std::function<void(TcpServer&)>& configure = nullptr);
  uint16_t port() const { return server_->port(); }
  // The server's side of the client socket `client_fd` (matched by port),
  // once accepted; null if that does not happen within 10 s.
  ConnectionPtr ServerSideOf(int client_fd);
  // Sum of BufferCapacity() over the server's connections.
  size_t TotalBufferCapacity();
  // Waits until the server has exactly `n` connections.
  bool WaitForConnectionCount(size_t n, absl::Duration timeout = absl::Seconds(20));

  std::shared_ptr<CapturingLogSink> sink_;
  std::unique_ptr<TcpServer> server_;
};

}  // namespace netman::robustness

#endif  // TESTS_ROBUSTNESS_TESTING_H_
