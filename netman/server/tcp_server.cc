// Copyright netman authors.
#include "netman/server/tcp_server.h"

#include <utility>

#include "netman/codec/default_packer.h"

namespace netman {

TcpServer::TcpServer(ServerOptions options)
    : ServerCore(options,
                 // Called on the loops only after Start(), when framed_ exists.
                 [this](Connection&) { return ProtocolPtr::Shared(framed_.get()); }),
      packer_(options.packer ? std::move(options.packer)
                             : std::make_shared<const DefaultPacker>()),
      framed_(std::make_unique<FramedProtocol>(
          packer_.get(), &router(), &logger(),
          FramedProtocol::Options{options.max_body, options.close_on_unknown_id})) {}

// Stops the loops before framed_ and packer_ go: connections use them.
TcpServer::~TcpServer() { Stop(); }

}  // namespace netman
