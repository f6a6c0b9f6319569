// Copyright netman authors.
//
// client: the Go netman README's client example in C++. Connects to a netman
// server, sends --count messages with id 0 ("hello netman <i>") and prints
// each reply. A bad flag value exits 2 ("client: <message>"); a failure
// talking to the server exits 1 with the error.
//
//   bazel run //examples:client -- --host=127.0.0.1 --port=8999 --count=5
#include <cstdint>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "netman/base/status.h"
#include "netman/client/client.h"
#include "netman/server/command_line.h"

ABSL_FLAG(std::string, host, "127.0.0.1",
          "Server address (IPv4, IPv6) or name (resolved).");
ABSL_FLAG(int, port, 8999, "Server TCP port, 1..65535.");
ABSL_FLAG(int, count, 5,
          "Messages to send, 0 or more (0 = connect, then close).");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5),
          "How long to wait for each reply; more than 0 (inf = no limit).");

namespace {

constexpr char kUsage[] =
    "the netman README's example client: sends --count messages with id 0\n"
    "and prints each reply.\n\n"
    "Usage: client [--flag=value]...";

absl::Status ValidateFlags() {
  if (absl::GetFlag(FLAGS_host).empty()) {
    return absl::InvalidArgumentError(
        "--host is empty: give the server's address or name");
  }
  if (const int port = absl::GetFlag(FLAGS_port); port < 1 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--port must be 1..65535, not ", port));
  }
  if (const int count = absl::GetFlag(FLAGS_count); count < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--count must be 0 (connect, then close) or more, not ", count));
  }
  if (const absl::Duration timeout = absl::GetFlag(FLAGS_timeout);
      timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--timeout must be more than 0, not ", absl::FormatDuration(timeout)));
  }
  return absl::OkStatus();
}

absl::Status Run() {
  NETMAN_ASSIGN_OR_RETURN(
      std::unique_ptr<netman::Client> client,
      netman::Client::Connect(absl::GetFlag(FLAGS_host),
                              static_cast<uint16_t>(absl::GetFlag(FLAGS_port))));
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
  netman::ParseCommandLineOrExit(argc, argv, kUsage, ValidateFlags);
  if (absl::Status s = Run(); !s.ok()) {
    absl::FPrintF(stderr, "client: %s\n", s.ToString());
    return 1;
  }
  return 0;
}
