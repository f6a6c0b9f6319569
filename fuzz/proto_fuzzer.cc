// Copyright netman authors.
//
// Fuzz target: protobuf framing and typed dispatch. Arbitrary bytes, cut
// into reads at fuzzer-chosen points, go from the peer through a real
// Connection, the framed protocol (DefaultPacker, max body kMaxBody), the
// Router and a TypedRouter (netman/testing's FakeConnection):
//
//   id 1  Blob     -> echoed back as a Blob (id 1), re-serialised
//   id 2  Scalars  -> echoed back as Scalars (id 2)
//   id 3  Ping     -> Pong (id 4) with the ping's text
//   other          no route: dropped
//
// Input: a SplitInput (fuzz/split_input.h). Flag bit 0 selects the
// TypedRouter's bad-payload policy: 0 close (the default), 1 drop.
//
// Invariants:
//   * what the handlers answer is exactly what a reference (a fresh message
//     of the id's type parsed from each complete frame, as the DefaultPacker
//     format says) predicts, in order: the per-thread reused message objects
//     carry nothing from one message to the next;
//   * a body that does not parse closes the connection with InvalidArgument
//     (close policy; replies still queued may be dropped, so the peer gets a
//     prefix) or is skipped (drop policy); a declared body over kMaxBody
//     closes with ResourceExhausted; otherwise the connection stays open;
//   * the TypedRouter's bad_payloads() and the loop's decode_errors count
//     every bad body;
//   * EncodeProto(DefaultPacker) frames decode back to the same message;
// and ASan/UBSan see no memory error or leak.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "fuzz/check.h"
#include "fuzz/split_input.h"
#include "fuzz/wire_reference.h"
#include "netman/base/log.h"
#include "netman/codec/default_packer.h"
#include "netman/codec/protobuf_codec.h"
#include "netman/proto/test_messages.pb.h"
#include "netman/proto/typed_router.h"
#include "netman/router/router.h"
#include "netman/testing/fake_connection.h"

NETMAN_FUZZ_NO_COVERAGE_BEGIN

