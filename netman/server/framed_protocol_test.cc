// Copyright netman authors.
//
// FramedProtocol + Connection over a socketpair, driven one loop iteration at
// a time on the test thread: each write below is read by the server side in
// its own read(2), so splits land exactly where the test puts them.
#include "netman/testing/frames.h"
#include "netman/server/framed_protocol.h"

#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "netman/base/testing/capturing_log_sink.h"
#include "netman/codec/default_packer.h"
#include "netman/net/connection.h"
#include "netman/net/event_loop.h"

namespace netman {
namespace {

using testing::Frame;

class FramedProtocolTest : public ::testing::Test, public ConnectionEvents {
 protected:
  void OnOpen(Connection&) override { ++opened_; }
  void OnClosed(Connection&, const absl::Status& reason) override {
    closed_.push_back(reason);
  }

  void SetUp() override { Build({}); }

  void Build(FramedProtocol::Options options) {
    if (connection_ != nullptr) connection_->ForceClose(absl::CancelledError("rebuild"));
    Drain();
    connection_.reset();
    protocol_.reset();
    loop_.reset();
    sink_ = std::make_shared<CapturingLogSink>();
    logger_ = Logger(sink_, LogLevel::kDebug);
    auto loop = EventLoop::Create({.poller_factory = CreateDefaultPoller});
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(*loop);
    loop_->RunOnce(absl::ZeroDuration());  // bind to this thread
    router_ = std::make_unique<Router>();
    ASSERT_TRUE(router_->AddRouter(0, [this](Request& r) {
      received_.push_back({r.id(), std::string(r.body())});
      (void)r.connection().Send(0, r.body());
    }).ok());
    ASSERT_TRUE(router_->AddRouter(1, [this](Request& r) {
      received_.push_back({r.id(), std::string(r.body())});
      r.connection().Close();
    }).ok());
    ASSERT_TRUE(router_->AddRouter(2, [](Request&) {
      throw std::runtime_error("boom");
    }).ok());
    // Closes first, then still reads its body (which must stay valid).
    ASSERT_TRUE(router_->AddRouter(3, [this](Request& r) {
      if (r.body() == "force") {
        r.connection().ForceClose(absl::AbortedError("handler"));
      } else {
        r.connection().Close();
      }
      received_.push_back({r.id(), std::string(r.body())});
    }).ok());
    protocol_ = std::make_unique<FramedProtocol>(&packer_, router_.get(), &logger_, options);
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    peer_.reset(fds[1]);
    connection_ = std::make_shared<Connection>(loop_.get(), UniqueFd(fds[0]), 1,
                                               SocketAddress(), &context_);
    opened_ = 0;
    ASSERT_TRUE(connection_->Start(ProtocolPtr::Shared(protocol_.get())).ok());
    EXPECT_EQ(opened_, 1);  // framed: ready at once
    received_.clear();
    closed_.clear();
  }

  void Drain() {
    if (loop_ == nullptr) return;
    for (int i = 0; i < 4; ++i) loop_->RunOnce(absl::ZeroDuration());
  }

  // Writes `bytes` from the peer and lets the server read them. Large
  // writes go in pieces, with the server reading (and the peer collecting
  // replies into `peer_received_`) in between.
  void PeerWrite(std::string_view bytes) {
    do {  // an empty write still runs the loop once
      ssize_t n = bytes.empty() ? 0 : ::write(peer_.get(), bytes.data(), bytes.size());
      if (n < 0) {
        ASSERT_EQ(errno, EAGAIN);
        n = 0;
      }
      bytes.remove_prefix(static_cast<size_t>(n));
      loop_->RunOnce(absl::Seconds(5));
      Drain();
      peer_received_ += PeerReadAll();
    } while (!bytes.empty());
  }

  // Everything the server has sent to the peer so far.
  std::string PeerReceived() {
    peer_received_ += PeerReadAll();
    return std::exchange(peer_received_, std::string());
  }

