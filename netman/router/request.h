// Copyright netman authors.
//
// Request: the per-request context. A handler (and every middleware before
// it) receives one for each message: the connection it came from, the message
// (id and body), and a typed key/value store that lives as long as the
// request. The body view is valid only during the call; copy it to keep it.
//
// Example:
//   server.Use([](netman::Request& r, const netman::Next& next) {
//     r.Set<std::string>("user", LookUpUser(r.connection()));
//     next();
//   });
//   server.AddRouter(1, [](netman::Request& r) {
//     const std::string* user = r.Get<std::string>("user");
//     r.connection().Send(2, user ? *user : "anonymous");
//   });
//
// Threading: used on the connection's loop thread, within the dispatch.
#ifndef NETMAN_ROUTER_REQUEST_H_
#define NETMAN_ROUTER_REQUEST_H_

#include <any>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "netman/codec/packer.h"
#include "netman/net/connection.h"

namespace netman {

class Request {
 public:
  Request(Connection& connection, const Message& message)
      : connection_(connection), message_(message) {}
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;

  Connection& connection() const { return connection_; }
  const Message& message() const { return message_; }
  uint32_t id() const { return message_.id; }
  std::string_view body() const { return message_.body; }

  // Stores `value` under `key`, replacing any previous value.
  template <typename T>
  void Set(std::string_view key, T value) {
    std::any* slot = Find(key);
    if (slot == nullptr) {
      if (values_ == nullptr) values_ = std::make_unique<Values>();
      values_->emplace_back(std::string(key), std::any());
      slot = &values_->back().second;
    }
    *slot = std::move(value);
  }
  // The value under `key` if it exists and has type T, else null.
  template <typename T>
  T* Get(std::string_view key) {
    std::any* slot = Find(key);
    return slot == nullptr ? nullptr : std::any_cast<T>(slot);
  }
  bool Has(std::string_view key) { return Find(key) != nullptr; }

 private:
  // A few keys per request at most: a vector beats a hash map, and nothing is
  // allocated unless a middleware stores something.
  using Values = std::vector<std::pair<std::string, std::any>>;
  std::any* Find(std::string_view key) {
    if (values_ == nullptr) return nullptr;
    for (auto& [k, v] : *values_) {
      if (k == key) return &v;
    }
    return nullptr;
  }

  Connection& connection_;
  const Message& message_;
  std::unique_ptr<Values> values_;
};

}  // namespace netman

#endif  // NETMAN_ROUTER_REQUEST_H_
