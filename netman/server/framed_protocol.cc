// Copyright netman authors.
#include "netman/server/framed_protocol.h"

#include <exception>
#include <limits>

#include "absl/strings/str_cat.h"

namespace netman {

FramedProtocol::FramedProtocol(const Packer* packer, const Router* router,
                               const Logger* logger, Options options)
    : packer_(packer),
      default_packer_(dynamic_cast<const DefaultPacker*>(packer)),
      router_(router),
      logger_(logger),
      options_(options) {}

namespace {

[[gnu::cold, gnu::noinline]] absl::Status OversizeError(uint64_t length,
                                                       uint64_t limit) {
  return absl::ResourceExhaustedError(absl::StrCat(
      "message body of ", length, " bytes exceeds the limit of ", limit));
}

[[gnu::cold, gnu::noinline]] absl::Status BadConsumeError(size_t consumed,
                                                         size_t available) {
  return absl::InternalError(
      absl::StrCat("packer consumed ", consumed, " bytes of ", available));
}

[[gnu::cold, gnu::noinline]] absl::Status BodyTooLargeError(size_t size) {
  return absl::InvalidArgumentError(absl::StrCat(
      "message body of ", size, " bytes is larger than the 4 GiB the frame header can say"));
}

constexpr uint64_t kMaxFrameBody = std::numeric_limits<uint32_t>::max();

}  // namespace

absl::StatusOr<size_t> FramedProtocol::OnData(Connection& connection,
                                              std::span<char> input) {
  const std::string_view bytes(input.data(), input.size());
  return default_packer_ != nullptr ? DecodeAndDispatch<true>(connection, bytes)
                                    : DecodeAndDispatch<false>(connection, bytes);
}

absl::Status FramedProtocol::Encode(uint32_t id, std::string_view body, Buffer& out) {
  if (body.size() > kMaxFrameBody) [[unlikely]] return BodyTooLargeError(body.size());
  if (default_packer_ != nullptr) {
    default_packer_->DefaultPacker::Encode(id, body, out);  // devirtualised
  } else {
    packer_->Encode(id, body, out);
  }
  return absl::OkStatus();
}

absl::Status FramedProtocol::EncodeWith(uint32_t id, size_t size, BodyWriter writer,
                                        Buffer& out) {
  if (size > kMaxFrameBody) return BodyTooLargeError(size);
  packer_->EncodeWith(id, size, writer, out);
  return absl::OkStatus();
}

template <bool kDefaultPacker>
absl::StatusOr<size_t> FramedProtocol::DecodeAndDispatch(Connection& connection,
                                                         std::string_view input) {
  IoCounters& counters = connection.loop()->counters();
  size_t consumed = 0;
  uint64_t messages = 0;
  DecodeResult r;
  absl::Status status;
  // A handler may Close() the connection, or its replies may reach the
  // output cap: stop at the next message then.
  while (connection.wants_messages()) {
    const std::string_view rest = input.substr(consumed);
    if constexpr (kDefaultPacker) {
      // The common case, devirtualised so the header parse is inlined.
      (void)default_packer_->DefaultPacker::Decode(rest, &r);
    } else {
      status = packer_->Decode(rest, &r);
      if (!status.ok()) {
        counters.decode_errors.Add();
        break;
      }
    }
    if (!r.complete) {
      if (options_.max_body != 0 && r.declared_body_length.has_value() &&
          *r.declared_body_length > options_.max_body) {
        counters.decode_errors.Add();
        status = OversizeError(*r.declared_body_length, options_.max_body);
      }
      break;
    }
    if constexpr (!kDefaultPacker) {
      if (r.consumed == 0 || r.consumed > rest.size()) {
        status = BadConsumeError(r.consumed, rest.size());
        break;
      }
    }
    if (options_.max_body != 0 && r.message.body.size() > options_.max_body) {
      counters.decode_errors.Add();
      status = OversizeError(r.message.body.size(), options_.max_body);
      break;
    }
    consumed += r.consumed;
    ++messages;
    if (!Dispatch(connection, r.message, &status)) break;
  }
  counters.messages_in.Add(messages);
  if (!status.ok()) return status;
  return consumed;
}

bool FramedProtocol::Dispatch(Connection& connection, const Message& message,
                              absl::Status* error) {
  Request request(connection, message);
  bool routed;
  try {
    routed = router_->Dispatch(request);
  } catch (const std::exception& e) {
    *error = HandlerThrew(message.id, e.what());
    return false;
  } catch (...) {
    *error = HandlerThrew(message.id, nullptr);
    return false;
  }
  if (!routed) [[unlikely]] {
    *error = NoRoute(connection, message.id);
    return error->ok();
  }
  return true;
}

absl::Status FramedProtocol::HandlerThrew(uint32_t id, const char* what) {
  return absl::InternalError(what != nullptr
                                 ? absl::StrCat("handler for message id ", id,
                                                " threw: ", what)
                                 : absl::StrCat("handler for message id ", id, " threw"));
}

absl::Status FramedProtocol::NoRoute(Connection& connection, uint32_t id) {
  if (options_.close_on_unknown_id) {
    return absl::NotFoundError(absl::StrCat("no route for message id ", id));
  }
  connection.loop()->counters().unknown_ids.Add();
  no_route_log_.Warning(*logger_, "connection %d (%s): no route for message id %d; dropped",
                        connection.id(), connection.peer_address().ToString(), id);
  return absl::OkStatus();
}

}  // namespace netman
