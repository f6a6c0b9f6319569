// Copyright netman authors.
//
// Fuzz target: the whole server input pipeline. Arbitrary bytes, cut into
// reads at fuzzer-chosen points, go from a peer socket through a real
// Connection (a socketpair, its EventLoop driven on the fuzzer thread one
// iteration per read), FramedProtocol (DefaultPacker, max body) and a Router:
//
//   id 0  echo: replies (0, body)
//   id 1  Close(): flush the replies so far, then close
//   id 2  throws: the connection closes with Internal
//   other no route: logged and dropped, the connection stays open
//
// Input: a SplitInput (fuzz/split_input.h). Flag bit 0 selects max_body = 0
// (unlimited) instead of 1024. After the last chunk the peer half-closes and
// reads until the server has closed.
//
// Invariants, for the fuzzer's chunks, the whole stream in one write, and
// (short streams) one byte per read:
//   * the handlers see exactly the messages a reference decoder finds, in
//     order, up to the first Close/throw/oversize frame; unknown ids are
//     dropped; the close reason has the expected code;
//   * the peer received exactly the re-encoding of every echoed message,
//     whatever closed the connection (replies to the messages before a bad
//     frame or a throwing handler are delivered before the close): nothing
//     lost, duplicated or reordered;
//   * all three runs agree (same messages, same reason, same bytes);
//   * the connection's buffers stay proportional to the bytes it holds, never
//     to a declared body length (up to 4 GiB when unlimited);
//   * OnClosed runs exactly once and the Connection is freed afterwards (no
//     reference cycle); ASan/LSan see no memory error or leak.
//
// The Close route re-reads its body after Close(): the body must stay valid
// for the whole handler call even when the message spanned two reads.
//
// NETMAN_FUZZ_LENIENT_ERROR_REPLIES=1 relaxes one check, for bisecting
// against older revisions: before commit c130d6b a protocol error dropped the
// replies queued in the same read, so an error close only had to deliver a
// prefix of the expected echo.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fuzz/check.h"
#include "fuzz/packer_invariants.h"
#include "fuzz/split_input.h"
#include "netman/base/log.h"
#include "netman/base/unique_fd.h"
#include "netman/codec/default_packer.h"
#include "netman/net/connection.h"
#include "netman/net/event_loop.h"
#include "netman/router/router.h"
#include "netman/server/framed_protocol.h"

namespace netman::fuzz {
namespace {

constexpr uint64_t kMaxBody = 1024;
constexpr size_t kMaxStream = 16 * 1024;
constexpr size_t kByteByByteLimit = 256;

bool LenientErrorReplies() {
  static const bool lenient = [] {
    const char* v = std::getenv("NETMAN_FUZZ_LENIENT_ERROR_REPLIES");
    return v != nullptr && std::string_view(v) == "1";
  }();
  return lenient;
}

struct Outcome {
  std::vector<OwnedMessage> handled;  // messages the routes received
  size_t dropped = 0;                 // unknown ids dropped (the loop's counter)
  std::string echoed;                 // bytes the peer received
  absl::Status reason;                // as passed to OnClosed
  int closed = 0;                     // OnClosed calls
};

// Takes every line (kDebug: formatting is exercised) and keeps none.
class DiscardingSink final : public LogSink {
 public:
  void Write(LogLevel, std::string_view) override {}
};

std::string ReadAvailable(int fd, bool& eof) {
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) eof = true;
    return out;
  }
}

class Harness final : public ConnectionEvents {
 public:
  Harness()
      : sink_(std::make_shared<DiscardingSink>()), logger_(sink_, LogLevel::kDebug) {
    auto loop = EventLoop::Create({.poller_factory = CreateDefaultPoller, .logger = logger_});
    NETMAN_FUZZ_CHECK(loop.ok(), "EventLoop::Create: %s", loop.status().ToString().c_str());
    loop_ = std::move(*loop);
    loop_->RunOnce(absl::ZeroDuration());  // binds the loop to this thread
    Add(0, [this](Request& r) {
      Record(r);
      (void)r.connection().Send(0, r.body());
    });
    Add(1, [this](Request& r) {
      Record(r);
      r.connection().Close();
      // The body is documented as valid for the whole handler call.
      NETMAN_FUZZ_CHECK(r.body() == current_->handled.back().body,
                        "the body changed under the handler after Close()");
    });
    Add(2, [this](Request& r) {
      Record(r);
      throw std::runtime_error("boom");
    });
    limited_ = std::make_unique<FramedProtocol>(&packer_, &router_, &logger_,
                                                FramedProtocol::Options{kMaxBody, false});
    unlimited_ = std::make_unique<FramedProtocol>(&packer_, &router_, &logger_,
                                                  FramedProtocol::Options{0, false});
  }

