// Copyright netman authors.
#include "examples/kv/kv_service.h"

namespace netman::examples {


absl::Status DeclareKv(MessageRegistry& r) {
  for (absl::Status s : {r.Declare<kv::GetRequest>(kGetRequest), r.Declare<kv::GetReply>(kGetReply),
                         r.Declare<kv::PutRequest>(kPutRequest), r.Declare<kv::PutReply>(kPutReply),
                         r.Declare<kv::DeleteRequest>(kDeleteRequest),
                         r.Declare<kv::DeleteReply>(kDeleteReply)}) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status KvService::Attach(TcpServer& server, TypedRouter::Options options) {
  typed_ = std::make_unique<TypedRouter>(server, options);
  TypedRouter& t = *typed_;
  for (absl::Status s : {t.Declare<kv::GetReply>(kGetReply), t.Declare<kv::PutReply>(kPutReply),
                         t.Declare<kv::DeleteReply>(kDeleteReply)}) {
    if (!s.ok()) return s;
  }
  if (absl::Status s = t.AddRouter<kv::GetRequest>(
          kGetRequest,
          [this](Request& r, const kv::GetRequest& get) {
            kv::GetReply reply;
            {
              MutexLock lock(&mu_);
              auto it = store_.find(get.key());
              if (it != store_.end()) {
                reply.set_found(true);
                reply.set_value(it->second);
              }
            }
            (void)typed_->Send(r.connection(), reply);
          });
      !s.ok()) {
    return s;
  }
  if (absl::Status s = t.AddRouter<kv::PutRequest>(
          kPutRequest,
          [this](Request& r, const kv::PutRequest& put) {
            kv::PutReply reply;
            {
              MutexLock lock(&mu_);
              auto [it, inserted] = store_.insert_or_assign(put.key(), put.value());
              reply.set_replaced(!inserted);
            }
            (void)typed_->Send(r.connection(), reply);
          });
      !s.ok()) {
    return s;
  }
  return t.AddRouter<kv::DeleteRequest>(
      kDeleteRequest, [this](Request& r, const kv::DeleteRequest& del) {
        kv::DeleteReply reply;
        {
          MutexLock lock(&mu_);
          reply.set_deleted(store_.erase(del.key()) > 0);
        }
        (void)typed_->Send(r.connection(), reply);
      });
}

size_t KvService::size() const {
  MutexLock lock(&mu_);
  return store_.size();
}

}  // namespace netman::examples
