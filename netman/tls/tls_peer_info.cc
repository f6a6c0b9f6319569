// Copyright netman authors.
#include "netman/tls/tls_peer_info.h"

#include "netman/net/connection.h"
#include "netman/tls/tls_transport.h"

namespace netman {

const TlsPeerInfo* TlsInfo(const Connection& connection) {
  const auto* tls = dynamic_cast<const TlsTransport*>(connection.transport());
  return tls != nullptr ? tls->peer_info() : nullptr;
}

}  // namespace netman