  void OnOpen(Connection&) override {}
  void OnClosed(Connection&, const absl::Status& reason) override {
    NETMAN_FUZZ_CHECK(current_ != nullptr, "OnClosed outside a run");
    ++current_->closed;
    current_->reason = reason;
  }

  // Feeds `chunks` through a fresh connection; see the file comment.
  Outcome Run(const std::vector<std::string_view>& chunks, bool unlimited,
              std::string_view stream) {
    Outcome out;
    current_ = &out;
    const uint64_t dropped_before = loop_->counters().unknown_ids.Get();
    int fds[2];
    NETMAN_FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                                   fds) == 0,
                      "socketpair: %s", std::strerror(errno));
    UniqueFd peer(fds[1]);
    auto connection = std::make_shared<Connection>(loop_.get(), UniqueFd(fds[0]), ++next_id_,
                                                   SocketAddress(), &context_);
    NETMAN_FUZZ_CHECK(
        connection->Start(ProtocolPtr::Shared(unlimited ? unlimited_.get() : limited_.get())).ok(),
        "Connection::Start failed");
    const std::weak_ptr<Connection> weak = connection;

    bool peer_eof = false;
    size_t written = 0;
    size_t frames_end = 0;  // stream offset after the last complete frame written
    size_t held_max = 0;
    auto pump = [&] {
      loop_->RunOnce(absl::ZeroDuration());
      out.echoed += ReadAvailable(peer.get(), peer_eof);
    };
    for (std::string_view chunk : chunks) {
      if (connection->state() != Connection::State::kOpen) break;
      held_max = std::max(held_max, written - frames_end + chunk.size());
      while (!chunk.empty()) {
        ssize_t n = ::send(peer.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
          chunk.remove_prefix(static_cast<size_t>(n));
          written += static_cast<size_t>(n);
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
          pump();
        } else {
          break;  // the server closed
        }
      }
      pump();
      // Where the incomplete frame starts in what was written so far.
      while (true) {
        auto r = DecodeOne(packer_, stream.substr(frames_end, written - frames_end));
        if (!r.ok() || !r->complete) break;
        frames_end += r->consumed;
      }
      if (connection->state() == Connection::State::kOpen) {
        const size_t capacity = connection->buffer_capacity();
        const size_t bound = 4 * held_max + 4 * Buffer::kMinCapacity;
        NETMAN_FUZZ_CHECK(capacity <= bound,
                          "connection holds %zu bytes of buffers for at most %zu bytes "
                          "in flight (bound %zu)",
                          capacity, held_max, bound);
      }
    }
    ::shutdown(peer.get(), SHUT_WR);
    for (int i = 0; i < 1000 && !(out.closed > 0 && peer_eof); ++i) pump();
    NETMAN_FUZZ_CHECK(out.closed == 1, "OnClosed ran %d times", out.closed);
    NETMAN_FUZZ_CHECK(peer_eof, "the peer never saw the server close");
    connection.reset();
    for (int i = 0; i < 4; ++i) loop_->RunOnce(absl::ZeroDuration());
    NETMAN_FUZZ_CHECK(weak.expired(), "the Connection outlived its close (leak or cycle)");
    out.dropped = loop_->counters().unknown_ids.Get() - dropped_before;
    current_ = nullptr;
    return out;
  }

 private:
  void Add(uint32_t id, Handler handler) {
    absl::Status s = router_.AddRouter(id, std::move(handler));
    NETMAN_FUZZ_CHECK(s.ok(), "AddRouter: %s", s.ToString().c_str());
  }
  void Record(Request& r) {
    current_->handled.push_back(OwnedMessage{r.id(), std::string(r.body())});
  }

  std::shared_ptr<DiscardingSink> sink_;
  Logger logger_;
  DefaultPacker packer_;
  Router router_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<FramedProtocol> limited_;
  std::unique_ptr<FramedProtocol> unlimited_;
  ConnectionContext context_{.events = this};
  Outcome* current_ = nullptr;
  uint64_t next_id_ = 0;
};

