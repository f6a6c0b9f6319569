// Copyright netman authors.
//
// EventLoop: one reactor, run by exactly one thread. It waits on its Poller,
// dispatches ready fds to their IoHandlers, runs due timers, then runs the
// tasks posted to it. Everything a connection does happens on its loop.
//
// Example:
//   auto loop = EventLoop::Create({.poller_factory = CreateDefaultPoller});
//   std::thread t([&] { (*loop)->Run(); });
//   (*loop)->Post([] { /* runs on the loop thread */ });
//   TimerId t = (*loop)->RunEvery(absl::Seconds(1), [] { Tick(); });
//   (*loop)->Quit();
//   t.join();
//
// Threading: Post(), RunInLoop(), Quit(), Wakeup() and IsInLoopThread() are
// safe from any thread. Everything else (fd registration, timers, the
// scratch buffers) must be called on the loop thread, and debug builds check
// it (NETMAN_DCHECK_IN_LOOP_THREAD, as muduo's assertInLoopThread). The loop
// thread is the thread that calls Run() (or RunOnce()); before that, no
// thread is, and the thread setting the loop up may use it.
#ifndef NETMAN_NET_EVENT_LOOP_H_
#define NETMAN_NET_EVENT_LOOP_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <queue>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "netman/base/clock.h"
#include "netman/base/log.h"
#include "netman/buffer/buffer.h"
#include "netman/net/io_counters.h"
#include "netman/net/io_handler.h"
#include "netman/poller/poller.h"
#include "netman/base/sync.h"

// Debug builds (no NDEBUG: --config=debug, asan, tsan) abort with a message
// when a loop-thread-only method runs on another thread; release builds
// compile the check away.
#ifndef NDEBUG
#define NETMAN_DCHECK_IN_LOOP_THREAD(loop) (loop)->AssertInLoopThread(__func__)
#else
#define NETMAN_DCHECK_IN_LOOP_THREAD(loop) static_cast<void>(0)
#endif

namespace netman {

// Identifies a timer for Cancel(). 0 is never a valid id.
using TimerId = uint64_t;

class EventLoop {
 public:
  using Task = absl::AnyInvocable<void() &&>;

  struct Options {
    // Creates the poller (required: e.g. CreateDefaultPoller from
    // //netman/poller, or a fake). The loop does not pick one itself, so
    // depending on it does not link a concrete poller.
    PollerFactory poller_factory;
    // Time source for timers; null means RealClock. Not owned; must outlive
    // the loop.
    const Clock* clock = nullptr;
    Logger logger;
  };

  // Size of the per-loop read buffer every connection on the loop reads into
  // (a pipelined batch of 16 4-KiB messages fits in one read).
  static constexpr size_t kReadBufferSize = 256 * 1024;
  // A scratch buffer is kept between reads only up to this size.
  static constexpr size_t kMaxRetainedOutputScratch = 512 * 1024;
  // Ready events taken per wait before the event vector grows.
  static constexpr size_t kInitialEventCapacity = 256;
  // After Quit(): how many rounds of clean-up tasks (tasks posting tasks)
  // Run() still runs before returning.
  static constexpr int kMaxCleanupRounds = 16;

  static absl::StatusOr<std::unique_ptr<EventLoop>> Create(Options options);
  ~EventLoop();

  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs until Quit(). The calling thread becomes the loop thread. Before
  // returning it runs the tasks still queued, so posted clean-up is not lost.
  void Run();
  // One iteration: waits at most `max_wait` for events, then handles events,
  // due timers and tasks. For tests and for embedding in another loop.
  void RunOnce(absl::Duration max_wait);
  // Makes Run() return after the current iteration. Any thread.
  void Quit();
  bool IsInLoopThread() const {
    return loop_thread_.load(std::memory_order_acquire) ==
           std::this_thread::get_id();
  }
  // Aborts, naming `method`, unless called on the loop thread or before any
  // thread has run the loop. Use NETMAN_DCHECK_IN_LOOP_THREAD.
  void AssertInLoopThread(const char* method) const {
    const std::thread::id owner = loop_thread_.load(std::memory_order_acquire);
    if (owner != std::this_thread::get_id() && owner != std::thread::id()) {
      AbortNotInLoopThread(method);
    }
  }

  // Queues `task` to run on the loop thread after the current iteration's
  // events; tasks run in the order posted (per posting thread). Any thread.
  void Post(Task task);
  // Runs `task` now if called on the loop thread, otherwise Post()s it.
  void RunInLoop(Task task);
  // Interrupts a blocking wait. Any thread.
  void Wakeup() { poller_->Wakeup(); }

  // Timers (loop thread only). Callbacks run on the loop thread.
  TimerId RunAfter(absl::Duration delay, absl::AnyInvocable<void()> callback);
  TimerId RunEvery(absl::Duration interval, absl::AnyInvocable<void()> callback);
  // Cancels a pending timer; harmless if it already ran or was cancelled.
  void Cancel(TimerId id);

