// Copyright netman authors.
//
// TlsPeerInfo: what a handler or middleware may want to know about a TLS
// connection: the verified client identity (when client certificates are
// verified), the negotiated version, cipher suite and ALPN protocol, and
// the SNI name the client asked for.
//
// Example (a middleware admitting only verified clients):
//   const netman::TlsPeerInfo* tls = netman::TlsInfo(request.connection());
//   if (tls == nullptr || !tls->client_verified) return ...;  // refuse
//   Log("client %s", tls->subject);
//
// TlsInfo() returns null for a connection without TLS (or one whose
// handshake has not finished). The info is built on first use and then
// kept with the connection's transport (idle connections that are never
// asked do not pay for it).
//
// Threading: TlsInfo() is loop-thread only (like Connection::transport());
// the pointer is valid while the connection lives.
#ifndef NETMAN_TLS_TLS_PEER_INFO_H_
#define NETMAN_TLS_TLS_PEER_INFO_H_

#include <string>
#include <vector>

namespace netman {

class Connection;

struct TlsPeerInfo {
  std::string version;      // "TLSv1.3", "TLSv1.2"
  std::string cipher;       // RFC name, "TLS_AES_128_GCM_SHA256"
  std::string alpn;         // negotiated protocol, empty if none
  std::string server_name;  // SNI host the client sent, empty if none
  bool resumed = false;     // the session was resumed (ticket)
  // A client certificate was presented and verified against the client CA.
  bool client_verified = false;
  std::string subject;      // its subject, one line ("CN=alice, O=netman")
  // Its subjectAltNames: "DNS:name", "IP:1.2.3.4", "email:x@y", "URI:...".
  std::vector<std::string> subject_alt_names;
};

const TlsPeerInfo* TlsInfo(const Connection& connection);

}  // namespace netman

#endif  // NETMAN_TLS_TLS_PEER_INFO_H_