// What the server must do with `stream`, from the format and the routes.
Outcome Expected(std::string_view stream, uint64_t max_body) {
  static const DefaultPacker packer;
  Outcome out;
  size_t pos = 0;
  while (true) {
    auto r = DecodeOne(packer, stream.substr(pos));
    if (!r->complete) {
      if (max_body != 0 && r->declared_body_length.value_or(0) > max_body) {
        out.reason = absl::ResourceExhaustedError("oversize");
      }
      return out;  // otherwise: peer EOF mid-frame, an orderly close
    }
    if (max_body != 0 && r->message.body.size() > max_body) {
      out.reason = absl::ResourceExhaustedError("oversize");
      return out;
    }
    pos += r->consumed;
    const OwnedMessage m{r->message.id, std::string(r->message.body)};
    switch (m.id) {
      case 0:
        out.handled.push_back(m);
        out.echoed += Encoded(packer, 0, m.body);
        break;
      case 1:
        out.handled.push_back(m);
        return out;
      case 2:
        out.handled.push_back(m);
        out.reason = absl::InternalError("handler for message id 2 threw: boom");
        return out;
      default:
        ++out.dropped;
    }
  }
}

void ExpectOutcome(const Outcome& got, const Outcome& want, const char* what) {
  NETMAN_FUZZ_CHECK(got.handled.size() == want.handled.size(),
                    "%s: handlers saw %zu messages, expected %zu", what, got.handled.size(),
                    want.handled.size());
  for (size_t i = 0; i < want.handled.size(); ++i) {
    NETMAN_FUZZ_CHECK(got.handled[i] == want.handled[i], "%s: message %zu differs", what, i);
  }
  NETMAN_FUZZ_CHECK(got.dropped == want.dropped, "%s: %zu unknown ids dropped, expected %zu",
                    what, got.dropped, want.dropped);
  NETMAN_FUZZ_CHECK(got.reason.code() == want.reason.code(), "%s: closed with %s, expected %s",
                    what, got.reason.ToString().c_str(), want.reason.ToString().c_str());
  if (!LenientErrorReplies()) {
    NETMAN_FUZZ_CHECK(got.echoed == want.echoed,
                      "%s: the peer received %zu bytes, expected the %zu-byte re-encoding "
                      "of the echoed messages",
                      what, got.echoed.size(), want.echoed.size());
  } else {
    NETMAN_FUZZ_CHECK(absl::StartsWith(want.echoed, got.echoed),
                      "%s: the peer received bytes that are not a prefix of the expected "
                      "echo (%zu vs %zu bytes)",
                      what, got.echoed.size(), want.echoed.size());
  }
}

void ExpectSameRun(const Outcome& a, const Outcome& b, const char* what) {
  NETMAN_FUZZ_CHECK(a.reason == b.reason, "%s: closed with %s, whole stream: %s", what,
                    b.reason.ToString().c_str(), a.reason.ToString().c_str());
  NETMAN_FUZZ_CHECK(a.handled == b.handled && a.dropped == b.dropped,
                    "%s: different messages than the whole stream", what);
  if (!LenientErrorReplies()) {
    NETMAN_FUZZ_CHECK(a.echoed == b.echoed, "%s: different bytes than the whole stream", what);
  }
}

}  // namespace
}  // namespace netman::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using netman::fuzz::Chunk;
  static netman::fuzz::Harness* harness = new netman::fuzz::Harness();
  netman::fuzz::SplitInput input = netman::fuzz::ParseSplitInput(data, size);
  if (input.stream.size() > netman::fuzz::kMaxStream) {
    input.stream = input.stream.substr(0, netman::fuzz::kMaxStream);
  }
  const bool unlimited = (input.flags & 1) != 0;
  const netman::fuzz::Outcome want =
      netman::fuzz::Expected(input.stream, unlimited ? 0 : netman::fuzz::kMaxBody);
  const netman::fuzz::Outcome whole =
      harness->Run(Chunk(input.stream, {}), unlimited, input.stream);
  netman::fuzz::ExpectOutcome(whole, want, "whole stream");
  const netman::fuzz::Outcome split =
      harness->Run(Chunk(input.stream, input.chunk_lengths), unlimited, input.stream);
  netman::fuzz::ExpectOutcome(split, want, "fuzzer's chunks");
  netman::fuzz::ExpectSameRun(whole, split, "fuzzer's chunks");
  if (input.stream.size() <= netman::fuzz::kByteByByteLimit) {
    const netman::fuzz::Outcome bytes =
        harness->Run(Chunk(input.stream, {1}), unlimited, input.stream);
    netman::fuzz::ExpectOutcome(bytes, want, "byte by byte");
    netman::fuzz::ExpectSameRun(whole, bytes, "byte by byte");
  }
  return 0;
}
