// Copyright netman authors.
#include "netman/ws/upgrade_protocol.h"

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace netman::ws {

size_t UpgradeProtocol::Refuse(Connection& connection, const HttpRefusal& refusal,
                               size_t consumed) {
  connection.loop()->logger().Debug("connection %d: upgrade refused: %d %s", connection.id(),
                                    refusal.status, refusal.message);
  (void)connection.SendBytes(RefusalResponse(refusal));
  connection.Close();
  return consumed;
}

absl::StatusOr<size_t> UpgradeProtocol::OnData(Connection& connection, std::span<char> input) {
  const std::string_view bytes(input.data(), input.size());
  // The shared instance parses with a parser of this call's own.
  std::optional<HttpRequestParser> local;
  HttpRequestParser& parser =
      parser_ ? *parser_ : local.emplace(context_->options->max_head_size);
  // Built here: the request's strings live for this call only.
  HttpRequest request;
  switch (parser.Parse(bytes, &request)) {
    case HttpRequestParser::Result::kNeedMore:
      if (!parser_) {
        // Split head: continue on an instance of this connection's own,
        // which remembers how far the bytes were searched.
        connection.SwitchProtocol(
            ProtocolPtr::Owned(std::make_unique<UpgradeProtocol>(context_, std::move(local))));
      }
      return 0;
    case HttpRequestParser::Result::kError:
      return Refuse(connection, HttpRefusal{parser.error_status(), parser.error(), {}},
                    input.size());
    case HttpRequestParser::Result::kDone:
      break;
  }
  return Upgrade(connection, input, request, parser.head_size());
}

absl::StatusOr<size_t> UpgradeProtocol::Upgrade(Connection& connection, std::span<char> input,
                                                const HttpRequest& request, size_t head) {
  if (!IsUpgradeRequest(request)) {
    const std::string& page = context_->options->http_page;
    if (request.method == "GET" && request.path == "/" && !page.empty()) {
      (void)connection.SendBytes(OkResponse("text/html; charset=utf-8", page));
      connection.Close();
      return input.size();
    }
    return Refuse(connection, HttpRefusal{404, "not found", {}}, input.size());
  }
  const WsEndpoint* endpoint = context_->find_endpoint(request.path);
  if (endpoint == nullptr) {
    return Refuse(connection, HttpRefusal{404, "no WebSocket endpoint at this path", {}},
                  input.size());
  }
  UpgradeCheck check = CheckUpgrade(request, context_->handshake);
  if (check.refusal) return Refuse(connection, *check.refusal, input.size());
  if (endpoint->handler().upgrade) {
    std::optional<HttpRefusal> refusal;
    try {
      refusal = endpoint->handler().upgrade(connection, request);
    } catch (...) {
      refusal = HttpRefusal{500, "upgrade handler failed", {}};
    }
    if (refusal) return Refuse(connection, *refusal, input.size());
  }
  (void)connection.SendBytes(SwitchingProtocolsResponse(check.agreement));
  const std::optional<DeflateParams>& deflate = check.agreement.deflate;
  connection.SwitchProtocol(endpoint->ProtocolFor(deflate.has_value(),
                                                  deflate && deflate->server_context_takeover,
                                                  deflate ? deflate->server_window_bits : 0));
  // `this` is destroyed from a posted task: its members stay valid here.
  connection.MarkProtocolReady();  // opens it: the server's OnOpen hook runs
  // Opened (even if an OnOpen hook closed it already): the server counts it
  // and the close handler will run for it.
  if (!connection.has_opened()) return head;
  if (context_->on_opened) context_->on_opened(connection);
  if (!connection.is_open()) return head;
  if (endpoint->handler().open) {
    try {
      endpoint->handler().open(WsConnection(connection));
    } catch (const std::exception& e) {
      return absl::InternalError(std::string("websocket open handler threw: ") + e.what());
    }
  }
  return head;
}

}  // namespace netman::ws
