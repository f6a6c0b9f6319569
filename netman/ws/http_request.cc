// Copyright netman authors.
#include "netman/ws/http_request.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "netman/ws/websocket_wire.h"

namespace netman::ws {
namespace {

using websocket_wire::EqualsIgnoreCase;
using websocket_wire::HasHeaderToken;
using websocket_wire::TrimSpaceAndTab;

constexpr std::string_view kEndOfHead = "\r\n\r\n";
// Headers a browser's upgrade request has (one allocation for them all).
constexpr size_t kTypicalHeaders = 16;

// RFC 7230 tchar.
bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
    return true;
  }
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsTokenChar);
}

// Field values: visible characters, spaces, tabs and obs-text; no other
// control characters.
bool IsFieldValue(std::string_view s) {
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

absl::StatusOr<std::string> PercentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) {
        return absl::InvalidArgumentError(absl::StrCat("truncated escape in '", std::string(in), "'"));
      }
      const int h = HexValue(in[i + 1]);
      const int l = HexValue(in[i + 2]);
      if (h < 0 || l < 0) {
        return absl::InvalidArgumentError(absl::StrCat("bad escape in '", std::string(in), "'"));
      }
      out.push_back(static_cast<char>(h * 16 + l));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::string_view> HttpRequest::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (EqualsIgnoreCase(n, name)) return std::string_view(v);
  }
  return std::nullopt;
}

size_t HttpRequest::HeaderCount(std::string_view name) const {
  return std::count_if(headers.begin(), headers.end(),
                       [name](const auto& h) { return EqualsIgnoreCase(h.first, name); });
}

bool HttpRequest::HasToken(std::string_view name, std::string_view token) const {
  for (const auto& [n, v] : headers) {
    if (EqualsIgnoreCase(n, name) && HasHeaderToken(v, token)) return true;
  }
  return false;
}

std::optional<std::string_view> HttpRequest::QueryParam(std::string_view name) const {
  for (const auto& [n, v] : query) {
    if (n == name) return std::string_view(v);
  }
  return std::nullopt;
}

HttpRequestParser::Result HttpRequestParser::Fail(int status, std::string message) {
  error_status_ = status;
  error_ = std::move(message);
  return Result::kError;
}

HttpRequestParser::Result HttpRequestParser::Parse(std::string_view buffered,
                                                  HttpRequest* request) {
  if (error_status_ != 0) return Result::kError;
  if (head_size_ != 0) return Result::kDone;
  // Resume the search three bytes back: the terminator may straddle calls.
  const size_t from = scanned_ >= kEndOfHead.size() - 1 ? scanned_ - (kEndOfHead.size() - 1) : 0;
  const size_t end = buffered.find(kEndOfHead, from);
  if (end == std::string_view::npos) {
    scanned_ = buffered.size();
    if (buffered.size() > max_head_size_) {
      return Fail(431, absl::StrCat("request head exceeds ", max_head_size_, " bytes"));
    }
    return Result::kNeedMore;
  }
  const size_t size = end + kEndOfHead.size();
  if (size > max_head_size_) {
    return Fail(431, absl::StrCat("request head exceeds ", max_head_size_, " bytes"));
  }
  HttpRequest parsed;
  const Result r = ParseHead(buffered.substr(0, end + 2), parsed);  // lines end in CRLF
  if (r == Result::kDone) *request = std::move(parsed);
  if (r == Result::kDone) head_size_ = size;
  return r;
}

HttpRequestParser::Result HttpRequestParser::ParseHead(std::string_view head,
                                                      HttpRequest& request) {
  // Request line: method SP request-target SP HTTP-version CRLF.
  size_t eol = head.find("\r\n");
  const std::string_view line = head.substr(0, eol);
  head.remove_prefix(eol + 2);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return Fail(400, "malformed request line");
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method)) return Fail(400, "malformed method");
  if (target.empty()) return Fail(400, "empty request target");
  for (char ch : target) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f) return Fail(400, "malformed request target");
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return Fail(400, "malformed HTTP version");
  }
  if (version[5] != '1') return Fail(505, "only HTTP/1.x is supported");
  request.method = std::string(method);
  request.target = std::string(target);
  request.version_minor = version[7] - '0';

  const size_t question = target.find('?');
  absl::StatusOr<std::string> path = PercentDecode(target.substr(0, question), false);
  if (!path.ok()) return Fail(400, std::string(path.status().message()));
  request.path = *std::move(path);
  if (question != std::string_view::npos) {
    std::string_view query = target.substr(question + 1);
    const size_t hash = query.find('#');
    if (hash != std::string_view::npos) query = query.substr(0, hash);
    while (!query.empty()) {
      const size_t amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      if (pair.empty()) continue;
      const size_t eq = pair.find('=');
      absl::StatusOr<std::string> name = PercentDecode(pair.substr(0, eq), true);
      absl::StatusOr<std::string> value = PercentDecode(
          eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
      if (!name.ok() || !value.ok()) return Fail(400, "malformed query");
      request.query.emplace_back(*std::move(name), *std::move(value));
    }
  }

  // Header fields: name ":" OWS value OWS CRLF.
  request.headers.reserve(kTypicalHeaders);
  while (!head.empty()) {
    eol = head.find("\r\n");
    const std::string_view field = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    if (field.empty()) break;
    if (field.front() == ' ' || field.front() == '\t') {
      return Fail(400, "obsolete line folding");
    }
    const size_t colon = field.find(':');
    if (colon == std::string_view::npos) return Fail(400, "header without a colon");
    const std::string_view name = field.substr(0, colon);
    if (!IsToken(name)) return Fail(400, "malformed header name");
    const std::string_view value = TrimSpaceAndTab(field.substr(colon + 1));
    if (!IsFieldValue(value)) return Fail(400, "control character in a header value");
    request.headers.emplace_back(std::string(name), std::string(value));
  }
  return Result::kDone;
}

}  // namespace netman::ws
