// Copyright netman authors.
//
// tls_flags: the TLS command-line flags of netman's server binaries
// (tcp_server, ws_server), defined once, turned into a TlsContext, and the
// signal actions those binaries share (SIGHUP reload, SIGUSR1 TLS counters).
//
// Linking this library defines these abseil flags:
//
//   --tls_cert         PEM certificate chain; set: serve TLS   default "" (plain)
//   --tls_key          PEM private key (required with --tls_cert)
//   --tls_min_version  1.2 | 1.3                               default 1.2
//   --tls_client_ca    PEM CAs; set: client certificates are required
//   --tls_ciphers      TLS 1.2 cipher string (BoringSSL)       default ""
//   --tls_alpn         comma-separated ALPN protocols          default ""
//
// (--handshake_timeout is a server flag: server_flags.h.)
//
// Example, inside ParseCommandLineOrExit's validation (so a bad value exits 2):
//   absl::StatusOr<std::unique_ptr<netman::TlsContext>> tls;
//   ... [&] { ...; tls = netman::TlsContextFromFlags(); return tls.status(); }
//   if (*tls != nullptr) options.transport_factory = (*tls)->TransportFactory();
//
// Every error is InvalidArgument and starts with the flag's name
// ("--tls_key: cannot read private key file 'x.pem'").
//
// Threading: call from main() after parsing the command line.
#ifndef NETMAN_TLS_TLS_FLAGS_H_
#define NETMAN_TLS_TLS_FLAGS_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "netman/base/log.h"
#include "netman/tls/tls_context.h"
#include "netman/tls/tls_server_config.h"

namespace netman {

struct TlsFlagValues {
  std::string cert;
  std::string key;
  std::string min_version = "1.2";
  std::string client_ca;
  std::string ciphers;
  std::string alpn;
};

TlsFlagValues ReadTlsFlagValues();

// The configuration the flags ask for; nullopt when TLS is off (no
// --tls_cert and no other --tls_* flag).
absl::StatusOr<std::optional<TlsServerConfig>> TlsConfigFromFlags(const TlsFlagValues& values);

// Builds the TlsContext; null when TLS is off.
absl::StatusOr<std::unique_ptr<TlsContext>> TlsContextFromFlagValues(
    const TlsFlagValues& values);
absl::StatusOr<std::unique_ptr<TlsContext>> TlsContextFromFlags();

// SIGHUP in the binaries: re-reads `tls`'s files (null: TLS is off, nothing
// to reload) and logs the outcome to `logger`; a failed reload keeps the
// old certificate.
void ReloadTlsAndLog(TlsContext* tls, const Logger& logger);

// SIGUSR1 in the binaries: prints `server_stats_json` (the server's
// counters) as one line on stdout and, when `tls` is not null, the TLS
// counters as a second line {"tls":{...}}; flushes stdout.
void PrintStatsLines(std::string_view server_stats_json, const TlsContext* tls);

}  // namespace netman

#endif  // NETMAN_TLS_TLS_FLAGS_H_
