// Copyright netman authors.
#include "tests/robustness/server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "netman/base/status.h"
#include "tests/robustness/testing.h"

namespace netman::robustness {
namespace {

std::string ServerBinary() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir != nullptr && workspace != nullptr) {
    return absl::StrCat(srcdir, "/", workspace, "/netman/server/tcp_server");
  }
  return "netman/server/tcp_server";  // run from the runfiles directory
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(Options options) {
  const std::string binary = ServerBinary();
  if (::access(binary.c_str(), X_OK) != 0) {
    return ErrnoStatus(errno, absl::StrCat("tcp_server binary ", binary));
  }
  std::vector<std::string> args = {
      binary,
      "--host=127.0.0.1",
      "--port=0",
      absl::StrCat("--loops=", options.loops),
      absl::StrCat("--max_body=", options.max_body),
      absl::StrCat("--log_level=", options.log_level),
  };
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // This process's environment, with options.environment replacing or
  // adding variables.
  std::vector<std::string> env_strings = options.environment;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view var(*e);
    const std::string_view name = var.substr(0, var.find('='));
    bool replaced = false;
    for (const std::string& extra : options.environment) {
      replaced = replaced || std::string_view(extra).substr(0, extra.find('=')) == name;
    }
    if (!replaced) env_strings.emplace_back(var);
  }
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  int out[2], err[2], wake[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 ||
      ::pipe2(wake, O_CLOEXEC) != 0) {
    return ErrnoStatus(errno, "pipe2");
  }
  std::unique_ptr<ServerProcess> p(new ServerProcess());
  p->stdout_.reset(out[0]);
  p->stderr_.reset(err[0]);
  p->wake_read_.reset(wake[0]);
  p->wake_write_.reset(wake[1]);
  UniqueFd out_write(out[1]), err_write(err[1]);
  const rlim_t limit = options.max_open_files;

  const pid_t pid = ::fork();
  if (pid < 0) return ErrnoStatus(errno, "fork");
  if (pid == 0) {
    // Child: only async-signal-safe calls from here to exec.
    ::dup2(out_write.get(), STDOUT_FILENO);
    ::dup2(err_write.get(), STDERR_FILENO);
    if (limit != 0) {
      struct rlimit rl = {limit, limit};
      if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) ::_exit(126);
    }
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  p->pid_ = pid;
  out_write.reset();
  err_write.reset();
  p->reader_ = std::thread([raw = p.get()] { raw->ReadOutput(); });

  // "tcp_server listening on 127.0.0.1:PORT"
  constexpr std::string_view kListening = "tcp_server listening on 127.0.0.1:";
  std::unique_lock<std::mutex> lock(p->mu_);
  const bool listening = p->cv_.wait_for(lock, std::chrono::seconds(30), [&] {
    return p->reaped_ || absl::StrContains(p->out_, "\n");
  });
  const std::string first_line = p->out_.substr(0, p->out_.find('\n'));
  const std::string log = p->err_;
  lock.unlock();
  uint32_t port = 0;
  if (!listening || first_line.rfind(kListening, 0) != 0 ||
      !absl::SimpleAtoi(first_line.substr(kListening.size()), &port) || port == 0 ||
      port > 65535) {
    return absl::InternalError(absl::StrCat("tcp_server did not start: stdout \"",
                                            first_line, "\", stderr \"", log, "\""));
  }
  p->port_ = static_cast<uint16_t>(port);
  return p;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && !Reap()) {
    ::kill(pid_, SIGKILL);
    WaitUntil([this] { return Reap(); }, absl::Seconds(30));
  }
  wake_write_.reset();  // the reader sees EOF on wake_read_
  if (reader_.joinable()) reader_.join();
}

void ServerProcess::ReadOutput() {
  char buf[4096];
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    struct pollfd fds[3] = {{out_open ? stdout_.get() : -1, POLLIN, 0},
                            {err_open ? stderr_.get() : -1, POLLIN, 0},
                            {wake_read_.get(), POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[2].revents != 0) break;  // the destructor wants us gone
    for (int i = 0; i < 2; ++i) {
      if (fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
      std::lock_guard<std::mutex> lock(mu_);
      if (n > 0) {
        (i == 0 ? out_ : err_).append(buf, static_cast<size_t>(n));
      } else {
        (i == 0 ? out_open : err_open) = false;
      }
    }
    cv_.notify_all();
  }
  // EOF on both: the process is exiting or gone.
  Reap();
  cv_.notify_all();
}

bool ServerProcess::Reap() {
  std::lock_guard<std::mutex> lock(mu_);
  if (reaped_) return true;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r != pid_) return false;
  reaped_ = true;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return true;
}

bool ServerProcess::Running() { return !Reap(); }

std::string ServerProcess::Log() {
  std::lock_guard<std::mutex> lock(mu_);
  return err_;
}

bool ServerProcess::WaitForLog(std::string_view needle, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] {
    return absl::StrContains(err_, absl::string_view(needle.data(), needle.size()));
  });
}

absl::StatusOr<int> ServerProcess::Stop(absl::Duration timeout) {
  if (!Reap()) ::kill(pid_, SIGTERM);
  if (!WaitUntil([this] { return Reap(); }, timeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("tcp_server (pid ", pid_, ") did not exit within ",
                     absl::FormatDuration(timeout), " of SIGTERM"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  return exit_code_;
}

}  // namespace netman::robustness
