// Copyright netman authors.
//
// RouteProtobufLogs: sends libprotobuf's own log lines to a netman Logger,
// rate-limited (LogRateLimiter), instead of unlimited lines on stderr.
//
// Why a server wants it: libprotobuf itself logs some bad input. Parsing a
// proto3 `string` field that is not valid UTF-8 fails (TypedRouter then
// treats the message as a bad payload: counted, rate-limited line, policy)
// but protobuf first prints
//   [libprotobuf ERROR ...] String field 'x.y' contains invalid UTF-8 data ...
// on stderr, once per such message, however many a peer sends. Call this
// once at start-up (kv_server does) so those lines go through the server's
// logger and its rate limit. (Or declare untrusted text as `bytes`.)
//
// Process-wide, because protobuf's log handler is (google::protobuf::
// SetLogHandler): the last call wins. Fatal protobuf errors still abort.
//
// Threading: call from main() before serving (protobuf's SetLogHandler is
// not thread-safe); the handler itself is safe from any thread.
#ifndef NETMAN_PROTO_PROTOBUF_LOG_H_
#define NETMAN_PROTO_PROTOBUF_LOG_H_

#include "netman/base/log.h"

namespace netman {

// Routes protobuf's log lines to `logger` (warning level for protobuf's
// warnings, error for its errors), at most LogRateLimiter's default burst
// per interval.
void RouteProtobufLogs(Logger logger);

}  // namespace netman

#endif  // NETMAN_PROTO_PROTOBUF_LOG_H_
