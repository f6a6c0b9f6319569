// Copyright netman authors.
#include "netman/udp/session_table.h"

#include <memory>

#include "gtest/gtest.h"
#include "netman/base/unique_fd.h"
#include "netman/net/event_loop.h"
#include "netman/poller/poller.h"

namespace netman {
namespace {

class SessionTableTest : public ::testing::Test {
 protected:
  SessionTableTest() {
    EventLoop::Options options;
    options.poller_factory = CreateDefaultPoller;
    loop_ = std::move(*EventLoop::Create(std::move(options)));
  }
  // A socketless connection (never started: the table only holds it).
  ConnectionPtr Session(uint64_t id) {
    return std::make_shared<Connection>(loop_.get(), UniqueFd(), id, SocketAddress(), &context_);
  }
  static PeerKey Key(const char* address) { return PeerKey::From(*SocketAddress::Parse(address)); }

  std::unique_ptr<EventLoop> loop_;
  ConnectionContext context_;
};

TEST_F(SessionTableTest, KeysDistinguishAddressPortAndFamily) {
  EXPECT_EQ(Key("127.0.0.1:5"), Key("127.0.0.1:5"));
  EXPECT_FALSE(Key("127.0.0.1:5") == Key("127.0.0.1:6"));
  EXPECT_FALSE(Key("127.0.0.1:5") == Key("127.0.0.2:5"));
  EXPECT_FALSE(Key("[::1]:5") == Key("[::2]:5"));
  EXPECT_FALSE(Key("0.0.0.0:5") == Key("[::]:5"));
}

TEST_F(SessionTableTest, PopOldestFollowsActivityNotInsertionOrder) {
  SessionTable table(3);
  table.Insert(Key("127.0.0.1:1"), Session(1));
  table.Insert(Key("127.0.0.1:2"), Session(2));
  table.Insert(Key("127.0.0.1:3"), Session(3));
  EXPECT_TRUE(table.full());
  ASSERT_NE(table.Touch(Key("127.0.0.1:1")), nullptr);  // 1 is now the newest
  EXPECT_EQ(table.Touch(Key("127.0.0.1:9")), nullptr);
  EXPECT_EQ(table.PopOldest()->id(), 2u);
  EXPECT_EQ(table.PopOldest()->id(), 3u);
  EXPECT_EQ(table.PopOldest()->id(), 1u);
  EXPECT_EQ(table.PopOldest(), nullptr);
  EXPECT_EQ(table.size(), 0u);
}

TEST_F(SessionTableTest, RemoveOnlyRemovesTheSameSession) {
  SessionTable table(4);
  ConnectionPtr old = Session(1);
  table.Insert(Key("127.0.0.1:1"), old);
  table.Insert(Key("127.0.0.1:1"), Session(2));  // the peer's new session
  table.Remove(Key("127.0.0.1:1"), old.get());     // the old one's late close
  ASSERT_NE(table.Touch(Key("127.0.0.1:1")), nullptr);
  EXPECT_EQ(table.Touch(Key("127.0.0.1:1"))->id(), 2u);
  table.Remove(Key("127.0.0.1:1"), table.Touch(Key("127.0.0.1:1")));
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.PopOldest(), nullptr);
}

}  // namespace
}  // namespace netman
