// Copyright netman authors.
#include "netman/proto/typed_router.h"

#include "absl/strings/str_cat.h"
#include "netman/net/event_loop.h"

namespace netman {

void TypedRouter::BadPayload(Request& request, const google::protobuf::Message& type) {
  Connection& connection = request.connection();
  connection.loop()->counters().decode_errors.Add();
  bad_payloads_.fetch_add(1, std::memory_order_relaxed);
  const bool close = options_.on_bad_payload == BadPayloadPolicy::kClose;
  const std::string type_name = type.GetTypeName();
  bad_payload_log_.Warning(connection.loop()->logger(),
                           "connection %d (%s): message id %d: body of %d bytes does not "
                           "parse as %s; %s",
                           connection.id(), connection.peer_address().ToString(),
                           request.id(), request.body().size(), type_name,
                           close ? "closing the connection" : "dropped");
  if (close) {
    connection.ForceClose(absl::InvalidArgumentError(
        absl::StrCat("message id ", request.id(), ": body of ", request.body().size(),
                     " bytes does not parse as ", type_name)));
  }
}

}  // namespace netman
