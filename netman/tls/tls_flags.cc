// Copyright netman authors.
#include "netman/tls/tls_flags.h"

#include <cstdio>
#include <fstream>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain (leaf first); set: serve TLS (with --tls_key)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_min_version, netman::TlsFlagValues().min_version,
          "lowest TLS version accepted: 1.2 or 1.3");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA certificates; set: clients must present a certificate they issued");
ABSL_FLAG(std::string, tls_ciphers, "",
          "TLS 1.2 cipher string (BoringSSL syntax); empty: BoringSSL's defaults");
ABSL_FLAG(std::string, tls_alpn, "",
          "comma-separated ALPN protocols, in order of preference; empty: no ALPN");

namespace netman {
namespace {

absl::Status Readable(const char* flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": cannot read '", path, "'"));
  }
  return absl::OkStatus();
}

}  // namespace

TlsFlagValues ReadTlsFlagValues() {
  TlsFlagValues v;
  v.cert = absl::GetFlag(FLAGS_tls_cert);
  v.key = absl::GetFlag(FLAGS_tls_key);
  v.min_version = absl::GetFlag(FLAGS_tls_min_version);
  v.client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  v.ciphers = absl::GetFlag(FLAGS_tls_ciphers);
  v.alpn = absl::GetFlag(FLAGS_tls_alpn);
  return v;
}

absl::StatusOr<std::optional<TlsServerConfig>> TlsConfigFromFlags(const TlsFlagValues& v) {
  TlsServerConfig config;
  if (v.min_version == "1.2") {
    config.min_version = TlsVersion::k1_2;
  } else if (v.min_version == "1.3") {
    config.min_version = TlsVersion::k1_3;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_min_version must be 1.2 or 1.3, not '", v.min_version, "'"));
  }
  if (v.cert.empty()) {
    for (const auto& [flag, value] : {std::pair<const char*, const std::string&>{"tls_key", v.key},
                                      {"tls_client_ca", v.client_ca},
                                      {"tls_ciphers", v.ciphers},
                                      {"tls_alpn", v.alpn}}) {
      if (!value.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("--", flag, " needs --tls_cert"));
      }
    }
    return std::nullopt;
  }
  if (v.key.empty()) return absl::InvalidArgumentError("--tls_key is required with --tls_cert");
  if (absl::Status s = Readable("tls_cert", v.cert); !s.ok()) return s;
  if (absl::Status s = Readable("tls_key", v.key); !s.ok()) return s;
  if (!v.client_ca.empty()) {
    if (absl::Status s = Readable("tls_client_ca", v.client_ca); !s.ok()) return s;
  }
  config.certificates.push_back(TlsCertificate::FromFiles(v.cert, v.key));
  config.client_ca_file = v.client_ca;
  config.ciphers = v.ciphers;
  if (!v.alpn.empty()) {
    for (absl::string_view name : absl::StrSplit(v.alpn, ',')) {
      config.alpn.emplace_back(name);
    }
  }
  return config;
}

absl::StatusOr<std::unique_ptr<TlsContext>> TlsContextFromFlagValues(const TlsFlagValues& v) {
  absl::StatusOr<std::optional<TlsServerConfig>> config = TlsConfigFromFlags(v);
  if (!config.ok()) return config.status();
  if (!config->has_value()) return nullptr;
  absl::StatusOr<std::unique_ptr<TlsContext>> tls = TlsContext::Create(**std::move(config));
  if (tls.ok()) return tls;
  // Name the flag the problem came from.
  const std::string message(tls.status().message());
  const char* flag = "tls_cert";
  if (message.find("cipher") != std::string::npos) {
    flag = "tls_ciphers";
  } else if (message.find("ALPN") != std::string::npos) {
    flag = "tls_alpn";
  } else if (message.find("client CA") != std::string::npos) {
    flag = "tls_client_ca";
  } else if (message.find("private key") != std::string::npos) {
    flag = "tls_key";
  }
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", message));
}

absl::StatusOr<std::unique_ptr<TlsContext>> TlsContextFromFlags() {
  return TlsContextFromFlagValues(ReadTlsFlagValues());
}

void ReloadTlsAndLog(TlsContext* tls, const Logger& logger) {
  if (tls == nullptr) {
    logger.Info("SIGHUP: no TLS, nothing to reload");
  } else if (absl::Status reloaded = tls->Reload(); reloaded.ok()) {
    logger.Info("SIGHUP: TLS certificate reloaded");
  } else {
    logger.Warning("SIGHUP: TLS reload failed, keeping the old certificate: %s",
                   reloaded.ToString());
  }
}

void PrintStatsLines(std::string_view server_stats_json, const TlsContext* tls) {
  std::printf("%.*s\n", static_cast<int>(server_stats_json.size()), server_stats_json.data());
  if (tls != nullptr) std::printf("{\"tls\":%s}\n", tls->stats().ToJson().c_str());
  std::fflush(stdout);
}

}  // namespace netman
