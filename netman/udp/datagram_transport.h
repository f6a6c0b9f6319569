// Copyright netman authors.
//
// DatagramTransport: the Transport of a UDP session (a Connection without a
// socket of its own). It never reads: the loop's UdpSocket receives and the
// server hands each datagram to the session (Connection::DeliverReceived).
// Write() takes everything the session's protocol queued while handling one
// datagram (or during one loop iteration) and queues it on the loop's
// UdpSocket as one datagram to the peer, or as few as hold it when it is
// larger, cut at message boundaries (SplitIntoDatagrams); the socket sends
// the whole batch's replies with one system call. Nothing is ever pending
// in the transport, so a session never holds an output buffer.
//
// Threading: loop thread only (as every Transport).
#ifndef NETMAN_UDP_DATAGRAM_TRANSPORT_H_
#define NETMAN_UDP_DATAGRAM_TRANSPORT_H_

#include "netman/codec/packer.h"
#include "netman/net/socket_address.h"
#include "netman/net/transport.h"
#include "netman/udp/session_table.h"
#include "netman/udp/udp_socket.h"

namespace netman {

class DatagramTransport final : public Transport {
 public:
  // `socket` and `packer` must outlive every Write() (the server stops its
  // loops before they go).
  DatagramTransport(UdpSocket* socket, const Packer* packer, const SocketAddress& peer,
                    int loop_index)
      : socket_(socket), packer_(packer), peer_(peer), key_(PeerKey::From(peer)),
        loop_index_(loop_index) {}

  absl::StatusOr<ReadResult> Read(int fd, std::span<char> scratch, Buffer& plaintext) override;
  absl::StatusOr<WriteResult> Write(int fd, Buffer& plaintext) override;
  size_t pending_bytes() const override { return 0; }
  bool ready() const override { return true; }

  const PeerKey& key() const { return key_; }
  int loop_index() const { return loop_index_; }

 private:
  UdpSocket* const socket_;
  const Packer* const packer_;
  const SocketAddress peer_;
  const PeerKey key_;
  const int loop_index_;
};

}  // namespace netman

#endif  // NETMAN_UDP_DATAGRAM_TRANSPORT_H_
