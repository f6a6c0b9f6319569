// Copyright netman authors.
//
// FakeConnection: unit-test handlers and middleware without sockets, a
// server or threads. It is a real Connection running the real framed
// protocol and your Router, on an EventLoop with a FakePoller, behind a
// FakeTransport: Receive() plays a message from the peer through decoding,
// middleware, groups and the handler, and TakeSent() returns what the
// handlers sent back, decoded. Close(), user_data(), Request values and
// the output path all behave as on a live connection.
//
// Example:
//   netman::Router router;
//   (void)router.Use(RequireLogin);
//   (void)router.AddRouter(1, Echo);
//   auto fake = netman::testing::FakeConnection::Create(router);
//   (*fake)->Receive(1, "hello");
//   EXPECT_THAT((*fake)->TakeSent(), ElementsAre(SentMessage{1, "hello"}));
//   EXPECT_FALSE((*fake)->closed());
//
// Threading: the thread that calls Create() runs the connection's loop; use
// it from that thread only.
#ifndef NETMAN_TESTING_FAKE_CONNECTION_H_
#define NETMAN_TESTING_FAKE_CONNECTION_H_

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "netman/base/log.h"
#include "netman/codec/packer.h"
#include "netman/net/connection.h"
#include "netman/net/connection_context.h"
#include "netman/net/event_loop.h"
#include "netman/router/router.h"
#include "netman/server/framed_protocol.h"
#include "netman/server/server_options.h"
#include "netman/testing/fake_transport.h"

namespace netman::testing {

// A message the connection sent to the peer.
struct SentMessage {
  uint32_t id = 0;
  std::string body;
  bool operator==(const SentMessage& other) const = default;
};
std::ostream& operator<<(std::ostream& os, const SentMessage& m);

class FakeConnection final : private ConnectionEvents {
  struct Token {  // private: use Create()
    explicit Token() = default;
  };

 public:
  struct Options {
    // Framing; null means DefaultPacker.
    std::shared_ptr<const Packer> packer;
    uint64_t max_body = kDefaultMaxBody;
    bool close_on_unknown_id = false;
    ConnectionLimits limits;
    Logger logger;
    uint64_t id = 1;
    SocketAddress peer;
  };

  explicit FakeConnection(Token);

  // `router` must outlive the fake.
  static absl::StatusOr<std::unique_ptr<FakeConnection>> Create(const Router& router,
                                                               Options options);
  static absl::StatusOr<std::unique_ptr<FakeConnection>> Create(const Router& router) {
    return Create(router, Options());
  }
  ~FakeConnection() override;

  // The peer sends message (id, body), framed with the packer: it is read,
  // dispatched, and what the handlers queued is flushed.
  void Receive(uint32_t id, std::string_view body);
  // The peer sends raw bytes (partial or malformed frames too).
  void ReceiveBytes(std::string_view bytes);
  // The peer finishes sending (EOF).
  void PeerClose();
  // Runs posted tasks and due timers (e.g. after the test itself called
  // Send() or Close() on the connection).
  void RunPending();

  // Messages sent to the peer since the last call, decoded with the packer.
  std::vector<SentMessage> TakeSent();
  // The same as raw bytes (a partial frame included).
  std::string TakeSentBytes();

  Connection& connection() { return *connection_; }
  const ConnectionPtr& shared_connection() const { return connection_; }
  EventLoop& loop() { return *loop_; }
  // Whether OnOpen/OnClose-equivalents happened, and the close reason.
  bool opened() const { return opened_; }
  bool closed() const { return closed_; }
  const absl::Status& close_reason() const { return close_reason_; }

 private:
  void OnOpen(Connection& connection) override { opened_ = true; }
  void OnClosed(Connection& connection, const absl::Status& reason) override {
    closed_ = true;
    close_reason_ = reason;
  }
  void Read();

  std::shared_ptr<const Packer> packer_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<FramedProtocol> protocol_;
  Logger logger_;
  ConnectionContext context_;
  FakeTransport* transport_ = nullptr;  // owned by connection_
  ConnectionPtr connection_;
  std::string sent_;  // bytes taken from the transport, not yet decoded
  bool opened_ = false;
  bool closed_ = false;
  absl::Status close_reason_;
};

}  // namespace netman::testing

#endif  // NETMAN_TESTING_FAKE_CONNECTION_H_
