// Copyright netman authors.
//
// Handlers and middleware tested the way a user would: no sockets, no
// server, no threads, through FakeConnection.
#include "netman/testing/fake_connection.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "netman/codec/default_packer.h"
#include "netman/router/router.h"

namespace netman::testing {
namespace {

using Sent = std::vector<SentMessage>;

// A login middleware: only id 1 (login) passes until the connection has a
// user; anything else is refused with id 99 and the connection closed.
Middleware RequireLogin() {
  return [](Request& r, const Next& next) {
    if (r.id() == 1 || r.connection().user_data().has_value()) {
      r.Set<int>("checked", 1);
      next();
      return;
    }
    (void)r.connection().Send(99, "login first");
    r.connection().Close();
  };
}

class FakeConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(router_.Use(RequireLogin()).ok());
    ASSERT_TRUE(router_.AddRouter(1, [](Request& r) {   // login
      r.connection().user_data() = std::string(r.body());
      (void)r.connection().Send(1, "welcome");
    }).ok());
    ASSERT_TRUE(router_.AddRouter(2, [](Request& r) {   // echo, tagged
      const int* checked = r.Get<int>("checked");
      (void)r.connection().Send(2, std::string(r.body()) + (checked ? "+" : "-"));
    }).ok());
  }
  Router router_;
};

TEST_F(FakeConnectionTest, HandlersRunThroughMiddlewareAndRepliesAreDecoded) {
  auto fake = FakeConnection::Create(router_);
  ASSERT_TRUE(fake.ok()) << fake.status();
  EXPECT_TRUE((*fake)->opened());
  (*fake)->Receive(1, "ada");
  (*fake)->Receive(2, "hi");
  (*fake)->Receive(2, "again");
  EXPECT_EQ((*fake)->TakeSent(), (Sent{{1, "welcome"}, {2, "hi+"}, {2, "again+"}}));
  EXPECT_EQ(std::any_cast<std::string>((*fake)->connection().user_data()), "ada");
  EXPECT_FALSE((*fake)->closed());
}

TEST_F(FakeConnectionTest, MiddlewareCanRefuseAndClose) {
  auto fake = FakeConnection::Create(router_);
  ASSERT_TRUE(fake.ok());
  (*fake)->Receive(2, "sneaky");
  (*fake)->Receive(1, "too late");  // after Close(): not handled
  EXPECT_EQ((*fake)->TakeSent(), (Sent{{99, "login first"}}));
  EXPECT_TRUE((*fake)->closed());
  EXPECT_TRUE((*fake)->close_reason().ok()) << (*fake)->close_reason();
}

TEST_F(FakeConnectionTest, SeveralMessagesInOneReadAndSplitFramesWork) {
  auto fake = FakeConnection::Create(router_);
  ASSERT_TRUE(fake.ok());
  Buffer wire;
  DefaultPacker packer;
  packer.Encode(1, "bob", wire);
  packer.Encode(2, "x", wire);
  const std::string bytes(wire.readable());
  (*fake)->ReceiveBytes(bytes.substr(0, 13));  // 1.5 frames
  EXPECT_EQ((*fake)->TakeSent(), (Sent{{1, "welcome"}}));
  (*fake)->ReceiveBytes(bytes.substr(13));
  EXPECT_EQ((*fake)->TakeSent(), (Sent{{2, "x+"}}));
}

// Behind a transport, reads borrow the loop's input scratch buffer; one
// that lands behind a partial message does not borrow it, and must not
// free it either.
TEST_F(FakeConnectionTest, TheLoopKeepsItsInputScratchAcrossPartialMessages) {
  auto fake = FakeConnection::Create(router_);
  ASSERT_TRUE(fake.ok());
  EventLoop& loop = (*fake)->loop();
  (*fake)->Receive(1, "dan");  // a whole message: the scratch is used, kept
  const size_t kept = loop.input_scratch_capacity();
  EXPECT_GT(kept, 0u);
  Buffer wire;
  DefaultPacker().Encode(2, "split", wire);
  const std::string bytes(wire.readable());
  (*fake)->ReceiveBytes(bytes.substr(0, 5));  // starts a message
  EXPECT_EQ(loop.input_scratch_capacity(), kept);
  (*fake)->ReceiveBytes(bytes.substr(5));  // behind the partial message
  EXPECT_EQ(loop.input_scratch_capacity(), kept);
  EXPECT_EQ((*fake)->TakeSent(), (Sent{{1, "welcome"}, {2, "split+"}}));
}

TEST_F(FakeConnectionTest, ProtocolErrorsCloseWithTheReason) {
  FakeConnection::Options options;
  options.max_body = 8;
  auto fake = FakeConnection::Create(router_, options);
  ASSERT_TRUE(fake.ok());
  (*fake)->Receive(1, "a body that is too long");
  EXPECT_TRUE((*fake)->closed());
  EXPECT_EQ((*fake)->close_reason().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE((*fake)->TakeSent().empty());
}

TEST_F(FakeConnectionTest, PeerCloseEndsTheConnectionAfterPendingReplies) {
  auto fake = FakeConnection::Create(router_);
  ASSERT_TRUE(fake.ok());
  (*fake)->Receive(1, "cy");
  (*fake)->PeerClose();
  EXPECT_EQ((*fake)->TakeSent(), (Sent{{1, "welcome"}}));
  EXPECT_TRUE((*fake)->closed());
  EXPECT_TRUE((*fake)->close_reason().ok());
}

}  // namespace
}  // namespace netman::testing
