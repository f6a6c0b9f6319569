// Copyright netman authors.
//
// An accept storm beyond the server's open-file limit: the tcp_server binary
// runs as a child process with RLIMIT_NOFILE lowered to 128 and 600 clients
// connect at once (the kernel completes their handshakes into the listen
// backlog). The server must log EMFILE and pause accepting instead of
// spinning on it, keep serving what it already accepted (a canary), and
// resume as descriptors are freed until every client has been served: no
// crash, no lost connection, no lost message, and a clean exit.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "netman/client/client.h"
#include "tests/robustness/server_process.h"
#include "tests/robustness/testing.h"

namespace netman::robustness {
namespace {

TEST(AcceptStormTest, BeyondTheOpenFileLimitPausesAcceptingAndRecovers) {
  if (kAddressSanitizer) {
    // --config=asan includes UBSan, whose vptr check validates memory with a
    // pipe(2) on a type-cache miss; in a process out of descriptors that
    // fails, and it reports a false "invalid vptr" and aborts (seen on Acceptor::Resume's weak_ptr copy,
    // whose first use comes at EMFILE). Suppressions cannot help: matching
    // them needs descriptors too. The default and TSan builds run this test.
    GTEST_SKIP() << "UBSan's vptr check misfires at EMFILE (docs/ROBUSTNESS.md)";
  }
  auto server = ServerProcess::Start({.loops = 2, .log_level = "info", .max_open_files = 128});
  ASSERT_TRUE(server.ok()) << server.status();
  ServerProcess& s = **server;
  const uint16_t port = s.port();
  auto canary = Canary::Start(port);
  ASSERT_TRUE(canary.ok()) << canary.status();
  const int server_descriptors = OpenDescriptors(s.pid());
  ASSERT_GT(server_descriptors, 0);

  constexpr int kClients = 600;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kClients; ++i) {
    auto c = Client::Connect("127.0.0.1", port);
    ASSERT_TRUE(c.ok()) << "client " << i << ": " << c.status();
    ASSERT_TRUE((*c)->Send(0, absl::StrCat("client-", i)).ok());
    clients.push_back(std::move(*c));
  }
  ASSERT_TRUE(s.WaitForLog("pausing accepts", absl::Seconds(20))) << s.Log();
  EXPECT_TRUE(s.WaitForLog("Too many open files", absl::Seconds(1)));

  // Paused, not spinning: over a quiet half second the server burns
  // (almost) no CPU, and the connections it has keep working.
  const absl::Duration cpu_before = ProcessCpu(s.pid());
  EXPECT_TRUE((*canary)->ServesMore(20));
  absl::SleepFor(absl::Milliseconds(500));  // the window CPU is measured over
  EXPECT_LT(ProcessCpu(s.pid()) - cpu_before, Relaxed(absl::Milliseconds(150), 3));
  EXPECT_LE(OpenDescriptors(s.pid()), 128);
  EXPECT_TRUE(s.Running());

  // Serve everyone: each answered client hangs up, freeing a descriptor, and
  // the server accepts the next from its backlog.
  std::vector<bool> served(kClients, false);
  int remaining = kClients;
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (remaining > 0 && absl::Now() < deadline) {
    bool progress = false;
    for (int i = 0; i < kClients; ++i) {
      if (served[i]) continue;
      auto m = clients[i]->Receive(absl::ZeroDuration());
      if (absl::IsDeadlineExceeded(m.status())) continue;
      ASSERT_TRUE(m.ok()) << "client " << i << ": " << m.status() << "; server log:\n"
                          << s.Log();
      ASSERT_EQ(m->body, absl::StrCat("client-", i));
      served[i] = true;
      clients[i]->Close();
      --remaining;
      progress = true;
    }
    if (!progress) absl::SleepFor(absl::Milliseconds(2));  // poll pace
  }
  ASSERT_EQ(remaining, 0) << "clients never served; server log:\n" << s.Log();
  EXPECT_TRUE(s.WaitForLog("resuming", absl::Seconds(1)));
  EXPECT_LT(ResidentBytes(s.pid()), int64_t{256} << 20);

  // Back to normal: new connections are served at once.
  auto fresh = Client::Connect("127.0.0.1", port);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  ASSERT_TRUE((*fresh)->Send(0, "after the storm").ok());
  auto m = (*fresh)->Receive(absl::Seconds(20));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->body, "after the storm");
  fresh->reset();
  // Every storm connection's descriptor was released (the canary's stays).
  EXPECT_TRUE(WaitUntil([&] { return OpenDescriptors(s.pid()) <= server_descriptors; },
                        absl::Seconds(20)))
      << OpenDescriptors(s.pid()) << " descriptors, " << server_descriptors << " before";
  EXPECT_TRUE(CanaryWasServed((*canary)->Stop(), 40, Relaxed(absl::Milliseconds(500))));
  canary->reset();
  auto exit_code = s.Stop(absl::Seconds(30));
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0) << "server log:\n" << s.Log();
}

}  // namespace
}  // namespace netman::robustness
