// Copyright netman authors.
//
// TcpServer: a netman message server over TCP (or TLS, through
// ServerOptions::transport_factory). It is the server core with the framed
// protocol: every connection's bytes are decoded by ServerOptions::packer
// (the Go-compatible DefaultPacker unless you give your own), checked
// against max_body and dispatched through the router; Connection::Send()
// frames replies with the same packer. Everything else (loops, acceptor,
// hooks, heartbeat, limits, shutdown, stats) is ServerCore's.
//
// Example:
//   netman::TcpServer server({.loops = 4, .heartbeat_idle_time = absl::Seconds(30)});
//   (void)server.Use([](netman::Request& r, const netman::Next& next) {
//     if (Authorised(r.connection())) next(); else r.connection().Close();
//   });
//   (void)server.AddRouter(0, [](netman::Request& r) {    // echo
//     (void)r.connection().Send(0, r.body());
//   });
//   absl::Status s = server.Start("0.0.0.0:8999");  // blocks until Stop()
//
// Threading: as ServerCore.
#ifndef NETMAN_SERVER_TCP_SERVER_H_
#define NETMAN_SERVER_TCP_SERVER_H_

#include <memory>

#include "netman/codec/packer.h"
#include "netman/server/framed_protocol.h"
#include "netman/server/server_core.h"
#include "netman/server/server_options.h"
#include "netman/server/server_stats.h"

namespace netman {

class TcpServer final : public ServerCore {
 public:
  explicit TcpServer(ServerOptions options = {});
  ~TcpServer() override;

  const Packer& packer() const { return *packer_; }

 private:
  // Declared before framed_: the protocol points at the packer.
  std::shared_ptr<const Packer> packer_;
  std::unique_ptr<FramedProtocol> framed_;
};

}  // namespace netman

#endif  // NETMAN_SERVER_TCP_SERVER_H_
