// Copyright netman authors.
//
// UdpClient: a blocking UDP client for netman's UdpServer, for tests,
// examples and tools. Each Send() is one datagram holding one message in
// the server's framing (the DefaultPacker unless told otherwise);
// SendMessages() puts several messages in one datagram. Receive() returns
// one message at a time: a datagram holding several is split, and the rest
// are returned by the next calls.
//
// Example:
//   NETMAN_ASSIGN_OR_RETURN(std::unique_ptr<netman::UdpClient> client,
//                           netman::UdpClient::Connect("127.0.0.1", 8999));
//   NETMAN_RETURN_IF_ERROR(client->Send(/*id=*/0, "ping"));
//   NETMAN_ASSIGN_OR_RETURN(netman::ReceivedMessage reply,
//                           client->Receive(absl::Seconds(5)));
//
// The socket is connect()ed to the server: only its datagrams are received,
// and an ICMP "port unreachable" surfaces as ConnectionRefused-like errno
// statuses (ECONNREFUSED) from Send() or Receive(). UDP is lossy: a
// Receive() that times out (DeadlineExceeded) may mean a lost datagram;
// callers retry as they see fit. A received datagram that is not a whole
// number of messages is an error (DataLoss) for that datagram only.
//
// Threading: not synchronised; use a UdpClient from one thread at a time.
#ifndef NETMAN_CLIENT_UDP_CLIENT_H_
#define NETMAN_CLIENT_UDP_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "netman/base/unique_fd.h"
#include "netman/client/client.h"
#include "netman/codec/packer.h"

namespace netman {

class UdpClient {
 public:
  struct Options {
    // Frames messages both ways. Null means a DefaultPacker.
    std::shared_ptr<const Packer> packer;
    // Largest datagram sent or received (the IPv4 UDP payload limit).
    size_t max_datagram_bytes = 65507;
  };

  // A socket connected to `host` (numeric IPv4/IPv6 or a name) port `port`.
  static absl::StatusOr<std::unique_ptr<UdpClient>> Connect(std::string_view host,
                                                            uint16_t port,
                                                            Options options);
  static absl::StatusOr<std::unique_ptr<UdpClient>> Connect(std::string_view host,
                                                            uint16_t port);

  UdpClient(const UdpClient&) = delete;
  UdpClient& operator=(const UdpClient&) = delete;

  // One message in one datagram. InvalidArgument if the frame exceeds
  // max_datagram_bytes.
  absl::Status Send(uint32_t id, std::string_view body);
  // Several messages, in order, in one datagram.
  absl::Status SendMessages(const std::vector<std::pair<uint32_t, std::string>>& messages);
  // `datagram` as it is (garbage, truncated frames, empty).
  absl::Status SendRaw(std::string_view datagram);

  // The next message (from a datagram already received, or waits up to
  // `timeout` for one). DeadlineExceeded on timeout; DataLoss for a
  // datagram that is not whole messages (it is discarded).
  absl::StatusOr<ReceivedMessage> Receive(absl::Duration timeout);
  // The next datagram as it is, bypassing the framing (messages already
  // split from an earlier datagram are not returned here).
  absl::StatusOr<std::string> ReceiveDatagram(absl::Duration timeout);

  int fd() const { return fd_.get(); }
  uint16_t local_port() const { return local_port_; }

 private:
  UdpClient(UniqueFd fd, std::shared_ptr<const Packer> packer, size_t max_datagram,
            uint16_t local_port);

  UniqueFd fd_;
  std::shared_ptr<const Packer> packer_;
  size_t max_datagram_;
  uint16_t local_port_;
  std::deque<ReceivedMessage> pending_;  // split from the last datagram
};

}  // namespace netman

#endif  // NETMAN_CLIENT_UDP_CLIENT_H_
