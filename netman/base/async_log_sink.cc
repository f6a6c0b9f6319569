// Copyright netman authors.
#include "netman/base/async_log_sink.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"

namespace netman {
namespace {

AsyncLogSink::Options Sanitized(AsyncLogSink::Options options) {
  options.max_queued_lines = std::max<size_t>(options.max_queued_lines, 1);
  return options;
}

}  // namespace

AsyncLogSink::AsyncLogSink(std::shared_ptr<LogSink> wrapped, Options options)
    : state_(std::make_shared<State>(
          wrapped ? std::move(wrapped) : std::make_shared<StderrLogSink>(),
          Sanitized(options))) {
  // The thread holds its own reference to the state: see Stop().
  drain_thread_ = std::thread(&AsyncLogSink::Drain, state_);
}

AsyncLogSink::~AsyncLogSink() { Stop(state_->options.stop_timeout); }

void AsyncLogSink::Write(LogLevel level, std::string_view message) {
  State& s = *state_;
  // Copied before taking the lock, so writers hold it only to append.
  std::string copy(message);
  {
    MutexLock lock(&s.mu);
    if (!s.stopping) {
      if (s.queue.size() < s.options.max_queued_lines &&
          message.size() <= s.options.max_queued_bytes - s.queued_bytes) {
        s.queued_bytes += message.size();
        s.queue.push_back(Entry{level, std::move(copy)});
        return;  // the unlock wakes the drain if it waits
      }
      ++s.dropped_unreported;
    }
  }
  s.dropped_total.fetch_add(1, std::memory_order_relaxed);
}

void AsyncLogSink::Drain(std::shared_ptr<State> state) {
  ::pthread_setname_np(::pthread_self(), "netman-log");
  State& s = *state;
  std::vector<Entry> batch;  // swapped with the queue: both keep their storage
  for (;;) {
    uint64_t dropped = 0;
    {
      MutexLock lock(&s.mu);
      s.mu.Await([&s]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return !s.queue.empty() || s.dropped_unreported > 0 || s.stopping;
      });
      if (s.queue.empty() && s.dropped_unreported == 0) {  // stopping, all written
        s.drained = true;
        return;
      }
      batch.swap(s.queue);
      s.queued_bytes = 0;
      dropped = s.dropped_unreported;
      s.dropped_unreported = 0;
    }
    // Without the lock: writers keep queueing while the wrapped sink works
    // (or blocks).
    for (const Entry& e : batch) s.wrapped->Write(e.level, e.message);
    batch.clear();
    if (dropped > 0) {
      s.wrapped->Write(LogLevel::kWarning,
                       absl::StrFormat("%d log line(s) dropped: the log output did not "
                                       "keep up (queue full)",
                                       dropped));
    }
  }
}

bool AsyncLogSink::Stop(absl::Duration timeout) {
  MutexLock stop_lock(&stop_mu_);
  if (stopped_) return stop_result_;
  stopped_ = true;
  {
    // A separate critical section: its unlock is what wakes the drain.
    MutexLock lock(&state_->mu);
    state_->stopping = true;
  }
  bool drained;
  {
    MutexLock lock(&state_->mu);
    State* s = state_.get();
    drained = state_->mu.AwaitWithTimeout(
        [s]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return s->drained; }, timeout);
  }
  if (drained) {
    drain_thread_.join();  // it is returning: nothing left that can block
  } else {
    // The wrapped sink is blocked (perhaps forever): joining could hang the
    // caller, e.g. a server shutting down on SIGTERM. The detached thread
    // owns a reference to the state and thereby to the wrapped sink.
    drain_thread_.detach();
  }
  stop_result_ = drained;
  return drained;
}

}  // namespace netman