  // Fd registration (loop thread only): `handler` receives the fd's events
  // until RemoveFd().
  absl::Status AddFd(int fd, uint32_t interest, IoHandler* handler);
  absl::Status ModifyFd(int fd, uint32_t interest, IoHandler* handler);
  absl::Status RemoveFd(int fd);

  // Scratch space for reads (loop thread only): connections read into it and
  // keep only what they cannot process yet, so idle connections hold no
  // read buffer.
  char* read_buffer() { return read_buffer_.get(); }
  // Scratch space for output (loop thread only): a connection handling a
  // read with nothing queued borrows it (by moving it into its own output
  // buffer) for the replies it produces, sends them with one write and gives
  // it back, keeping only what the kernel did not take. So a busy loop does
  // not allocate per batch of replies, and idle connections hold nothing.
  Buffer TakeOutputScratch() {
    NETMAN_DCHECK_IN_LOOP_THREAD(this);
    return std::move(output_scratch_);
  }
  // Storage the output scratch buffer holds while not lent (tests).
  size_t output_scratch_capacity() const { return output_scratch_.capacity(); }
  // Gives the buffer back (cleared); one beyond kMaxRetainedOutputScratch is
  // freed instead.
  void ReturnOutputScratch(Buffer buffer) { Retain(std::move(buffer), output_scratch_); }
  // The same for input a Transport decrypts (loop thread only): lent for one
  // read, so connections behind a transport hold no input buffer between
  // messages either. Plain connections never use it.
  Buffer TakeInputScratch() {
    NETMAN_DCHECK_IN_LOOP_THREAD(this);
    return std::move(input_scratch_);
  }
  void ReturnInputScratch(Buffer buffer) { Retain(std::move(buffer), input_scratch_); }
  // Storage the input scratch buffer holds while not lent (tests).
  size_t input_scratch_capacity() const { return input_scratch_.capacity(); }

  const Clock& clock() const { return *clock_; }
  // This loop's counters (incremented on the loop thread, readable anywhere).
  IoCounters& counters() { return counters_; }
  const IoCounters& counters() const { return counters_; }
  // The clock reading taken when the current iteration's wait returned: a
  // cheap "now" for per-event bookkeeping (loop thread only).
  absl::Time iteration_time() const { return iteration_time_; }
  // The same as absl::ToUnixNanos(iteration_time()), computed once per
  // iteration.
  int64_t iteration_unix_nanos() const { return iteration_unix_nanos_; }
  const Logger& logger() const { return logger_; }
  // Number of tasks queued from other threads (for tests and stats).
  size_t PendingRemoteTasks() const;

 private:
  struct Timer {
    absl::AnyInvocable<void()> callback;
    absl::Duration interval;  // zero for one-shot
  };
  struct TimerEntry {
    absl::Time deadline;
    uint64_t sequence;  // ties broken in creation order
    TimerId id;
    bool operator>(const TimerEntry& o) const {
      return deadline != o.deadline ? deadline > o.deadline
                                    : sequence > o.sequence;
    }
  };

  EventLoop(std::unique_ptr<Poller> poller, const Clock* clock, Logger logger);
  [[noreturn, gnu::cold]] void AbortNotInLoopThread(const char* method) const;
  static void Retain(Buffer buffer, Buffer& slot) {
    buffer.Clear();
    if (buffer.capacity() <= kMaxRetainedOutputScratch) slot = std::move(buffer);
  }
  void BindToCurrentThread();
  absl::Duration NextTimeout(absl::Duration max_wait);
  void RunDueTimers();
  // Runs the queued tasks; remote ones only if a Post() flagged them since
  // the last run, or `take_remote`.
  void RunTasks(bool take_remote = false);
  TimerId AddTimer(absl::Duration delay, absl::Duration interval,
                   absl::AnyInvocable<void()> callback);

  std::unique_ptr<Poller> poller_;
  const Clock* clock_;
  const Logger logger_;
  std::atomic<std::thread::id> loop_thread_{};
  std::atomic<bool> quit_{false};

  IoCounters counters_;
  std::vector<PollEvent> events_;
  absl::Time iteration_time_;
  int64_t iteration_unix_nanos_;
  std::unique_ptr<char[]> read_buffer_;
  Buffer output_scratch_;
  Buffer input_scratch_;

  // Tasks posted from the loop thread itself: no lock needed.
  std::vector<Task> local_tasks_;
  std::vector<Task> running_tasks_;  // the batch RunTasks() is running
  // Tasks posted from other threads.
  mutable Mutex mu_;
  std::vector<Task> remote_tasks_ ABSL_GUARDED_BY(mu_);
  // Set by the first Post() from another thread after the loop last looked
  // (that Post() also wakes the poller); cleared by RunTasks() before it
  // takes the queue. While it is clear, the loop skips the lock: a task
  // queued meanwhile comes with a wakeup.
  std::atomic<bool> wakeup_pending_{false};

  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<>>
      timer_queue_;
  absl::flat_hash_map<TimerId, Timer> timers_;
  uint64_t next_timer_id_ = 1;
  uint64_t next_sequence_ = 0;
};

}  // namespace netman

#endif  // NETMAN_NET_EVENT_LOOP_H_