  std::string PeerReadAll() {
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = ::recv(peer_.get(), buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

  struct Got {
    uint32_t id;
    std::string body;
    bool operator==(const Got& o) const { return id == o.id && body == o.body; }
  };

  DefaultPacker packer_;
  std::shared_ptr<CapturingLogSink> sink_;
  Logger logger_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<FramedProtocol> protocol_;
  ConnectionPtr connection_;
  UniqueFd peer_;
  std::vector<Got> received_;
  std::vector<absl::Status> closed_;
  int opened_ = 0;
  ConnectionContext context_{.events = this};
  std::string peer_received_;
};

TEST_F(FramedProtocolTest, SplitAtEveryByteOffsetDeliversOneMessage) {
  const std::string frame = Frame(0, "split me");
  for (size_t cut = 1; cut < frame.size(); ++cut) {
    received_.clear();
    PeerWrite(frame.substr(0, cut));
    EXPECT_TRUE(received_.empty()) << "cut " << cut;
    PeerWrite(frame.substr(cut));
    ASSERT_EQ(received_.size(), 1u) << "cut " << cut;
    EXPECT_EQ(received_[0], (Got{0, "split me"}));
    EXPECT_EQ(PeerReceived(), frame) << "cut " << cut;
  }
  EXPECT_TRUE(connection_->is_open());
}

TEST_F(FramedProtocolTest, ByteByByteAcrossSeveralMessages) {
  std::string wire = Frame(0, "") + Frame(0, "a") + Frame(0, std::string(300, 'x'));
  for (char c : wire) PeerWrite(std::string(1, c));
  ASSERT_EQ(received_.size(), 3u);
  EXPECT_EQ(received_[0], (Got{0, ""}));
  EXPECT_EQ(received_[1], (Got{0, "a"}));
  EXPECT_EQ(received_[2], (Got{0, std::string(300, 'x')}));
  EXPECT_EQ(PeerReceived(), wire);
}

TEST_F(FramedProtocolTest, RepliesToOneReadLeaveInOneWrite) {
  std::string wire;
  for (int i = 0; i < 50; ++i) wire += Frame(0, std::to_string(i));
  PeerWrite(wire);
  EXPECT_EQ(received_.size(), 50u);
  // All 50 replies were written before the loop iteration ended.
  EXPECT_EQ(PeerReceived(), wire);
  EXPECT_EQ(connection_->output_bytes(), 0u);
}

TEST_F(FramedProtocolTest, IdleConnectionHoldsNoBuffers) {
  PeerWrite(Frame(0, std::string(5000, 'q')));
  EXPECT_EQ(PeerReceived().size(), 8u + 5000u);
  EXPECT_EQ(connection_->buffer_capacity(), 0u);
  // A partial message is kept, sized to what arrived, not to what the header
  // declares.
  std::string frame = Frame(0, std::string(1 << 20, 'z'));
  PeerWrite(frame.substr(0, 100));
  EXPECT_GT(connection_->buffer_capacity(), 0u);
  EXPECT_LT(connection_->buffer_capacity(), 4096u);
  PeerWrite(frame.substr(100));
  ASSERT_EQ(received_.size(), 2u);
  EXPECT_EQ(received_[1].body.size(), 1u << 20);
  for (int i = 0; i < 1000 && connection_->output_bytes() > 0; ++i) PeerWrite("");
  EXPECT_EQ(PeerReceived(), frame);
  EXPECT_EQ(connection_->buffer_capacity(), 0u);
}

TEST_F(FramedProtocolTest, OversizeHeaderClosesBeforeBodyArrives) {
  Build({/*max_body=*/1000, /*close_on_unknown_id=*/false});
  PeerWrite(Frame(0, std::string(1000, 'k')));  // exactly the limit is fine
  ASSERT_EQ(received_.size(), 1u);
  PeerWrite(Frame(0, std::string(1001, 'k')).substr(0, 8));  // header only
  ASSERT_EQ(closed_.size(), 1u);
  EXPECT_EQ(closed_[0].code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(closed_[0].message(),
            "message body of 1001 bytes exceeds the limit of 1000");
  EXPECT_FALSE(connection_->is_open());
}

TEST_F(FramedProtocolTest, UnknownIdIsLoggedAndDroppedConnectionStaysOpen) {
  PeerWrite(Frame(77, "who?") + Frame(0, "still here"));
  EXPECT_TRUE(sink_->Contains("no route for message id 77"));
  ASSERT_EQ(received_.size(), 1u);
  EXPECT_EQ(received_[0], (Got{0, "still here"}));
  EXPECT_TRUE(connection_->is_open());
  EXPECT_TRUE(closed_.empty());
}

TEST_F(FramedProtocolTest, UnknownIdClosesWhenConfigured) {
  Build({/*max_body=*/0, /*close_on_unknown_id=*/true});
  PeerWrite(Frame(77, "who?"));
  ASSERT_EQ(closed_.size(), 1u);
  EXPECT_EQ(closed_[0].code(), absl::StatusCode::kNotFound);
}

TEST_F(FramedProtocolTest, CloseFromHandlerStopsLaterMessagesAndFlushesFirst) {
  PeerWrite(Frame(0, "before") + Frame(1, "bye") + Frame(0, "after"));
  ASSERT_EQ(received_.size(), 2u);
  EXPECT_EQ(received_[1], (Got{1, "bye"}));
  ASSERT_EQ(closed_.size(), 1u);
  EXPECT_TRUE(closed_[0].ok());
  EXPECT_EQ(PeerReceived(), Frame(0, "before"));  // flushed, then EOF
}

TEST_F(FramedProtocolTest, BodyStaysValidAfterCloseInsideHandler) {
  for (const char* body : {"graceful", "force"}) {
    Build({});
    const std::string frame = Frame(3, body);
    PeerWrite(frame.substr(0, 5));  // split: the body ends up in input_
    PeerWrite(frame.substr(5));
    ASSERT_EQ(received_.size(), 1u);
    EXPECT_EQ(received_[0], (Got{3, body}));
    ASSERT_EQ(closed_.size(), 1u);
    EXPECT_EQ(connection_->buffer_capacity(), 0u);
  }
}

TEST_F(FramedProtocolTest, RepliesBeforeABadFrameInTheSameReadAreDelivered) {
  Build({/*max_body=*/100, /*close_on_unknown_id=*/false});
  // One read: two good messages, then a header declaring too much.
  PeerWrite(Frame(0, "a") + Frame(0, "b") + Frame(0, std::string(101, 'x')).substr(0, 8));
  ASSERT_EQ(closed_.size(), 1u);
  EXPECT_EQ(closed_[0].code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(PeerReceived(), Frame(0, "a") + Frame(0, "b"));
  // And likewise before a handler that throws.
  Build({});
  PeerWrite(Frame(0, "one") + Frame(2, "") + Frame(0, "never"));
  ASSERT_EQ(closed_.size(), 1u);
  EXPECT_EQ(closed_[0].code(), absl::StatusCode::kInternal);
  EXPECT_EQ(PeerReceived(), Frame(0, "one"));
}

TEST_F(FramedProtocolTest, ThrowingHandlerClosesOnlyThatConnection) {
  PeerWrite(Frame(2, ""));
  ASSERT_EQ(closed_.size(), 1u);
  EXPECT_EQ(closed_[0].code(), absl::StatusCode::kInternal);
  EXPECT_EQ(closed_[0].message(), "handler for message id 2 threw: boom");
}

TEST_F(FramedProtocolTest, PeerHalfCloseStillGetsPendingReplies) {
  std::string wire = Frame(0, "one") + Frame(0, "two");
  ASSERT_EQ(::write(peer_.get(), wire.data(), wire.size()),
            static_cast<ssize_t>(wire.size()));
  ASSERT_EQ(::shutdown(peer_.get(), SHUT_WR), 0);
  for (int i = 0; i < 6; ++i) loop_->RunOnce(absl::Milliseconds(100));
  EXPECT_EQ(PeerReadAll(), wire);
  ASSERT_EQ(closed_.size(), 1u);
  EXPECT_TRUE(closed_[0].ok());
}

TEST_F(FramedProtocolTest, OnClosedRunsOnceWhateverClosesIt) {
  connection_->ForceClose(absl::AbortedError("first"));
  connection_->Close();
  connection_->ForceClose(absl::AbortedError("second"));
  Drain();
  ASSERT_EQ(closed_.size(), 1u);
  EXPECT_EQ(closed_[0].message(), "first");
  EXPECT_EQ(connection_->Send(0, "late").code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace netman
