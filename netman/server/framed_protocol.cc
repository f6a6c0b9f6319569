// Copyright netman authors.
#include "netman/server/framed_protocol.h"

#include <exception>

#include "absl/strings/str_cat.h"

namespace netman {

FramedProtocol::FramedProtocol(const Packer* packer, const Router* router,
                               const Logger* logger, Options options,
                               Hooks hooks)
    : packer_(packer),
      router_(router),
      logger_(logger),
      options_(options),
      hooks_(std::move(hooks)) {}

absl::StatusOr<size_t> FramedProtocol::OnData(Connection& connection,
                                              std::string_view input) {
  size_t consumed = 0;
  DecodeResult r;
  // A handler may Close() the connection: stop at the next message then.
  while (connection.is_open()) {
    const std::string_view rest = input.substr(consumed);
    absl::Status decoded = packer_->Decode(rest, &r);
    if (!decoded.ok()) {
      connection.loop()->counters().decode_errors.Add();
      return decoded;
    }
    if (!r.complete) {
      if (options_.max_body != 0 && r.declared_body_length.has_value() &&
          *r.declared_body_length > options_.max_body) {
        connection.loop()->counters().decode_errors.Add();
        return absl::ResourceExhaustedError(
            absl::StrCat("message body of ", *r.declared_body_length,
                         " bytes exceeds the limit of ", options_.max_body));
      }
      break;
    }
    if (r.consumed == 0 || r.consumed > rest.size()) {
      return absl::InternalError(absl::StrCat("packer consumed ", r.consumed,
                                              " bytes of ", rest.size()));
    }
    if (options_.max_body != 0 && r.message.body.size() > options_.max_body) {
      connection.loop()->counters().decode_errors.Add();
      return absl::ResourceExhaustedError(
          absl::StrCat("message body of ", r.message.body.size(),
                       " bytes exceeds the limit of ", options_.max_body));
    }
    consumed += r.consumed;
    connection.loop()->counters().messages_in.Add();
    absl::Status s = Dispatch(connection, r.message);
    if (!s.ok()) return s;
  }
  return consumed;
}

absl::Status FramedProtocol::Dispatch(Connection& connection,
                                      const Message& message) {
  Request request(connection, message);
  bool routed;
  try {
    routed = router_->Dispatch(request);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("handler for message id ", message.id,
                                            " threw: ", e.what()));
  } catch (...) {
    return absl::InternalError(
        absl::StrCat("handler for message id ", message.id, " threw"));
  }
  if (!routed) {
    if (options_.close_on_unknown_id) {
      return absl::NotFoundError(
          absl::StrCat("no route for message id ", message.id));
    }
    logger_->Warning("connection %d (%s): no route for message id %d; dropped",
                     connection.id(), connection.peer_address().ToString(),
                     message.id);
  }
  return absl::OkStatus();
}

void FramedProtocol::OnClosed(Connection& connection, const absl::Status& reason) {
  if (hooks_.on_closed) hooks_.on_closed(connection, reason);
}

void FramedProtocol::OnHighWaterMark(Connection& connection, size_t queued_bytes) {
  if (hooks_.on_high_water_mark) hooks_.on_high_water_mark(connection, queued_bytes);
}

void FramedProtocol::OnWriteComplete(Connection& connection) {
  if (hooks_.on_write_complete) hooks_.on_write_complete(connection);
}

}  // namespace netman
