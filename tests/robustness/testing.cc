// Copyright netman authors.
#include "tests/robustness/testing.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "netman/base/status.h"
#include "netman/buffer/buffer.h"
#include "netman/codec/default_packer.h"

namespace netman::robustness {

std::string Frame(uint32_t id, std::string_view body) {
  Buffer b;
  DefaultPacker().Encode(id, body, b);
  return std::string(b.readable());
}

std::string Header(uint32_t length, uint32_t id) {
  char h[DefaultPacker::kHeaderSize];
  DefaultPacker::EncodeHeader(id, length, h);
  return std::string(h, sizeof(h));
}

bool WaitUntil(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= deadline) return condition();
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

size_t BufferCapacity(const ConnectionPtr& connection) {
  std::optional<size_t> c =
      OnLoop<size_t>(connection, [connection] { return connection->buffer_capacity(); });
  return c.value_or(SIZE_MAX);
}

absl::StatusOr<ThreadCpuClock> ThreadCpuClock::OfLoop(const ConnectionPtr& connection) {
  std::optional<int> clock_or_error = OnLoop<int>(connection, [] {
    clockid_t id;
    int e = ::pthread_getcpuclockid(::pthread_self(), &id);
    return e == 0 ? static_cast<int>(id) : -1;
  });
  if (!clock_or_error.has_value() || *clock_or_error == -1) {
    return absl::UnavailableError("cannot get the loop thread's CPU clock");
  }
  return ThreadCpuClock(static_cast<clockid_t>(*clock_or_error));
}

absl::Duration ThreadCpuClock::Now() const {
  struct timespec ts;
  if (::clock_gettime(id_, &ts) != 0) return absl::ZeroDuration();
  return absl::DurationFromTimespec(ts);
}

namespace {

std::string ProcPath(pid_t pid, const char* what) {
  return pid == 0 ? absl::StrCat("/proc/self/", what) : absl::StrCat("/proc/", pid, "/", what);
}

}  // namespace

int64_t ResidentBytes(pid_t pid) {
  std::ifstream in(ProcPath(pid, "status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      int64_t kb = -1;
      fields >> kb;
      return kb * 1024;
    }
  }
  return -1;
}

absl::Duration ProcessCpu(pid_t pid) {
  std::ifstream in(ProcPath(pid, "stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the ")" that ends the command name: state is field 3,
  // utime and stime are fields 14 and 15.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return absl::ZeroDuration();
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && (fields >> field); ++i) {
    if (i == 14) utime = std::atoll(field.c_str());
    if (i == 15) stime = std::atoll(field.c_str());
  }
  const long ticks = ::sysconf(_SC_CLK_TCK);
  return absl::Seconds(static_cast<double>(utime + stime) / static_cast<double>(ticks));
}

int OpenDescriptors(pid_t pid) {
  DIR* d = ::opendir(ProcPath(pid, "fd").c_str());
  if (d == nullptr) return -1;
  int n = 0;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return pid == 0 ? n - 1 : n;  // not the DIR's own descriptor
}

absl::StatusOr<UniqueFd> ConnectTo(uint16_t port, int receive_buffer) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus(errno, "socket");
  if (receive_buffer > 0) {
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
  }
  struct sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0) {
    return ErrnoStatus(errno, "connect");
  }
  return fd;
}

void SetLingerZero(int fd) {
  struct linger l = {1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

uint16_t LocalPort(int fd) {
  struct sockaddr_in addr = {};
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<struct sockaddr*>(&addr), &len) != 0) return 0;
  return ntohs(addr.sin_port);
}

absl::Status WriteAll(int fd, std::string_view bytes, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return ErrnoStatus(errno, "send");
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return absl::DeadlineExceededError("send timed out");
    struct pollfd p = {fd, POLLOUT, 0};
    ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
  }
  return absl::OkStatus();
}

std::string ReadUntilClosed(int fd, absl::Duration timeout, bool* closed) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string out;
  char buf[65536];
  *closed = false;
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      *closed = true;
      return out;
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return out;
    struct pollfd p = {fd, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
  }
}