namespace netman::fuzz {
namespace {

constexpr uint64_t kMaxBody = 1024;
constexpr uint32_t kBlobId = 1;
constexpr uint32_t kScalarsId = 2;
constexpr uint32_t kPingId = 3;
constexpr uint32_t kPongId = 4;

class DiscardingSink final : public LogSink {
 public:
  void Write(LogLevel, std::string_view) override {}
};

// One Router + TypedRouter per policy, built once.
struct Service {
  explicit Service(TypedRouter::BadPayloadPolicy policy)
      : typed(router, {.on_bad_payload = policy}) {
    NETMAN_FUZZ_CHECK(typed.Declare<test::Pong>(kPongId).ok(), "declare Pong");
    NETMAN_FUZZ_CHECK(typed.AddRouter<test::Blob>(kBlobId, [this](Request& r, const test::Blob& m) {
      (void)typed.Send(r.connection(), m);
    }).ok(), "route Blob");
    NETMAN_FUZZ_CHECK(typed.AddRouter<test::Scalars>(
        kScalarsId, [this](Request& r, const test::Scalars& m) {
          (void)typed.Send(r.connection(), m);
        }).ok(), "route Scalars");
    NETMAN_FUZZ_CHECK(typed.AddRouter<test::Ping>(kPingId, [this](Request& r, const test::Ping& m) {
      test::Pong pong;
      pong.set_text(m.text());
      (void)typed.Send(r.connection(), pong);
    }).ok(), "route Ping");
    router.Freeze();
  }
  Router router;
  TypedRouter typed;
};

struct Expected {
  std::vector<testing::SentMessage> replies;
  size_t bad = 0;
  absl::StatusCode close = absl::StatusCode::kOk;  // kOk: stays open
};

// The reference: the DefaultPacker format and fresh messages.
Expected Reference(std::string_view stream, bool drop_bad) {
  Expected e;
  for (size_t pos = 0;;) {
    const std::string_view rest = stream.substr(pos);
    if (rest.size() < DefaultPacker::kHeaderSize) break;
    const uint32_t length = Le32(rest);
    if (length > kMaxBody) {
      e.close = absl::StatusCode::kResourceExhausted;
      break;
    }
    if (rest.size() - DefaultPacker::kHeaderSize < length) break;
    const uint32_t id = Le32(rest.substr(4));
    const std::string_view body = rest.substr(DefaultPacker::kHeaderSize, length);
    pos += DefaultPacker::kHeaderSize + length;
    std::unique_ptr<google::protobuf::Message> message;
    uint32_t reply_id = id;
    if (id == kBlobId) message = std::make_unique<test::Blob>();
    if (id == kScalarsId) message = std::make_unique<test::Scalars>();
    if (id == kPingId) message = std::make_unique<test::Ping>();
    if (message == nullptr) continue;  // no route
    if (!ParseProto(body, *message).ok()) {
      ++e.bad;
      if (drop_bad) continue;
      e.close = absl::StatusCode::kInvalidArgument;
      break;
    }
    if (id == kPingId) {
      test::Pong pong;
      pong.set_text(static_cast<test::Ping&>(*message).text());
      message = std::make_unique<test::Pong>(pong);
      reply_id = kPongId;
    }
    e.replies.push_back({reply_id, message->SerializeAsString()});
  }
  return e;
}

void CheckEncodeRoundTrip(const google::protobuf::Message& message, uint32_t id) {
  static const DefaultPacker packer;
  Buffer out;
  NETMAN_FUZZ_CHECK(EncodeProto(packer, id, message, out).ok(), "EncodeProto failed");
  DecodeResult r;
  NETMAN_FUZZ_CHECK(packer.Decode(out.readable(), &r).ok() && r.complete &&
                        r.consumed == out.readable().size() && r.message.id == id,
                    "EncodeProto frame does not decode");
  NETMAN_FUZZ_CHECK(r.message.body == message.SerializeAsString(),
                    "EncodeProto body differs from SerializeAsString");
}

void Run(const uint8_t* data, size_t size) {
  static Service close_service(TypedRouter::BadPayloadPolicy::kClose);
  static Service drop_service(TypedRouter::BadPayloadPolicy::kDrop);
  const SplitInput input = ParseSplitInput(data, size);
  const bool drop_bad = (input.flags & 1) != 0;
  Service& service = drop_bad ? drop_service : close_service;

  testing::FakeConnection::Options options;
  options.max_body = kMaxBody;
  options.logger = Logger(std::make_shared<DiscardingSink>(), LogLevel::kDebug);
  auto fake = testing::FakeConnection::Create(service.router, options);
  NETMAN_FUZZ_CHECK(fake.ok(), "FakeConnection: %s", fake.status().ToString().c_str());
  const uint64_t bad_before = service.typed.bad_payloads();

  Chunker chunks(input.stream, input.chunk_lengths);
  for (std::string_view chunk; chunks.Next(chunk) && !(*fake)->closed();) {
    (*fake)->ReceiveBytes(chunk);
  }
  std::vector<testing::SentMessage> sent = (*fake)->TakeSent();
  const Expected e = Reference(input.stream, drop_bad);

  NETMAN_FUZZ_CHECK(service.typed.bad_payloads() - bad_before == e.bad,
                    "bad payloads: %zu counted, %zu expected",
                    static_cast<size_t>(service.typed.bad_payloads() - bad_before), e.bad);
  NETMAN_FUZZ_CHECK((*fake)->loop().counters().decode_errors.Get() ==
                        e.bad + (e.close == absl::StatusCode::kResourceExhausted ? 1 : 0),
                    "decode_errors %zu", static_cast<size_t>(
                        (*fake)->loop().counters().decode_errors.Get()));
  if (e.close == absl::StatusCode::kOk) {
    NETMAN_FUZZ_CHECK(!(*fake)->closed(), "closed: %s",
                      (*fake)->close_reason().ToString().c_str());
  } else {
    NETMAN_FUZZ_CHECK((*fake)->closed() && (*fake)->close_reason().code() == e.close,
                      "close reason %s, expected code %d",
                      (*fake)->close_reason().ToString().c_str(), static_cast<int>(e.close));
  }
  // ForceClose drops replies still queued: a prefix on a bad-payload close.
  const bool prefix_ok = e.close == absl::StatusCode::kInvalidArgument;
  NETMAN_FUZZ_CHECK(prefix_ok ? sent.size() <= e.replies.size() : sent.size() == e.replies.size(),
                    "%zu replies, expected %zu", sent.size(), e.replies.size());
  for (size_t i = 0; i < sent.size(); ++i) {
    NETMAN_FUZZ_CHECK(sent[i] == e.replies[i], "reply %zu (id %u) differs", i,
                      static_cast<unsigned>(sent[i].id));
  }
  for (const testing::SentMessage& reply : e.replies) {
    if (reply.id == kScalarsId) {
      test::Scalars s;
      NETMAN_FUZZ_CHECK(s.ParseFromString(reply.body), "reply does not parse");
      CheckEncodeRoundTrip(s, reply.id);
    }
  }
}

}  // namespace
}  // namespace netman::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  netman::fuzz::Run(data, size);
  return 0;
}

NETMAN_FUZZ_NO_COVERAGE_END
