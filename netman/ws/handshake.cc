// Copyright netman authors.
#include "netman/ws/handshake.h"

#include <openssl/base64.h>

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "netman/ws/websocket_wire.h"

namespace netman::ws {
namespace {

using websocket_wire::EqualsIgnoreCase;
using websocket_wire::TrimSpaceAndTab;

constexpr size_t kKeyChars = 24;   // base64 of 16 bytes
constexpr size_t kNonceBytes = 16;

HttpRefusal Refuse(int status, std::string message) {
  return HttpRefusal{status, std::move(message), {}};
}

bool ValidKey(std::string_view key) {
  uint8_t nonce[kNonceBytes + 2];
  size_t len = 0;
  return key.size() == kKeyChars &&
         EVP_DecodeBase64(nonce, &len, sizeof(nonce), reinterpret_cast<const uint8_t*>(key.data()),
                          key.size()) == 1 &&
         len == kNonceBytes;
}

// All values of header `name`, in order.
std::vector<std::string_view> HeaderValues(const HttpRequest& request, std::string_view name) {
  std::vector<std::string_view> values;
  for (const auto& [n, v] : request.headers) {
    if (EqualsIgnoreCase(n, name)) values.push_back(v);
  }
  return values;
}

std::string SelectSubprotocol(const HttpRequest& request, const HandshakeOptions& options) {
  for (const std::string& mine : options.subprotocols) {
    for (std::string_view offered : HeaderValues(request, "Sec-WebSocket-Protocol")) {
      while (true) {
        const size_t comma = offered.find(',');
        // Subprotocol names are case-sensitive tokens (RFC 6455 11.3.4).
        if (TrimSpaceAndTab(offered.substr(0, comma)) == mine) return mine;
        if (comma == std::string_view::npos) break;
        offered.remove_prefix(comma + 1);
      }
    }
  }
  return {};
}

}  // namespace

bool IsUpgradeRequest(const HttpRequest& request) {
  return request.HasToken("Upgrade", "websocket");
}

UpgradeCheck CheckUpgrade(const HttpRequest& request, const HandshakeOptions& options) {
  UpgradeCheck check;
  if (request.method != "GET") {
    check.refusal = Refuse(400, "a WebSocket upgrade must be a GET");
    return check;
  }
  if (request.version_minor < 1) {
    check.refusal = Refuse(400, "a WebSocket upgrade needs HTTP/1.1");
    return check;
  }
  if (request.HeaderCount("Host") != 1) {
    check.refusal = Refuse(400, "exactly one Host header is required");
    return check;
  }
  if (!request.HasToken("Connection", "upgrade")) {
    check.refusal = Refuse(400, "Connection must include the upgrade token");
    return check;
  }
  const std::vector<std::string_view> versions = HeaderValues(request, "Sec-WebSocket-Version");
  if (versions.empty()) {
    check.refusal = Refuse(400, "Sec-WebSocket-Version is missing");
    return check;
  }
  if (versions.size() != 1 || versions[0] != "13") {
    check.refusal = Refuse(426, "only WebSocket version 13 is supported");
    check.refusal->headers.emplace_back("Sec-WebSocket-Version", "13");
    return check;
  }
  const std::vector<std::string_view> keys = HeaderValues(request, "Sec-WebSocket-Key");
  if (keys.size() != 1 || !ValidKey(keys[0])) {
    check.refusal = Refuse(400, "Sec-WebSocket-Key must be one base64-encoded 16-byte value");
    return check;
  }
  if (!options.allowed_origins.empty()) {
    if (std::optional<std::string_view> origin = request.Header("Origin")) {
      bool allowed = false;
      for (const std::string& o : options.allowed_origins) {
        allowed = allowed || EqualsIgnoreCase(o, *origin);
      }
      if (!allowed) {
        check.refusal = Refuse(403, "origin not allowed");
        return check;
      }
    }
  }
  check.agreement.accept = websocket_wire::AcceptFor(keys[0]);
  check.agreement.subprotocol = SelectSubprotocol(request, options);
  if (options.permessage_deflate) {
    check.agreement.deflate = NegotiatePermessageDeflate(
        HeaderValues(request, "Sec-WebSocket-Extensions"), options.deflate_context_takeover);
  }
  return check;
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

std::string SwitchingProtocolsResponse(const UpgradeAgreement& agreement) {
  std::string out = absl::StrCat(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ",
      agreement.accept, "\r\n");
  if (!agreement.subprotocol.empty()) {
    absl::StrAppend(&out, "Sec-WebSocket-Protocol: ", agreement.subprotocol, "\r\n");
  }
  if (agreement.deflate) {
    absl::StrAppend(&out, "Sec-WebSocket-Extensions: ", agreement.deflate->response, "\r\n");
  }
  out += "\r\n";
  return out;
}

std::string RefusalResponse(const HttpRefusal& refusal) {
  const int status = refusal.status >= 300 && refusal.status <= 599 ? refusal.status : 400;
  std::string body = refusal.message.empty() ? std::string(ReasonPhrase(status))
                                              : refusal.message;
  body += "\n";
  std::string out = absl::StrCat("HTTP/1.1 ", status, " ", std::string(ReasonPhrase(status)),
                                 "\r\nConnection: close\r\n"
                                 "Content-Type: text/plain; charset=utf-8\r\n"
                                 "Content-Length: ",
                                 body.size(), "\r\n");
  for (const auto& [name, value] : refusal.headers) {
    absl::StrAppend(&out, name, ": ", value, "\r\n");
  }
  absl::StrAppend(&out, "\r\n", body);
  return out;
}

std::string OkResponse(std::string_view content_type, std::string_view body) {
  return absl::StrCat("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: ", std::string(content_type),
                      "\r\nContent-Length: ", body.size(), "\r\n\r\n", std::string(body));
}

}  // namespace netman::ws
