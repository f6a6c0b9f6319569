// Copyright netman authors.
//
// HttpRequest and HttpRequestParser: the HTTP/1.1 request head of a
// WebSocket opening handshake (RFC 7230 section 3), parsed incrementally:
// the bytes may arrive split anywhere; each Parse() call resumes the search
// for the end of the head where the previous one stopped, so a slow client
// costs linear work. Header names are matched case-insensitively; the head
// size is capped (431 past the cap, as soon as the buffered bytes cross it).
//
// Only the head is parsed (a WebSocket upgrade or the chat page GET has no
// body). Line endings must be CRLF; obsolete line folding, whitespace before
// a header's colon, control characters and a malformed request line are
// errors (400); a version other than HTTP/1.x is 505.
//
// Example:
//   netman::ws::HttpRequestParser parser(8192);
//   netman::ws::HttpRequest request;
//   switch (parser.Parse(buffered, &request)) {
//     case Result::kNeedMore: return 0;      // keep the bytes, wait for more
//     case Result::kError:    Reply(parser.error_status()); ...
//     case Result::kDone:     Use(request); consume head_size() ...
//   }
//
// The parser keeps only where its search stopped (and an error), so a
// connection waiting for the rest of its head holds a few words; the request
// is built in the caller's HttpRequest (a local of the call that completes
// the head), so its strings never outlive that call.
//
// Threading: none (one parser per connection, on its loop).
#ifndef NETMAN_WS_HTTP_REQUEST_H_
#define NETMAN_WS_HTTP_REQUEST_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace netman::ws {

// One parsed request head. Views into nothing: every field is owned.
struct HttpRequest {
  std::string method;
  std::string target;  // as sent: "/chat?room=a%20b"
  std::string path;    // the target before '?', percent-decoded
  // The query parameters, percent-decoded ('+' is a space), in order.
  std::vector<std::pair<std::string, std::string>> query;
  int version_minor = 1;  // HTTP/1.<minor>
  // Headers in order, names as sent, values without surrounding whitespace.
  std::vector<std::pair<std::string, std::string>> headers;

  // The first header named `name` (any case), or nullopt.
  std::optional<std::string_view> Header(std::string_view name) const;
  // How many headers are named `name` (any case).
  size_t HeaderCount(std::string_view name) const;
  // Whether any header named `name` holds `token` in its comma-separated
  // list (any case): HasToken("Connection", "upgrade").
  bool HasToken(std::string_view name, std::string_view token) const;
  // The first query parameter named `name` (exact), or nullopt.
  std::optional<std::string_view> QueryParam(std::string_view name) const;
};

// Percent-decodes `in` (RFC 3986 section 2.1); with `plus_is_space`, '+'
// decodes to ' ' (query strings). InvalidArgument for a '%' not followed by
// two hex digits.
absl::StatusOr<std::string> PercentDecode(std::string_view in, bool plus_is_space);

class HttpRequestParser {
 public:
  enum class Result { kNeedMore, kDone, kError };

  // The default cap on the request head (request line and headers).
  static constexpr size_t kDefaultMaxHeadSize = 8192;

  explicit HttpRequestParser(size_t max_head_size = kDefaultMaxHeadSize)
      : max_head_size_(max_head_size) {}

  // `buffered` is every byte received so far (the previous call's bytes and
  // more). kDone once the head is complete: `*request` is filled and
  // head_size() set (call it once more after kDone: kDone again, `*request`
  // untouched). kError: error_status() is the HTTP status to answer with.
  Result Parse(std::string_view buffered, HttpRequest* request);
  // Bytes of the head, its final empty line included.
  size_t head_size() const { return head_size_; }
  int error_status() const { return error_status_; }
  const std::string& error() const { return error_; }

 private:
  Result Fail(int status, std::string message);
  Result ParseHead(std::string_view head, HttpRequest& request);

  const size_t max_head_size_;
  size_t scanned_ = 0;  // bytes searched for the end of the head so far
  size_t head_size_ = 0;
  int error_status_ = 0;
  std::string error_;
};

}  // namespace netman::ws

#endif  // NETMAN_WS_HTTP_REQUEST_H_
