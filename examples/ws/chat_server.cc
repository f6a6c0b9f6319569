// Copyright netman authors.
//
// The README's "A WebSocket server in 20 lines": a token-checked chat room
// on /chat (ws://localhost:8080/chat?token=secret), compiled so it stays
// true.
#include <cstdint>
#include <optional>
#include <string_view>

#include "netman/ws/ws_server.h"

int main() {
  netman::WsServer server({.loops = 4}, {.permessage_deflate = true});
  netman::ws::WsHandler chat;
  chat.upgrade = [](netman::Connection&, const netman::ws::HttpRequest& r)
      -> std::optional<netman::ws::HttpRefusal> {
    if (r.QueryParam("token") != "secret") return netman::ws::HttpRefusal{401, "bad token"};
    return std::nullopt;                               // refused before the 101
  };
  chat.open = [&](netman::ws::WsConnection ws) { server.topics().Subscribe("room", ws.connection()); };
  chat.message = [&](netman::Request& r) {             // after the global middleware
    server.topics().Publish("room", r.id(), r.body()); // framed (and compressed) once per loop
  };
  chat.close = [](netman::ws::WsConnection, uint16_t code, std::string_view reason) {};
  (void)server.Handle("/chat", chat);
  return server.Start("0.0.0.0:8080").ok() ? 0 : 1;
}
