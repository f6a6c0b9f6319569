// Copyright netman authors.
//
// AsyncLogSink: a LogSink decorator that never blocks the thread that logs.
//
// Write() copies the line into a bounded in-memory queue and returns; a
// background thread (the drain) hands queued lines, in order, to the wrapped
// sink. An event loop that logs therefore never waits on a slow or stuck log
// destination (stderr on a pipe nobody reads, a full disk, a blocking
// callback): if the destination cannot keep up, the queue fills and further
// lines are dropped and counted (dropped()), and once the drain catches up it
// writes one WARNING line saying how many were dropped.
//
// Example: what a server does with the user's sink.
//   auto async = std::make_shared<netman::AsyncLogSink>(user_logger.sink());
//   netman::Logger logger(async, user_logger.min_level());
//   ... // hand `logger` to the event loops
//   // At shutdown, after the loops have stopped:
//   bool flushed = async->Stop(absl::Seconds(1));  // bounded, even if the
//                                                  // wrapped sink is stuck
//
// Bounds: the queue holds at most Options::max_queued_lines lines and
// Options::max_queued_bytes bytes of message text (whichever is hit first);
// a line that does not fit is dropped, not truncated.
//
// Stopping: Stop(timeout) (and the destructor, with Options::stop_timeout)
// lets the drain write what is queued and waits at most `timeout` for it.
// If the wrapped sink is blocked (and may never return), Stop() detaches the
// drain thread instead of joining it and returns: the thread and the queue
// live in shared state that the thread itself keeps alive (a shared_ptr), so
// nothing it touches is destroyed under it, and the wrapped sink (held by
// that state) stays alive too. If the sink ever unblocks, the detached drain
// writes what is still queued and exits. Lines written after Stop() are
// dropped and counted.
//
// Threading: Write(), dropped() and Stop() are safe from any thread. Write()
// takes a mutex only to append to the queue (the drain holds it only to
// swap the queue out, never while calling the wrapped sink), allocates one
// string per line (before it knows whether the line fits), and performs no
// I/O. The wrapped sink is called
// from the drain thread only, one line at a time.
#ifndef NETMAN_BASE_ASYNC_LOG_SINK_H_
#define NETMAN_BASE_ASYNC_LOG_SINK_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "netman/base/log.h"
#include "netman/base/sync.h"

namespace netman {

class AsyncLogSink final : public LogSink {
 public:
  // Defaults: room for a burst of several thousand typical (100-byte) lines,
  // at most 1 MiB of queued text.
  static constexpr size_t kDefaultMaxQueuedLines = 8192;
  static constexpr size_t kDefaultMaxQueuedBytes = size_t{1} << 20;
  // How long the destructor waits for queued lines to be written.
  static constexpr absl::Duration kDefaultStopTimeout = absl::Seconds(1);

  struct Options {
    // Lines beyond this many queued ones are dropped (at least 1).
    size_t max_queued_lines = kDefaultMaxQueuedLines;
    // A line whose text would take the queued text beyond this many bytes is
    // dropped.
    size_t max_queued_bytes = kDefaultMaxQueuedBytes;
    // The timeout the destructor passes to Stop().
    absl::Duration stop_timeout = kDefaultStopTimeout;
  };

  // Starts the drain thread. `wrapped` null means a StderrLogSink.
  explicit AsyncLogSink(std::shared_ptr<LogSink> wrapped)
      : AsyncLogSink(std::move(wrapped), Options{}) {}
  AsyncLogSink(std::shared_ptr<LogSink> wrapped, Options options);
  // Stop(options.stop_timeout).
  ~AsyncLogSink() override;

  AsyncLogSink(const AsyncLogSink&) = delete;
  AsyncLogSink& operator=(const AsyncLogSink&) = delete;

  // Queues the line, or drops and counts it if the queue is full or Stop()
  // was called. Never blocks on the wrapped sink. Any thread.
  void Write(LogLevel level, std::string_view message) override;

  // Stops accepting lines and waits at most `timeout` for the drain to write
  // the queued ones. Returns true if all of them reached the wrapped sink
  // (the drain thread has then been joined), false if the timeout passed
  // first (the drain thread has been detached; see the file comment). Later
  // calls return at once with the same result as the first. Any thread but
  // the drain's (i.e. not from inside the wrapped sink).
  bool Stop(absl::Duration timeout);

  // Lines dropped so far (queue full, or written after Stop()). Any thread.
  uint64_t dropped() const { return state_->dropped_total.load(std::memory_order_relaxed); }

  // The sink lines are delivered to.
  const std::shared_ptr<LogSink>& wrapped() const { return state_->wrapped; }

 private:
  struct Entry {
    LogLevel level;
    std::string message;
  };
  // Everything the drain thread touches; shared by the sink and the thread
  // so a detached drain never outlives what it uses.
  struct State {
    State(std::shared_ptr<LogSink> sink, Options o) : wrapped(std::move(sink)), options(o) {}
    const std::shared_ptr<LogSink> wrapped;
    const Options options;
    Mutex mu;
    std::vector<Entry> queue ABSL_GUARDED_BY(mu);
    size_t queued_bytes ABSL_GUARDED_BY(mu) = 0;
    // Dropped since the drain last reported drops.
    uint64_t dropped_unreported ABSL_GUARDED_BY(mu) = 0;
    bool stopping ABSL_GUARDED_BY(mu) = false;
    // Set by the drain thread as its last action under `mu`.
    bool drained ABSL_GUARDED_BY(mu) = false;
    std::atomic<uint64_t> dropped_total{0};
  };

  static void Drain(std::shared_ptr<State> state);

  const std::shared_ptr<State> state_;
  Mutex stop_mu_;  // serialises Stop() calls
  std::thread drain_thread_ ABSL_GUARDED_BY(stop_mu_);
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;
  bool stop_result_ ABSL_GUARDED_BY(stop_mu_) = false;
};

}  // namespace netman

#endif  // NETMAN_BASE_ASYNC_LOG_SINK_H_
