// Copyright netman authors.
//
// client: the Go netman README's client example in C++. Connects to a netman
// server, sends --count messages with id 0 ("hello netman <i>") and prints
// each reply. Exits non-zero with the error if anything fails.
//
//   bazel run //examples:client -- --host=127.0.0.1 --port=8999 --count=5
#include <cstdint>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "netman/base/status.h"
#include "netman/client/client.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "Server address or name.");
ABSL_FLAG(int, port, 8999, "Server TCP port.");
ABSL_FLAG(int, count, 5, "Messages to send.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5), "How long to wait for each reply.");

namespace {

absl::Status Run() {
  const int port = absl::GetFlag(FLAGS_port);
  if (port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad --port ", port));
  }
  NETMAN_ASSIGN_OR_RETURN(
      std::unique_ptr<netman::Client> client,
      netman::Client::Connect(absl::GetFlag(FLAGS_host), static_cast<uint16_t>(port)));
  for (int i = 0; i < absl::GetFlag(FLAGS_count); ++i) {
    NETMAN_RETURN_IF_ERROR(client->Send(0, absl::StrCat("hello netman ", i)));
    NETMAN_ASSIGN_OR_RETURN(netman::ReceivedMessage reply,
                            client->Receive(absl::GetFlag(FLAGS_timeout)));
    absl::PrintF("reply id=%d body=%s\n", reply.id, reply.body);
  }
  client->Close();
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (absl::Status s = Run(); !s.ok()) {
    absl::FPrintF(stderr, "client: %s\n", s.ToString());
    return 1;
  }
  return 0;
}
