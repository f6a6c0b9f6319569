// Copyright netman authors.
#include "netman/ws/permessage_deflate_offer.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "netman/ws/websocket_wire.h"

namespace netman::ws {
namespace {

using websocket_wire::EqualsIgnoreCase;
using websocket_wire::TrimSpaceAndTab;

constexpr int kMinWindowBits = 8;
constexpr int kMaxWindowBits = 15;
// zlib's deflate cannot produce a window of 8 bits (it uses 9).
constexpr int kMinServerWindowBits = 9;

// Splits `s` at `sep`, trimming spaces and tabs.
std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  while (true) {
    const size_t at = s.find(sep);
    parts.push_back(TrimSpaceAndTab(s.substr(0, at)));
    if (at == std::string_view::npos) return parts;
    s.remove_prefix(at + 1);
  }
}

std::optional<int> WindowBits(std::string_view value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    value = value.substr(1, value.size() - 2);
  }
  int bits = 0;
  if (value.empty() || value.size() > 2 || !absl::SimpleAtoi(absl::string_view(value.data(), value.size()), &bits) ||
      bits < kMinWindowBits || bits > kMaxWindowBits || value.front() == '0') {
    return std::nullopt;
  }
  return bits;
}

// One offer: "permessage-deflate; p1; p2=v". nullopt if not acceptable.
std::optional<DeflateParams> Accept(const std::vector<std::string_view>& parts,
                                    bool allow_server_context_takeover) {
  bool server_no_context = false, client_no_context = false, client_max = false;
  std::optional<int> server_max;
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string_view param = parts[i];
    const size_t eq = param.find('=');
    const std::string_view name = TrimSpaceAndTab(param.substr(0, eq));
    const std::optional<std::string_view> value =
        eq == std::string_view::npos ? std::nullopt
                                     : std::optional(TrimSpaceAndTab(param.substr(eq + 1)));
    if (EqualsIgnoreCase(name, "server_no_context_takeover")) {
      if (server_no_context || value) return std::nullopt;
      server_no_context = true;
    } else if (EqualsIgnoreCase(name, "client_no_context_takeover")) {
      if (client_no_context || value) return std::nullopt;
      client_no_context = true;
    } else if (EqualsIgnoreCase(name, "server_max_window_bits")) {
      if (server_max || !value) return std::nullopt;
      server_max = WindowBits(*value);
      if (!server_max || *server_max < kMinServerWindowBits) return std::nullopt;
    } else if (EqualsIgnoreCase(name, "client_max_window_bits")) {
      if (client_max || (value && !WindowBits(*value))) return std::nullopt;
      client_max = true;
    } else {
      return std::nullopt;  // unknown parameter: decline this offer
    }
  }
  DeflateParams params;
  params.server_window_bits = server_max.value_or(kMaxWindowBits);
  params.server_context_takeover = allow_server_context_takeover && !server_no_context;
  params.response = "permessage-deflate";
  if (!params.server_context_takeover) params.response += "; server_no_context_takeover";
  // Always asked for: the decompressor is then shared per loop.
  params.response += "; client_no_context_takeover";
  if (server_max) absl::StrAppend(&params.response, "; server_max_window_bits=", *server_max);
  return params;
}

}  // namespace

std::optional<DeflateParams> NegotiatePermessageDeflate(
    const std::vector<std::string_view>& header_values, bool allow_server_context_takeover) {
  for (std::string_view header : header_values) {
    for (std::string_view extension : Split(header, ',')) {
      const std::vector<std::string_view> parts = Split(extension, ';');
      if (!EqualsIgnoreCase(parts[0], "permessage-deflate")) continue;
      if (std::optional<DeflateParams> p = Accept(parts, allow_server_context_takeover)) {
        return p;
      }
    }
  }
  return std::nullopt;
}

}  // namespace netman::ws