absl::StatusOr<std::string> ReadExactly(int fd, size_t n, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string out;
  out.reserve(n);
  char buf[65536];
  while (out.size() < n) {
    ssize_t got = ::recv(fd, buf, std::min(sizeof(buf), n - out.size()), MSG_DONTWAIT);
    if (got > 0) {
      out.append(buf, static_cast<size_t>(got));
      continue;
    }
    if (got == 0) {
      return absl::UnavailableError(absl::StrCat("closed after ", out.size(), " of ", n,
                                                 " bytes"));
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return ErrnoStatus(errno, "recv");
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat("got ", out.size(), " of ", n,
                                                      " bytes"));
    }
    struct pollfd p = {fd, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Canary>> Canary::Start(uint16_t port,
                                                      absl::Duration interval) {
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect("127.0.0.1", port);
  if (!client.ok()) return client.status();
  std::unique_ptr<Canary> canary(new Canary());
  canary->client_ = std::move(*client);
  // One round trip before returning: the canary is accepted and served.
  if (absl::Status s = canary->client_->Send(0, "hello"); !s.ok()) return s;
  absl::StatusOr<ReceivedMessage> m = canary->client_->Receive(absl::Seconds(20));
  if (!m.ok()) return m.status();
  if (m->body != "hello") return absl::InternalError("canary: wrong first echo");
  canary->thread_ = std::thread([c = canary.get(), interval] { c->Run(interval); });
  return canary;
}

Canary::~Canary() {
  if (thread_.joinable()) Stop();
}

void Canary::Run(absl::Duration interval) {
  const absl::Duration timeout = Relaxed(absl::Seconds(5));
  for (uint64_t i = 0;; ++i) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, absl::ToChronoNanoseconds(interval), [this] { return stop_; })) {
        return;
      }
    }
    // Sizes from 0 to ~3000 bytes; contents depend on i.
    std::string body = absl::StrCat("canary-", i, "-");
    body.append(static_cast<size_t>((i * 7919) % 3000), static_cast<char>('a' + i % 26));
    const absl::Time start = absl::Now();
    absl::Status s = client_->Send(0, body);
    if (s.ok()) {
      absl::StatusOr<ReceivedMessage> m = client_->Receive(timeout);
      if (!m.ok()) {
        s = m.status();
      } else if (m->id != 0 || m->body != body) {
        s = absl::DataLossError(absl::StrCat("canary: wrong echo for round trip ", i));
      }
    }
    if (!s.ok()) {
      stats_.error = absl::Status(s.code(), absl::StrCat("canary round trip ", i, ": ",
                                                         s.message()));
      return;
    }
    stats_.max_latency = std::max(stats_.max_latency, absl::Now() - start);
    stats_.round_trips = round_trips_.fetch_add(1) + 1;
  }
}

bool Canary::ServesMore(int64_t n, absl::Duration timeout) {
  const int64_t target = round_trips() + n;
  return WaitUntil([&] { return round_trips() >= target; }, timeout);
}

Canary::Stats Canary::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  return stats_;
}

::testing::AssertionResult CanaryWasServed(const Canary::Stats& stats,
                                           int64_t min_round_trips,
                                           absl::Duration max_latency) {
  if (!stats.error.ok()) {
    return ::testing::AssertionFailure() << "the canary failed: " << stats.error;
  }
  if (stats.round_trips < min_round_trips) {
    return ::testing::AssertionFailure()
           << "the canary made only " << stats.round_trips << " round trips (expected >= "
           << min_round_trips << ")";
  }
  if (stats.max_latency > max_latency) {
    return ::testing::AssertionFailure()
           << "a canary round trip took " << absl::FormatDuration(stats.max_latency)
           << " (limit " << absl::FormatDuration(max_latency) << ")";
  }
  return ::testing::AssertionSuccess()
         << stats.round_trips << " round trips, slowest "
         << absl::FormatDuration(stats.max_latency);
}

void ServerTest::TearDown() {
  if (server_ != nullptr) server_->Stop();
}

void ServerTest::StartServer(ServerOptions options,
                             const std::function<void(TcpServer&)>& configure) {
  sink_ = std::make_shared<CapturingLogSink>();
  options.logger = Logger(sink_, LogLevel::kDebug);
  if (options.loops == 0) options.loops = 1;
  server_ = std::make_unique<TcpServer>(std::move(options));
  ASSERT_TRUE(server_->AddRouter(0, [](Request& r) {
    (void)r.connection().Send(0, r.body());
  }).ok());
  if (configure) configure(*server_);
  absl::Status s = server_->StartInBackground("127.0.0.1:0");
  ASSERT_TRUE(s.ok()) << s;
}

ConnectionPtr ServerTest::ServerSideOf(int client_fd) {
  const uint16_t client_port = LocalPort(client_fd);
  ConnectionPtr found;
  WaitUntil(
      [&] {
        server_->connections().ForEach([&](const ConnectionPtr& c) {
          if (c->peer_address().port() == client_port) found = c;
        });
        return found != nullptr;
      },
      absl::Seconds(10));
  return found;
}

size_t ServerTest::TotalBufferCapacity() {
  size_t total = 0;
  for (const ConnectionPtr& c : server_->connections().Snapshot()) {
    total += BufferCapacity(c);
  }
  return total;
}

bool ServerTest::WaitForConnectionCount(size_t n, absl::Duration timeout) {
  return WaitUntil([&] { return server_->connections().Count() == n; }, timeout);
}

}  // namespace netman::robustness
