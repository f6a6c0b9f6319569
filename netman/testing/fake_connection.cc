// Copyright netman authors.
#include "netman/testing/fake_connection.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "netman/codec/default_packer.h"
#include "netman/testing/fake_poller.h"

namespace netman::testing {

std::ostream& operator<<(std::ostream& os, const SentMessage& m) {
  return os << "{id " << m.id << ", \"" << absl::CEscape(m.body) << "\"}";
}

FakeConnection::FakeConnection(Token) {}

absl::StatusOr<std::unique_ptr<FakeConnection>> FakeConnection::Create(const Router& router,
                                                                      Options options) {
  auto fake = std::make_unique<FakeConnection>(Token{});
  fake->packer_ = options.packer ? std::move(options.packer)
                                 : std::make_shared<const DefaultPacker>();
  fake->logger_ = options.logger;
  absl::StatusOr<std::unique_ptr<EventLoop>> loop =
      EventLoop::Create({.poller_factory = FakePoller::Create, .logger = options.logger});
  if (!loop.ok()) return loop.status();
  fake->loop_ = std::move(*loop);
  fake->loop_->RunOnce(absl::ZeroDuration());  // this thread runs the loop
  fake->protocol_ = std::make_unique<FramedProtocol>(
      fake->packer_.get(), &router, &fake->logger_,
      FramedProtocol::Options{options.max_body, options.close_on_unknown_id});
  fake->context_.events = fake.get();
  fake->context_.limits = options.limits;
  auto transport = std::make_unique<FakeTransport>();
  fake->transport_ = transport.get();
  fake->connection_ = std::make_shared<Connection>(fake->loop_.get(), UniqueFd(), options.id,
                                                   options.peer, &fake->context_,
                                                   std::move(transport));
  absl::Status started = fake->connection_->Start(ProtocolPtr::Shared(fake->protocol_.get()));
  if (!started.ok()) return started;
  return fake;
}

FakeConnection::~FakeConnection() {
  if (connection_ != nullptr && connection_->state() != Connection::State::kClosed) {
    connection_->ForceClose(absl::CancelledError("FakeConnection destroyed"));
  }
  RunPending();
}

void FakeConnection::Receive(uint32_t id, std::string_view body) {
  Buffer frame;
  packer_->Encode(id, body, frame);
  ReceiveBytes(frame.readable());
}

void FakeConnection::ReceiveBytes(std::string_view bytes) {
  transport_->Inject(bytes);
  Read();
}

void FakeConnection::PeerClose() {
  transport_->InjectEof();
  Read();
}

void FakeConnection::Read() {
  if (connection_->state() != Connection::State::kClosed) {
    connection_->OnIoEvent(kPollReadable);
  }
  RunPending();
}

void FakeConnection::RunPending() {
  // Tasks may post tasks (a flush, then OnClosed): run until quiet.
  for (int i = 0; i < EventLoop::kMaxCleanupRounds; ++i) {
    loop_->RunOnce(absl::ZeroDuration());
  }
}

std::string FakeConnection::TakeSentBytes() {
  RunPending();
  sent_ += transport_->TakeWritten();
  return std::exchange(sent_, std::string());
}

std::vector<SentMessage> FakeConnection::TakeSent() {
  RunPending();
  sent_ += transport_->TakeWritten();
  std::vector<SentMessage> out;
  std::string_view rest = sent_;
  DecodeResult r;
  while (packer_->Decode(rest, &r).ok() && r.complete) {
    out.push_back(SentMessage{r.message.id, std::string(r.message.body)});
    rest.remove_prefix(r.consumed);
  }
  sent_ = std::string(rest);
  return out;
}

}  // namespace netman::testing
