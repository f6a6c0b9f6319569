// Copyright netman authors.
#include "netman/net/event_loop.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <utility>

#include "netman/base/sync.h"

namespace netman {

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create(Options options) {
  if (!options.poller_factory) {
    return absl::InvalidArgumentError(
        "EventLoop::Options::poller_factory is required (e.g. CreateDefaultPoller)");
  }
  absl::StatusOr<std::unique_ptr<Poller>> poller = options.poller_factory();
  if (!poller.ok()) return poller.status();
  if (*poller == nullptr) return absl::InvalidArgumentError("poller factory returned null");
  const Clock* clock = options.clock ? options.clock : &RealClock::Instance();
  return std::unique_ptr<EventLoop>(
      new EventLoop(std::move(*poller), clock, std::move(options.logger)));
}

EventLoop::EventLoop(std::unique_ptr<Poller> poller, const Clock* clock,
                     Logger logger)
    : poller_(std::move(poller)),
      clock_(clock),
      logger_(std::move(logger)),
      iteration_time_(clock->Now()),
      iteration_unix_nanos_(absl::ToUnixNanos(iteration_time_)),
      read_buffer_(new char[kReadBufferSize]) {
  events_.reserve(kInitialEventCapacity);
}

void EventLoop::AbortNotInLoopThread(const char* method) const {
  std::ostringstream owner, caller;
  owner << loop_thread_.load(std::memory_order_acquire);
  caller << std::this_thread::get_id();
  std::fprintf(stderr,
               "netman: %s is loop-thread only: called on thread %s, the loop "
               "runs on thread %s\n",
               method, caller.str().c_str(), owner.str().c_str());
  std::abort();
}

EventLoop::~EventLoop() {
  // Drop queued tasks (and what they hold) while the loop is still whole.
  local_tasks_.clear();
  std::vector<Task> remote;
  {
    MutexLock lock(&mu_);
    remote.swap(remote_tasks_);
  }
}

void EventLoop::BindToCurrentThread() {
  loop_thread_.store(std::this_thread::get_id(), std::memory_order_release);
}

void EventLoop::Run() {
  BindToCurrentThread();
  while (!quit_.load(std::memory_order_acquire)) {
    RunOnce(absl::InfiniteDuration());
  }
  // Run what clean-up was posted before and during the last iteration
  // (e.g. connections finishing their close), until nothing is left.
  for (int round = 0; round < kMaxCleanupRounds; ++round) {
    bool more;
    {
      MutexLock lock(&mu_);
      more = !remote_tasks_.empty();
    }
    if (!more && local_tasks_.empty()) break;
    RunTasks(/*take_remote=*/true);
  }
}

void EventLoop::Quit() {
  quit_.store(true, std::memory_order_release);
  if (!IsInLoopThread()) poller_->Wakeup();
}

absl::Duration EventLoop::NextTimeout(absl::Duration max_wait) {
  if (!local_tasks_.empty() || wakeup_pending_.load(std::memory_order_acquire)) {
    return absl::ZeroDuration();
  }
  if (timer_queue_.empty()) return max_wait;
  absl::Duration until = timer_queue_.top().deadline - clock_->Now();
  if (until < absl::ZeroDuration()) until = absl::ZeroDuration();
  return until < max_wait ? until : max_wait;
}

void EventLoop::RunOnce(absl::Duration max_wait) {
  if (!IsInLoopThread()) BindToCurrentThread();
  absl::StatusOr<int> n = poller_->Wait(NextTimeout(max_wait), events_);
  iteration_time_ = clock_->Now();
  iteration_unix_nanos_ = absl::ToUnixNanos(iteration_time_);
  if (!n.ok()) {
    logger_.Error("event loop: %s", n.status().ToString());
  } else {
    for (const PollEvent& event : events_) {
      static_cast<IoHandler*>(event.tag)->OnIoEvent(event.events);
    }
  }
  RunDueTimers();
  RunTasks();
}

void EventLoop::Post(Task task) {
  if (IsInLoopThread()) {
    local_tasks_.push_back(std::move(task));
    return;
  }
  {
    MutexLock lock(&mu_);
    remote_tasks_.push_back(std::move(task));
  }
  // One wakeup is enough until the loop drains the queue.
  if (!wakeup_pending_.exchange(true, std::memory_order_acq_rel)) {
    poller_->Wakeup();
  }
}

void EventLoop::RunInLoop(Task task) {
  if (IsInLoopThread()) {
    std::move(task)();
  } else {
    Post(std::move(task));
  }
}

void EventLoop::RunTasks(bool take_remote) {
  // Local tasks queued while these run wait for the next iteration (which
  // then does not block), so a task that re-posts itself cannot starve I/O.
  // Both vectors keep their capacity, so a steady trickle of tasks does not
  // allocate.
  std::vector<Task>& batch = running_tasks_;
  batch.swap(local_tasks_);
  if (wakeup_pending_.exchange(false, std::memory_order_acq_rel) || take_remote) {
    MutexLock lock(&mu_);
    for (Task& t : remote_tasks_) batch.push_back(std::move(t));
    remote_tasks_.clear();
  }
  for (Task& task : batch) std::move(task)();
  batch.clear();
}

size_t EventLoop::PendingRemoteTasks() const {
  MutexLock lock(&mu_);
  return remote_tasks_.size();
}

TimerId EventLoop::AddTimer(absl::Duration delay, absl::Duration interval,
                            absl::AnyInvocable<void()> callback) {
  NETMAN_DCHECK_IN_LOOP_THREAD(this);
  TimerId id = next_timer_id_++;
  timers_.emplace(id, Timer{std::move(callback), interval});
  timer_queue_.push(TimerEntry{clock_->Now() + delay, next_sequence_++, id});
  return id;
}

TimerId EventLoop::RunAfter(absl::Duration delay,
                            absl::AnyInvocable<void()> callback) {
  return AddTimer(delay, absl::ZeroDuration(), std::move(callback));
}

TimerId EventLoop::RunEvery(absl::Duration interval,
                            absl::AnyInvocable<void()> callback) {
  if (interval <= absl::ZeroDuration()) interval = absl::Nanoseconds(1);
  return AddTimer(interval, interval, std::move(callback));
}

void EventLoop::Cancel(TimerId id) {
  NETMAN_DCHECK_IN_LOOP_THREAD(this);
  timers_.erase(id);
}

void EventLoop::RunDueTimers() {
  if (timer_queue_.empty()) return;
  const absl::Time now = iteration_time_;
  // Timers added by callbacks are due no earlier than `now`+delay; limit the
  // round to entries due now so a zero-interval timer cannot spin forever.
  size_t budget = timer_queue_.size();
  while (budget-- > 0 && !timer_queue_.empty() &&
         timer_queue_.top().deadline <= now) {
    TimerEntry entry = timer_queue_.top();
    timer_queue_.pop();
    auto it = timers_.find(entry.id);
    if (it == timers_.end()) continue;  // cancelled
    if (it->second.interval == absl::ZeroDuration()) {
      absl::AnyInvocable<void()> callback = std::move(it->second.callback);
      timers_.erase(it);
      callback();
    } else {
      // Run the callback out of the map: it may Cancel() its own timer.
      const absl::Duration interval = it->second.interval;
      absl::AnyInvocable<void()> callback = std::move(it->second.callback);
      callback();
      auto again = timers_.find(entry.id);
      if (again != timers_.end()) {
        again->second.callback = std::move(callback);
        absl::Time next = entry.deadline + interval;
        if (next <= now) next = now + interval;  // fell behind: do not burst
        timer_queue_.push(TimerEntry{next, next_sequence_++, entry.id});
      }
    }
  }
}

absl::Status EventLoop::AddFd(int fd, uint32_t interest, IoHandler* handler) {
  NETMAN_DCHECK_IN_LOOP_THREAD(this);
  return poller_->Add(fd, interest, handler);
}

absl::Status EventLoop::ModifyFd(int fd, uint32_t interest, IoHandler* handler) {
  NETMAN_DCHECK_IN_LOOP_THREAD(this);
  return poller_->Modify(fd, interest, handler);
}

absl::Status EventLoop::RemoveFd(int fd) {
  NETMAN_DCHECK_IN_LOOP_THREAD(this);
  return poller_->Remove(fd);
}

}  // namespace netman
