// Copyright netman authors.
//
// MessageRegistry: the one place a service declares which protobuf type each
// message id carries (requests and replies alike). TypedRouter routes by it,
// TypedRouter::Send and TypedClient pick the id of a reply from it, so the
// id <-> type mapping is written once and checked when it is written: an id
// declared twice, or a type declared under two ids, is AlreadyExists.
//
// Example:
//   absl::Status DeclareKv(netman::MessageRegistry& r) {
//     NETMAN_RETURN_IF_ERROR(r.Declare<kv::GetRequest>(1));
//     NETMAN_RETURN_IF_ERROR(r.Declare<kv::GetReply>(2));
//     return absl::OkStatus();
//   }
//   r.IdOf<kv::GetReply>();             // 2
//   r.IdOf(some_message);               // by the instance's type
//   r.Declare<kv::GetReply>(9);         // AlreadyExists: kv.GetReply is id 2
//
// Types are identified by their protobuf Descriptor (generated messages,
// optimize_for SPEED or CODE_SIZE; not LITE_RUNTIME).
//
// Threading: Declare() is serialised by a mutex; lookups take no lock and
// are safe from any thread once declarations are done (declare everything
// before the server starts, as with routes).
#ifndef NETMAN_PROTO_MESSAGE_REGISTRY_H_
#define NETMAN_PROTO_MESSAGE_REGISTRY_H_

#include <concepts>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "netman/base/sync.h"

namespace netman {

// A generated protobuf message type.
template <typename T>
concept ProtoMessage = std::derived_from<T, google::protobuf::Message> &&
                       requires { T::descriptor(); };

class MessageRegistry {
 public:
  MessageRegistry() = default;
  MessageRegistry(const MessageRegistry&) = delete;
  MessageRegistry& operator=(const MessageRegistry&) = delete;

  // Declares that message `id` carries a T. AlreadyExists (naming both
  // types or both ids) if `id` or T is already declared.
  template <ProtoMessage T>
  absl::Status Declare(uint32_t id) {
    return Declare(id, &T::default_instance());
  }
  absl::Status Declare(uint32_t id, const google::protobuf::Message* prototype);

  // The id T was declared with; NotFound if it was not.
  template <ProtoMessage T>
  absl::StatusOr<uint32_t> IdOf() const {
    return IdOf(T::descriptor());
  }
  absl::StatusOr<uint32_t> IdOf(const google::protobuf::Message& message) const {
    return IdOf(message.GetDescriptor());
  }
  absl::StatusOr<uint32_t> IdOf(const google::protobuf::Descriptor* type) const;

  // The default instance of the type declared for `id`, or null.
  const google::protobuf::Message* TypeOf(uint32_t id) const;

  size_t size() const { return by_id_.size(); }

 private:
  friend class TypedRouter;
  // Undoes Declare(id, ...) (when the route it came with was refused).
  void Forget(uint32_t id);

  mutable Mutex mu_;  // serialises Declare/Forget; lookups do not take it
  absl::flat_hash_map<uint32_t, const google::protobuf::Message*> by_id_;
  absl::flat_hash_map<const google::protobuf::Descriptor*, uint32_t> by_type_;
};

}  // namespace netman

#endif  // NETMAN_PROTO_MESSAGE_REGISTRY_H_
