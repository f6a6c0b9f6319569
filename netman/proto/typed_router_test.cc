// Copyright netman authors.
//
// Typed protobuf routing over real sockets on 127.0.0.1: TcpServer +
// TypedRouter on the server, TypedClient and plain Client on the other end.
#include "netman/proto/typed_router.h"

#include <atomic>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "netman/base/sync.h"
#include "netman/base/testing/capturing_log_sink.h"
#include "netman/client/client.h"
#include "netman/proto/message_registry.h"
#include "netman/proto/test_messages.pb.h"
#include "netman/proto/typed_client.h"
#include "netman/server/tcp_server.h"

namespace netman {
namespace {

using test::Admin;
using test::Blob;
using test::Ping;
using test::Pong;
using test::Scalars;

constexpr absl::Duration kTimeout = absl::Seconds(20);
constexpr uint32_t kEchoBytesId = 0;  // a plain byte route
constexpr uint32_t kPingId = 1;
constexpr uint32_t kPongId = 2;
constexpr uint32_t kBlobId = 3;
constexpr uint32_t kScalarsId = 4;
constexpr uint32_t kAdminId = 5;
constexpr uint32_t kUnknownId = 77;

absl::Status DeclareReplies(MessageRegistry& registry) {
  if (absl::Status s = registry.Declare<Ping>(kPingId); !s.ok()) return s;
  if (absl::Status s = registry.Declare<Pong>(kPongId); !s.ok()) return s;
  if (absl::Status s = registry.Declare<Blob>(kBlobId); !s.ok()) return s;
  if (absl::Status s = registry.Declare<Admin>(kAdminId); !s.ok()) return s;
  return registry.Declare<Scalars>(kScalarsId);
}

TEST(MessageRegistryTest, DeclaresEachIdAndEachTypeOnce) {
  MessageRegistry r;
  ASSERT_TRUE(r.Declare<Ping>(1).ok());
  absl::Status same_id = r.Declare<Pong>(1);
  EXPECT_EQ(same_id.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(same_id.message().find("message id 1 is already declared as netman.test.Ping"),
            std::string::npos)
      << same_id;
  absl::Status same_type = r.Declare<Ping>(2);
  EXPECT_EQ(same_type.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(same_type.message().find("netman.test.Ping is already declared as message id 1"),
            std::string::npos)
      << same_type;
  EXPECT_EQ(*r.IdOf<Ping>(), 1u);
  Ping instance;
  EXPECT_EQ(*r.IdOf(instance), 1u);
  EXPECT_EQ(r.IdOf<Pong>().status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r.TypeOf(1), &Ping::default_instance());
  EXPECT_EQ(r.TypeOf(2), nullptr);
  EXPECT_EQ(r.size(), 1u);
}

TEST(TypedRouterTest, RegistrationErrorsLeaveNothingBehind) {
  Router router;
  ASSERT_TRUE(router.AddRouter(7, [](Request&) {}).ok());
  TypedRouter typed(router);
  auto noop = [](Request&, const Ping&) {};
  // Id 7 has a byte route: refused, and Ping stays undeclared.
  EXPECT_EQ(typed.AddRouter<Ping>(7, noop).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(typed.registry().IdOf<Ping>().status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(typed.AddRouter<Ping>(1, noop).ok());
  // The same type again, under another id.
  EXPECT_EQ(typed.AddRouter<Ping>(2, noop).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(router.Find(2), nullptr);
  // Another type on the same id.
  EXPECT_EQ(typed.AddRouter<Pong>(1, [](Request&, const Pong&) {}).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(typed.AddRouter<Pong>(3, nullptr).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(typed.registry().size(), 1u);
  router.Freeze();
  EXPECT_EQ(typed.AddRouter<Blob>(4, [](Request&, const Blob&) {}).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(typed.registry().IdOf<Blob>().status().code(), absl::StatusCode::kNotFound);
}

class TypedServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions options = {}, TypedRouter::Options typed_options = {}) {
    sink_ = std::make_shared<CapturingLogSink>();
    options.logger = Logger(sink_, LogLevel::kDebug);
    options.loops = 2;
    server_ = std::make_unique<TcpServer>(std::move(options));
    typed_ = std::make_unique<TypedRouter>(*server_, typed_options);
    ASSERT_TRUE(server_->OnClose([this](Connection&, const absl::Status& reason) {
      MutexLock lock(&mu_);
      close_reasons_.push_back(reason);
    }).ok());
    // Plain bytes and typed messages on one server.
    ASSERT_TRUE(server_->AddRouter(kEchoBytesId, [](Request& r) {
      (void)r.connection().Send(kEchoBytesId, r.body());
    }).ok());
    ASSERT_TRUE(server_->Use([](Request& r, const Next& next) {
      r.Set<std::string>("tag", "global");
      next();
    }).ok());
    ASSERT_TRUE(typed_->Declare<Pong>(kPongId).ok());
    ASSERT_TRUE(typed_->AddRouter<Ping>(kPingId, [this](Request& r, const Ping& ping) {
      Pong pong;
      pong.set_text(ping.text());
      pong.set_connection_id(r.connection().id());
      if (const std::string* tag = r.Get<std::string>("tag")) pong.set_tag(*tag);
      last_ping_.store(&ping);
      EXPECT_TRUE(typed_->Send(r.connection(), pong).ok());
    }).ok());
    ASSERT_TRUE(typed_->AddRouter<Blob>(kBlobId, [this](Request& r, const Blob& blob) {
      EXPECT_TRUE(typed_->Send(r.connection(), blob).ok());
    }).ok());
    ASSERT_TRUE(typed_->AddRouter<Scalars>(kScalarsId, [this](Request& r, const Scalars& s) {
      EXPECT_TRUE(typed_->Send(r.connection(), s).ok());
    }).ok());
    // A group: its middleware runs after the global one, then the handler.
    RouteGroup& admin = server_->Group({[](Request& r, const Next& next) {
      std::string* tag = r.Get<std::string>("tag");
      r.Set<std::string>("tag", (tag ? *tag : "") + "+group");
      next();
    }});
    ASSERT_TRUE(typed_->AddRouter<Admin>(admin, kAdminId, [this](Request& r, const Admin& a) {
      Pong pong;
      pong.set_text(a.command());
      if (const std::string* tag = r.Get<std::string>("tag")) pong.set_tag(*tag);
      EXPECT_TRUE(typed_->Send(r.connection(), pong).ok());
    }).ok());
    absl::Status s = server_->StartInBackground("127.0.0.1:0");
    ASSERT_TRUE(s.ok()) << s;
  }

  // The server goes first: its loops call into typed_ and its OnClose hook
  // into mu_, both destroyed before server_ otherwise.
  void TearDown() override {
    if (server_ != nullptr) server_->Stop();
  }

  std::unique_ptr<TypedClient> ConnectTyped() {
    auto c = TypedClient::Connect("127.0.0.1", server_->port());
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) return nullptr;
    EXPECT_TRUE(DeclareReplies((*c)->registry()).ok());
    return std::move(*c);
  }

  // Waits until `n` connections have closed; returns their reasons.
  std::vector<absl::Status> WaitForCloses(size_t n) {
    MutexLock lock(&mu_);
    EXPECT_TRUE(mu_.AwaitWithTimeout(
        [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return close_reasons_.size() >= n; },
        kTimeout));
    return close_reasons_;
  }

  std::shared_ptr<CapturingLogSink> sink_;
  std::unique_ptr<TcpServer> server_;
  std::unique_ptr<TypedRouter> typed_;
  std::atomic<const Ping*> last_ping_{nullptr};  // set by the handler
  Mutex mu_;
  std::vector<absl::Status> close_reasons_ ABSL_GUARDED_BY(mu_);
};

TEST_F(TypedServerTest, TypedRoundTripsWithGlobalMiddleware) {
  StartServer();
  auto c = ConnectTyped();
  ASSERT_NE(c, nullptr);
  Ping ping;
  ping.set_text("hello");
  absl::StatusOr<Pong> pong = c->Call<Pong>(ping, kTimeout);
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_EQ(pong->text(), "hello");
  EXPECT_EQ(pong->tag(), "global");
  EXPECT_NE(pong->connection_id(), 0u);

  Blob blob;
  blob.set_data(std::string(64, '\x01') + std::string(1, '\0') + "tail");
  absl::StatusOr<Blob> blob_back = c->Call<Blob>(blob, kTimeout);
  ASSERT_TRUE(blob_back.ok()) << blob_back.status();
  EXPECT_EQ(blob_back->data(), blob.data());

  Scalars s;
  s.set_i32(-5);
  s.set_i64(int64_t{-1} << 40);
  s.set_u32(7);
  s.set_u64(uint64_t{1} << 63);
  s.set_s32(-9);
  s.set_s64(-10);
  s.set_f32(11);
  s.set_f64(12);
  s.set_d(3.5);
  s.set_f(-0.25f);
  s.set_b(true);
  absl::StatusOr<Scalars> s_back = c->Call<Scalars>(s, kTimeout);
  ASSERT_TRUE(s_back.ok()) << s_back.status();
  EXPECT_EQ(s_back->SerializeAsString(), s.SerializeAsString());

  // An empty message is an empty body, and parses.
  absl::StatusOr<Pong> empty = c->Call<Pong>(Ping(), kTimeout);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->text(), "");
}

TEST_F(TypedServerTest, ReusesOneMessageObjectPerLoopThread) {
  StartServer();
  auto c = ConnectTyped();
  ASSERT_NE(c, nullptr);
  Ping ping;
  ping.set_text(std::string(100, 'a'));  // beyond SSO: capacity is kept
  ASSERT_TRUE(c->Call<Pong>(ping, kTimeout).ok());
  const Ping* first = last_ping_.load();  // the reply was sent after the store
  ping.set_text("b");
  absl::StatusOr<Pong> second = c->Call<Pong>(ping, kTimeout);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->text(), "b");  // cleared, not appended to
  EXPECT_EQ(last_ping_.load(), first);
}

TEST_F(TypedServerTest, PlainAndTypedClientsOnOneServer) {
  StartServer();
  auto typed = ConnectTyped();
  auto plain = Client::Connect("127.0.0.1", server_->port());
  ASSERT_NE(typed, nullptr);
  ASSERT_TRUE(plain.ok());
  // Interleaved: bytes on the plain client, typed on the other, and a typed
  // request from the plain client (the Go netman case: serialised bytes).
  ASSERT_TRUE((*plain)->Send(kEchoBytesId, "raw bytes").ok());
  Ping ping;
  ping.set_text("typed");
  ASSERT_TRUE(typed->Send(ping).ok());
  ASSERT_TRUE((*plain)->Send(kPingId, ping.SerializeAsString()).ok());
  absl::StatusOr<ReceivedMessage> raw = (*plain)->Receive(kTimeout);
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(raw->id, kEchoBytesId);
  EXPECT_EQ(raw->body, "raw bytes");
  absl::StatusOr<ReceivedMessage> raw_pong = (*plain)->Receive(kTimeout);
  ASSERT_TRUE(raw_pong.ok()) << raw_pong.status();
  EXPECT_EQ(raw_pong->id, kPongId);
  Pong parsed;
  ASSERT_TRUE(parsed.ParseFromString(raw_pong->body));
  EXPECT_EQ(parsed.text(), "typed");
  absl::StatusOr<Pong> pong = typed->Receive<Pong>(kTimeout);
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_EQ(pong->text(), "typed");
  // The typed client also speaks bytes.
  ASSERT_TRUE(typed->raw().Send(kEchoBytesId, "both").ok());
  absl::StatusOr<ReceivedMessage> both = typed->raw().Receive(kTimeout);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->body, "both");
}

TEST_F(TypedServerTest, GroupMiddlewareWrapsTypedRoutes) {
  StartServer();
  auto c = ConnectTyped();
  ASSERT_NE(c, nullptr);
  Admin admin;
  admin.set_command("stats");
  absl::StatusOr<Pong> pong = c->Call<Pong>(admin, kTimeout);
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_EQ(pong->text(), "stats");
  EXPECT_EQ(pong->tag(), "global+group");  // global, then the group's
  // Routes outside the group do not get the group's middleware.
  absl::StatusOr<Pong> plain = c->Call<Pong>(Ping(), kTimeout);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->tag(), "global");
}

TEST_F(TypedServerTest, UnknownIdIsDroppedAndCounted) {
  StartServer();
  auto c = ConnectTyped();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send(kUnknownId, Ping()).ok());
  Ping ping;
  ping.set_text("after");
  absl::StatusOr<Pong> pong = c->Call<Pong>(ping, kTimeout);  // still open
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_EQ(server_->stats().unknown_ids, 1u);
  EXPECT_TRUE(sink_->WaitFor("no route for message id 77", kTimeout));
}

TEST_F(TypedServerTest, UnknownIdClosesWithCloseOnUnknownId) {
  StartServer({.close_on_unknown_id = true});
  auto c = ConnectTyped();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send(kUnknownId, Ping()).ok());
  ASSERT_TRUE(c->raw().WaitForClose(kTimeout).ok());
  std::vector<absl::Status> reasons = WaitForCloses(1);
  ASSERT_EQ(reasons.size(), 1u);
  EXPECT_EQ(reasons[0].code(), absl::StatusCode::kNotFound);
}

TEST_F(TypedServerTest, BadPayloadIsLoggedCountedAndClosesByDefault) {
  StartServer();
  auto c = ConnectTyped();
  auto bystander = ConnectTyped();
  ASSERT_NE(c, nullptr);
  ASSERT_NE(bystander, nullptr);
  // 0xff 0xff: a tag with an unterminated varint.
  ASSERT_TRUE(c->raw().Send(kPingId, "\xff\xff").ok());
  ASSERT_TRUE(c->raw().WaitForClose(kTimeout).ok());
  std::vector<absl::Status> reasons = WaitForCloses(1);
  ASSERT_EQ(reasons.size(), 1u);
  EXPECT_EQ(reasons[0].code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(reasons[0].message().find("does not parse as netman.test.Ping"),
            std::string::npos)
      << reasons[0];
  EXPECT_TRUE(sink_->WaitFor("message id 1: body of 2 bytes does not parse as "
                             "netman.test.Ping; closing the connection",
                             kTimeout));
  EXPECT_EQ(server_->stats().decode_errors, 1u);
  EXPECT_EQ(server_->stats().closed_by_reason["INVALID_ARGUMENT"], 1u);
  EXPECT_EQ(typed_->bad_payloads(), 1u);
  // Other connections are unaffected.
  absl::StatusOr<Pong> pong = bystander->Call<Pong>(Ping(), kTimeout);
  EXPECT_TRUE(pong.ok()) << pong.status();
}

TEST_F(TypedServerTest, BadPayloadIsDroppedWithTheDropPolicy) {
  StartServer({}, {.on_bad_payload = TypedRouter::BadPayloadPolicy::kDrop});
  auto c = ConnectTyped();
  ASSERT_NE(c, nullptr);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c->raw().Send(kBlobId, "\x0a\x05x").ok());
  Ping ping;
  ping.set_text("still here");
  absl::StatusOr<Pong> pong = c->Call<Pong>(ping, kTimeout);
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_EQ(pong->text(), "still here");
  EXPECT_EQ(typed_->bad_payloads(), 3u);
  EXPECT_EQ(server_->stats().decode_errors, 3u);
  EXPECT_TRUE(sink_->WaitFor("does not parse as netman.test.Blob; dropped", kTimeout));
}

TEST_F(TypedServerTest, MessageLargerThanMaxBodyClosesTheConnection) {
  constexpr uint64_t kMaxBody = 100;
  StartServer({.max_body = kMaxBody});
  auto c = ConnectTyped();
  ASSERT_NE(c, nullptr);
  Blob small;
  small.set_data(std::string(kMaxBody - 2, 's'));  // 2 bytes of tag + length
  absl::StatusOr<Blob> back = c->Call<Blob>(small, kTimeout);
  ASSERT_TRUE(back.ok()) << back.status();
  Blob big;
  big.set_data(std::string(kMaxBody, 'b'));
  ASSERT_TRUE(c->Send(big).ok());
  ASSERT_TRUE(c->raw().WaitForClose(kTimeout).ok());
  std::vector<absl::Status> reasons = WaitForCloses(1);
  ASSERT_EQ(reasons.size(), 1u);
  EXPECT_EQ(reasons[0].code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(typed_->bad_payloads(), 0u);
}

TEST_F(TypedServerTest, ClientReportsUnexpectedReplies) {
  StartServer();
  auto c = ConnectTyped();
  ASSERT_NE(c, nullptr);
  // Ping's reply is a Pong, not a Blob.
  ASSERT_TRUE(c->Send(Ping()).ok());
  absl::StatusOr<Blob> wrong = c->Receive<Blob>(kTimeout);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kFailedPrecondition) << wrong.status();
  // ReceiveAny: whatever type the id is declared with.
  Ping ping;
  ping.set_text("any");
  ASSERT_TRUE(c->Send(ping).ok());
  absl::StatusOr<std::unique_ptr<google::protobuf::Message>> any = c->ReceiveAny(kTimeout);
  ASSERT_TRUE(any.ok()) << any.status();
  ASSERT_EQ((*any)->GetDescriptor(), Pong::descriptor());
  EXPECT_EQ(static_cast<const Pong&>(**any).text(), "any");
  // A type with no id cannot be sent by type.
  MessageRegistry empty;
  EXPECT_EQ(empty.IdOf<Pong>().status().code(), absl::StatusCode::kNotFound);
  TypedClient bare(std::move(*Client::Connect("127.0.0.1", server_->port())));
  EXPECT_EQ(bare.Send(ping).code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace netman
