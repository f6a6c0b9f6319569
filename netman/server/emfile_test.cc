// Copyright netman authors.
//
// The server survives running out of file descriptors (EMFILE) and accepts
// again once descriptors are free. Its own binary: it lowers this process's
// RLIMIT_NOFILE, which server and clients share, so the server's accept4()
// is what hits the limit.
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>

#include <memory>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "gtest/gtest.h"
#include "netman/base/testing/capturing_log_sink.h"
#include "netman/base/unique_fd.h"
#include "netman/client/client.h"
#include "netman/server/tcp_server.h"

namespace netman {
namespace {

int OpenDescriptors() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  while (::readdir(d) != nullptr) ++n;
  ::closedir(d);
  return n - 3;  // ".", "..", and the DIR's own fd
}

double CpuSeconds() {
  struct rusage ru;
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

TEST(EmfileTest, ServerSurvivesDescriptorExhaustionAndAcceptsAgain) {
  auto sink = std::make_shared<CapturingLogSink>();
  ServerOptions options;
  options.loops = 1;
  options.logger = Logger(sink, LogLevel::kInfo);
  // Only a closing connection resumes accepting in this test.
  options.accept_retry_delay = absl::Hours(1);
  TcpServer server(options);
  ASSERT_TRUE(server.AddRouter(0, [](Request& r) {
    (void)r.connection().Send(0, r.body());
  }).ok());
  ASSERT_TRUE(server.StartInBackground("127.0.0.1:0").ok());

  // Exercise client and server once at the normal limit: sanitizer runtimes
  // need descriptors of their own the first time they check some code
  // (UBSan's vptr check opens a pipe), and there are none at the limit.
  {
    auto warm = Client::Connect("127.0.0.1", server.port());
    ASSERT_TRUE(warm.ok());
    ASSERT_TRUE((*warm)->Send(0, "warm").ok());
    ASSERT_TRUE((*warm)->Receive(absl::Seconds(20)).ok());
  }

  struct rlimit original;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &original), 0);
  const int open_now = OpenDescriptors();
  ASSERT_GT(open_now, 0);
  struct rlimit lowered = original;
  lowered.rlim_cur = static_cast<rlim_t>(open_now + 24);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lowered), 0);
  absl::Cleanup restore = [&] { ::setrlimit(RLIMIT_NOFILE, &original); };

  // A reserve descriptor: released if the client side runs out first, so
  // that the server side is the one that hits the limit.
  UniqueFd spare(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(spare.valid());

  std::vector<std::unique_ptr<Client>> served;
  std::unique_ptr<Client> pending;
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (pending == nullptr && absl::Now() < give_up) {
    auto c = Client::Connect("127.0.0.1", server.port());
    if (!c.ok()) {
      ASSERT_TRUE(spare.valid()) << c.status();  // only one retry needed
      spare.reset();
      continue;
    }
    ASSERT_TRUE((*c)->Send(0, "x").ok());
    // Either the server accepts and echoes, or it reports the shortage.
    bool answered = false;
    while (absl::Now() < give_up) {
      if ((*c)->Receive(absl::Milliseconds(10)).ok()) {
        answered = true;
        break;
      }
      if (sink->Contains("pausing accepts")) break;
    }
    if (answered) {
      served.push_back(std::move(*c));
    } else {
      pending = std::move(*c);
    }
  }
  ASSERT_NE(pending, nullptr) << "the server never ran out of descriptors";
  ASSERT_FALSE(served.empty());
  EXPECT_TRUE(sink->WaitFor("Too many open files", absl::Seconds(20)));

  // Paused, not spinning: no reply, and (almost) no CPU while waiting.
  const double cpu_before = CpuSeconds();
  EXPECT_EQ(pending->Receive(absl::Milliseconds(300)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(CpuSeconds() - cpu_before, 0.15);

  // Free descriptors: the server resumes, accepts the waiting connection and
  // answers the message it sent while waiting in the backlog.
  served.front()->Close();
  auto reply = pending->Receive(absl::Seconds(20));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->body, "x");
  EXPECT_TRUE(sink->WaitFor("resuming", absl::Seconds(20)));

  // Every connection accepted before the shortage still works.
  for (size_t i = 1; i < served.size(); ++i) {
    ASSERT_TRUE(served[i]->Send(0, "still here").ok());
    auto m = served[i]->Receive(absl::Seconds(20));
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->body, "still here");
  }
  std::move(restore).Invoke();  // before tearing down (see the warm-up)
  served.clear();
  pending.reset();
  auto fresh = Client::Connect("127.0.0.1", server.port());
  ASSERT_TRUE(fresh.ok());
  ASSERT_TRUE((*fresh)->Send(0, "after").ok());
  auto m = (*fresh)->Receive(absl::Seconds(20));
  ASSERT_TRUE(m.ok()) << m.status();
  server.Stop();
}

}  // namespace
}  // namespace netman
