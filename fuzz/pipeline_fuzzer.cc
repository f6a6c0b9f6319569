// Copyright netman authors.
//
// Fuzz target: the whole server input pipeline. Arbitrary bytes, cut into
// reads at fuzzer-chosen points, go from the peer through a real Connection,
// FramedProtocol (DefaultPacker, max body) and a Router:
//
//   id 0  echo: replies (0, body)
//   id 1  Close(): flush the replies so far, then close
//   id 2  throws: the connection closes with Internal
//   other no route: logged and dropped, the connection stays open
//
// Input: a SplitInput (fuzz/split_input.h). Flag bit 0 selects max_body = 0
// (unlimited) instead of 1024. A delivery sends the stream in reads cut as
// the input's chunk lengths say (the whole stream in one read when it has
// none; byte by byte when they are all 1); after the last read the peer
// half-closes (EOF), and the delivery ends once the server has closed.
//
// Invariants, for every delivery:
//   * the handlers see exactly the messages a reference decoder finds, in
//     order, up to the first Close/throw/oversize frame; unknown ids are
//     dropped (the loop's counter); the close reason has the expected code;
//   * the peer received exactly the re-encoding of every echoed message,
//     whatever closed the connection (replies to the messages before a bad
//     frame or a throwing handler are delivered before the close): nothing
//     lost, duplicated or reordered;
//   * the connection's buffers stay proportional to the bytes it holds, never
//     to a declared body length (up to 4 GiB when unlimited);
//   * the server closes the connection (CloseNow: its socket would be shut;
//     over a socketpair the peer sees EOF), OnClosed runs exactly once, and
//     the Connection is freed afterwards (no reference cycle); ASan/LSan see
//     no memory error or leak;
//   * the Close route re-reads its body after Close(): the body must stay
//     valid for the whole handler call even when the message spanned two
//     reads;
// and deliveries of the same input agree: same messages, same reason (the
// whole Status), same bytes.
//
// Which deliveries run:
//   * Exhaustive mode (NETMAN_FUZZ_EXHAUSTIVE=1; the corpus replay test
//     :pipeline_corpus_test sets it, so every `bazel test` runs it on every
//     committed input and its mutations): the whole stream in one read, the
//     input's chunks, one byte per read (streams up to kByteByByteLimit
//     bytes), and the input's chunks over a real socketpair, all compared.
//   * Fuzzing (libFuzzer): one delivery per input, the input's own chunks,
//     at most kMaxReads reads (the last then takes the rest of the stream),
//     compared with the reference decoder; for one input in
//     kSocketpairEvery (chosen by a hash of the input, so a finding replays)
//     the same delivery also goes over a real socketpair and the two are
//     compared. The whole-stream and byte-by-byte deliveries are chunkings
//     the fuzzer makes itself (no chunk lengths; lengths {1}). Why not all
//     of them for every input: under ASan+UBSan+coverage a read through
//     the pipeline costs ~1.2 us and a message ~0.7 us, so three deliveries
//     per input (hundreds of reads for long streams cut small) cap the
//     fuzzer near 4,000 inputs/s; one bounded delivery runs it at over
//     10,000 (docs/ROBUSTNESS.md).
//
// How a delivery runs: the EventLoop, the Router and both FramedProtocols
// are built once; a delivery makes only a new Connection over a
// ChunkTransport (netman/testing's FakeTransport, but reading the input in
// place). Each chunk is read with connection->OnIoEvent(kPollReadable), then
// the loop runs one iteration (its posted tasks), as an epoll loop would
// after a readable event. A connection with a transport runs the same code
// after the read as a socket connection: ProcessInput (partial messages kept
// in the connection's own input buffer, the input cap, the loan of the loop's
// output buffer), FramedProtocol, dispatch, Close/ForceClose/protocol-error
// handling, Flush, HandlePeerClosed, CloseNow. What it does not run is the
// plain connection's system calls: read() into the loop's buffer, readv()
// into the spare room of a partial message plus the loop's buffer (then
// Commit/Append), send(), and epoll. The socketpair deliveries above keep
// those under the fuzzer (and every input of the replay test); the socket
// tests cover them too (tcp_server_test; slow_peers_test trickles bodies a
// few bytes per read; faults_test; storm_test's garbage).
//
// NETMAN_FUZZ_LENIENT_ERROR_REPLIES=1 relaxes one check, for bisecting
// against older revisions: before commit c130d6b a protocol error dropped the
// replies queued in the same read, so an error close only had to deliver a
// prefix of the expected echo.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "fuzz/check.h"
#include "fuzz/split_input.h"
#include "netman/base/log.h"
#include "netman/base/unique_fd.h"
#include "netman/codec/default_packer.h"
#include "netman/net/connection.h"
#include "netman/net/event_loop.h"
#include "netman/net/transport.h"
#include "netman/poller/poller.h"
#include "netman/router/router.h"
#include "netman/server/framed_protocol.h"

NETMAN_FUZZ_NO_COVERAGE_BEGIN

namespace netman::fuzz {
namespace {

constexpr uint64_t kMaxBody = 1024;
constexpr size_t kMaxStream = 16 * 1024;
// Exhaustive mode: streams up to this size are also sent one byte per read.
constexpr size_t kByteByByteLimit = 256;
// Fuzzing: reads per delivery (32 reads of up to 256 bytes carry 8 KiB,
// twice the largest input libFuzzer makes by default).
constexpr size_t kMaxReads = 32;
// Fuzzing: one input in this many also goes over a real socketpair.
constexpr uint64_t kSocketpairEvery = 256;

bool EnvIs(const char* name, std::string_view value) {
  const char* v = std::getenv(name);
  return v != nullptr && std::string_view(v) == value;
}

bool LenientErrorReplies() {
  static const bool lenient = EnvIs("NETMAN_FUZZ_LENIENT_ERROR_REPLIES", "1");
  return lenient;
}

bool Exhaustive() {
  static const bool exhaustive = EnvIs("NETMAN_FUZZ_EXHAUSTIVE", "1");
  return exhaustive;
}

// FNV-1a: the same in every process (absl::Hash is seeded per process).
uint64_t StableHash(const uint8_t* data, size_t size) {
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 1099511628211ull;
  return h;
}

// Appends the DefaultPacker frame of (id, body) to `out`.
void AppendFrame(uint32_t id, std::string_view body, std::string& out) {
  char header[DefaultPacker::kHeaderSize];
  DefaultPacker::EncodeHeader(id, static_cast<uint32_t>(body.size()), header);
  out.append(header, sizeof(header));
  out.append(body);
}

// The messages in a string of frames (Outcome::handled), for reports.
size_t FirstDifferentMessage(std::string_view a, std::string_view b) {
  static const DefaultPacker packer;
  size_t i = 0;
  DecodeResult ra, rb;
  while (packer.Decode(a, &ra).ok() && packer.Decode(b, &rb).ok() && ra.complete &&
         rb.complete && ra.message.id == rb.message.id && ra.message.body == rb.message.body) {
    a.remove_prefix(ra.consumed);
    b.remove_prefix(rb.consumed);
    ++i;
  }
  return i;
}

// What one delivery did. Reused from input to input (Clear() keeps the
// strings' storage), so a delivery allocates next to nothing of its own.
struct Outcome {
  std::string handled;  // the messages the routes received, as frames
  size_t handled_count = 0;
  size_t dropped = 0;    // unknown ids dropped (the loop's counter)
  std::string echoed;    // bytes the peer received
  absl::Status reason;   // as passed to OnClosed
  int closed = 0;        // OnClosed calls

  void Clear() {
    handled.clear();
    handled_count = 0;
    dropped = 0;
    echoed.clear();
    reason = absl::OkStatus();
    closed = 0;
  }
};

// Takes every line (kDebug: formatting is exercised) and keeps none.
class DiscardingSink final : public LogSink {
 public:
  void Write(LogLevel, std::string_view) override {}
};

// The poller of the fake deliveries' loop: nothing to watch (their
// connections have no fd) and no other thread to wake it, so Wait() returns
// at once. testing::FakePoller would do, but its Wait() parks the thread on a
// futex even for a zero timeout (absl::Mutex::AwaitWithTimeout): a context
// switch per loop iteration, which held this target to ~50 inputs/s.
class NoWaitPoller final : public Poller {
 public:
  static absl::StatusOr<std::unique_ptr<Poller>> Create() {
    return std::unique_ptr<Poller>(std::make_unique<NoWaitPoller>());
  }
  absl::Status Add(int, uint32_t, void*) override { return absl::OkStatus(); }
  absl::Status Modify(int, uint32_t, void*) override { return absl::OkStatus(); }
  absl::Status Remove(int) override { return absl::OkStatus(); }
  absl::StatusOr<int> Wait(absl::Duration, std::vector<PollEvent>& events) override {
    events.clear();
    return 0;
  }
  void Wakeup() override {}
};

// Where each complete frame of the stream ends (the same for every delivery).
void FrameEnds(std::string_view stream, std::vector<size_t>& ends) {
  static const DefaultPacker packer;
  ends.clear();
  DecodeResult r;
  size_t pos = 0;
  while (packer.Decode(stream.substr(pos), &r).ok() && r.complete) {
    pos += r.consumed;
    ends.push_back(pos);
  }
}

// The buffer bound of one delivery: the connection may hold the incomplete frame
// at the end of what it was sent plus the chunk being read, so its buffers
// must stay within a constant factor of that, whatever length a header
// declares.
class BufferBound {
 public:
  explicit BufferBound(std::span<const size_t> frame_ends) : frame_ends_(frame_ends) {}

  // Before `size` more bytes are sent.
  void Sending(size_t size) {
    held_max_ = std::max(held_max_, written_ - frames_end_ + size);
  }
  void Sent(size_t size) { written_ += size; }
  // Once the connection has read what was sent.
  void Check(const Connection& connection) {
    while (next_frame_ < frame_ends_.size() && frame_ends_[next_frame_] <= written_) {
      frames_end_ = frame_ends_[next_frame_++];  // where the incomplete frame starts
    }
    if (connection.state() != Connection::State::kOpen) return;
    const size_t capacity = connection.buffer_capacity();
    const size_t bound = 4 * held_max_ + 4 * Buffer::kMinCapacity;
    NETMAN_FUZZ_CHECK(capacity <= bound,
                      "connection holds %zu bytes of buffers for at most %zu bytes "
                      "in flight (bound %zu)",
                      capacity, held_max_, bound);
  }

 private:
  const std::span<const size_t> frame_ends_;
  size_t next_frame_ = 0;
  size_t written_ = 0;
  size_t frames_end_ = 0;  // stream offset after the last complete frame written
  size_t held_max_ = 0;
};

// The transport of the fake deliveries: what a FakeTransport (netman/testing)
// does, reading each chunk in place from the fuzz input instead of copying it
// into a string of its own, and writing into the delivery's (reused) outcome
// instead of a new string per connection, so a delivery allocates nothing for
// its bytes.
class ChunkTransport final : public Transport {
 public:
  explicit ChunkTransport(std::string* written) : written_(written) {}

  // The connection's next Read() gets `chunk` (which must outlive it).
  void Deliver(std::string_view chunk) { pending_ = chunk; }
  // After the delivered bytes, the peer finishes sending.
  void DeliverEof() { eof_ = true; }

  absl::StatusOr<ReadResult> Read(int, std::span<char>, Buffer& plaintext) override {
    ReadResult r;
    r.wire_bytes = pending_.size();
    plaintext.Append(pending_);
    pending_ = std::string_view();
    r.outcome = eof_ ? ReadOutcome::kPeerClosed
                     : r.wire_bytes > 0 ? ReadOutcome::kProgress : ReadOutcome::kWouldBlock;
    return r;
  }
  absl::StatusOr<WriteResult> Write(int, Buffer& plaintext) override {
    WriteResult w;
    w.wire_bytes = plaintext.size();
    written_->append(plaintext.readable());
    plaintext.Consume(plaintext.size());
    return w;
  }
  size_t pending_bytes() const override { return 0; }
  bool ready() const override { return true; }

 private:
  std::string* const written_;
  std::string_view pending_;
  bool eof_ = false;
};

void ReadAvailable(int fd, bool& eof, std::string& out) {
  char buf[65536];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) eof = true;
    return;
  }
}

std::unique_ptr<EventLoop> MakeLoop(PollerFactory poller_factory, const Logger& logger) {
  auto loop = EventLoop::Create({.poller_factory = std::move(poller_factory), .logger = logger});
  NETMAN_FUZZ_CHECK(loop.ok(), "EventLoop::Create: %s", loop.status().ToString().c_str());
  (*loop)->RunOnce(absl::ZeroDuration());  // binds the loop to this thread
  return std::move(*loop);
}

// Everything that lives from input to input, and the deliveries.
class Pipeline final : public ConnectionEvents {
 public:
  Pipeline()
      : sink_(std::make_shared<DiscardingSink>()),
        logger_(sink_, LogLevel::kDebug),
        loop_(MakeLoop(NoWaitPoller::Create, logger_)) {
    Add(0, [this](Request& r) {
      Record(r);
      (void)r.connection().Send(0, r.body());
    });
    Add(1, [this](Request& r) {
      Record(r);
      r.connection().Close();
      // The body is documented as valid for the whole handler call: compare
      // it with the copy Record() made.
      const std::string_view recorded = current_->handled;
      NETMAN_FUZZ_CHECK(recorded.substr(recorded.size() - r.body().size()) == r.body(),
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
    NETMAN_FUZZ_CHECK(current_ != nullptr, "OnClosed outside a delivery");
    ++current_->closed;
    current_->reason = reason;
  }

  // Sends `stream` in chunks of `lengths` (at most `max_reads`) through a new
  // connection over a ChunkTransport.
  void Run(std::string_view stream, std::span<const size_t> lengths, size_t max_reads,
           std::span<const size_t> frame_ends, bool unlimited, Outcome& out) {
    Begin(out, *loop_);
    auto transport = std::make_unique<ChunkTransport>(&out.echoed);
    ChunkTransport* const wire = transport.get();
    auto connection = std::make_shared<Connection>(loop_.get(), UniqueFd(), ++next_id_,
                                                   SocketAddress(), &context_,
                                                   std::move(transport));
    NETMAN_FUZZ_CHECK(connection->Start(ProtocolFor(unlimited)).ok(),
                      "Connection::Start failed");
    const std::weak_ptr<Connection> weak = connection;

    BufferBound bound(frame_ends);
    Chunker chunks(stream, lengths, max_reads);
    for (std::string_view chunk; chunks.Next(chunk);) {
      if (connection->state() != Connection::State::kOpen) break;
      bound.Sending(chunk.size());
      wire->Deliver(chunk);
      Read(*connection);  // an open connection reads it all
      bound.Sent(chunk.size());
      loop_->RunOnce(absl::ZeroDuration());  // the rest of the loop iteration
      bound.Check(*connection);
    }
    if (connection->is_receiving()) {
      wire->DeliverEof();
      Read(*connection);
    }
    for (int i = 0; i < EventLoop::kMaxCleanupRounds && out.closed == 0; ++i) {
      loop_->RunOnce(absl::ZeroDuration());
    }
    NETMAN_FUZZ_CHECK(connection->state() == Connection::State::kClosed,
                      "the server never closed the connection");
    connection.reset();
    Finish(out, weak, *loop_);
  }

  // The same over a real socketpair, the loop on epoll.
  void RunOverSocketpair(std::string_view stream, std::span<const size_t> lengths,
                         size_t max_reads, std::span<const size_t> frame_ends,
                         bool unlimited, Outcome& out) {
    if (socket_loop_ == nullptr) socket_loop_ = MakeLoop(CreateDefaultPoller, logger_);
    EventLoop& loop = *socket_loop_;
    Begin(out, loop);
    int fds[2];
    NETMAN_FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                                   fds) == 0,
                      "socketpair: %s", std::strerror(errno));
    UniqueFd peer(fds[1]);
    auto connection = std::make_shared<Connection>(&loop, UniqueFd(fds[0]), ++next_id_,
                                                   SocketAddress(), &context_);
    NETMAN_FUZZ_CHECK(connection->Start(ProtocolFor(unlimited)).ok(),
                      "Connection::Start failed");
    const std::weak_ptr<Connection> weak = connection;

    bool peer_eof = false;
    auto pump = [&] {
      loop.RunOnce(absl::ZeroDuration());
      ReadAvailable(peer.get(), peer_eof, out.echoed);
    };
    BufferBound bound(frame_ends);
    Chunker chunks(stream, lengths, max_reads);
    for (std::string_view chunk; chunks.Next(chunk);) {
      if (connection->state() != Connection::State::kOpen) break;
      bound.Sending(chunk.size());
      while (!chunk.empty()) {
        ssize_t n = ::send(peer.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
          chunk.remove_prefix(static_cast<size_t>(n));
          bound.Sent(static_cast<size_t>(n));
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
          pump();
        } else {
          break;  // the server closed
        }
      }
      pump();
      bound.Check(*connection);
    }
    ::shutdown(peer.get(), SHUT_WR);
    for (int i = 0; i < 1000 && !(out.closed > 0 && peer_eof); ++i) pump();
    NETMAN_FUZZ_CHECK(peer_eof, "the peer never saw the server close");
    connection.reset();
    Finish(out, weak, loop);
  }

 private:
  // connection->OnIoEvent(kPollReadable) for a fake delivery.
  void Read(Connection& connection) { connection.OnIoEvent(kPollReadable); }
  ProtocolPtr ProtocolFor(bool unlimited) {
    return ProtocolPtr::Shared(unlimited ? unlimited_.get() : limited_.get());
  }
  void Begin(Outcome& out, EventLoop& loop) {
    out.Clear();
    current_ = &out;
    dropped_before_ = loop.counters().unknown_ids.Get();
  }
  // After the delivery dropped its reference: drains the loop and checks that
  // OnClosed ran once and the Connection is gone.
  void Finish(Outcome& out, const std::weak_ptr<Connection>& weak, EventLoop& loop) {
    for (int i = 0; i < 4; ++i) loop.RunOnce(absl::ZeroDuration());
    NETMAN_FUZZ_CHECK(out.closed == 1, "OnClosed ran %d times", out.closed);
    NETMAN_FUZZ_CHECK(weak.expired(), "the Connection outlived its close (leak or cycle)");
    out.dropped = loop.counters().unknown_ids.Get() - dropped_before_;
    current_ = nullptr;
  }
  void Add(uint32_t id, Handler handler) {
    absl::Status s = router_.AddRouter(id, std::move(handler));
    NETMAN_FUZZ_CHECK(s.ok(), "AddRouter: %s", s.ToString().c_str());
  }
  void Record(Request& r) {
    AppendFrame(r.id(), r.body(), current_->handled);
    ++current_->handled_count;
  }

  std::shared_ptr<DiscardingSink> sink_;
  Logger logger_;
  DefaultPacker packer_;
  Router router_;
  std::unique_ptr<EventLoop> loop_;         // NoWaitPoller: fake deliveries
  std::unique_ptr<EventLoop> socket_loop_;  // epoll: socketpair deliveries
  std::unique_ptr<FramedProtocol> limited_;
  std::unique_ptr<FramedProtocol> unlimited_;
  ConnectionContext context_{.events = this};
  Outcome* current_ = nullptr;
  uint64_t dropped_before_ = 0;
  uint64_t next_id_ = 0;
};

// What the server must do with `stream`, from the format and the routes.
void Expected(std::string_view stream, uint64_t max_body, Outcome& out) {
  static const DefaultPacker packer;
  out.Clear();
  DecodeResult r;
  while (true) {
    (void)packer.Decode(stream, &r);  // never fails
    if (!r.complete) {
      if (max_body != 0 && r.declared_body_length.value_or(0) > max_body) {
        out.reason = absl::ResourceExhaustedError("oversize");
      }
      return;  // otherwise: peer EOF mid-frame, an orderly close
    }
    if (max_body != 0 && r.message.body.size() > max_body) {
      out.reason = absl::ResourceExhaustedError("oversize");
      return;
    }
    stream.remove_prefix(r.consumed);
    const Message m = r.message;
    if (m.id > 2) {
      ++out.dropped;
      continue;
    }
    AppendFrame(m.id, m.body, out.handled);
    ++out.handled_count;
    switch (m.id) {
      case 0:
        AppendFrame(0, m.body, out.echoed);
        break;
      case 1:
        return;
      case 2:
        out.reason = absl::InternalError("handler for message id 2 threw: boom");
        return;
    }
  }
}

void ExpectOutcome(const Outcome& got, const Outcome& want, const char* what) {
  NETMAN_FUZZ_CHECK(got.handled_count == want.handled_count,
                    "%s: handlers saw %zu messages, expected %zu", what, got.handled_count,
                    want.handled_count);
  NETMAN_FUZZ_CHECK(got.handled == want.handled, "%s: message %zu differs", what,
                    FirstDifferentMessage(got.handled, want.handled));
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

// `b` (delivered as `what`) agrees with `a` (delivered as `a_what`).
void ExpectSameRun(const Outcome& a, const char* a_what, const Outcome& b, const char* what) {
  NETMAN_FUZZ_CHECK(a.reason == b.reason, "%s: closed with %s, %s: %s", what,
                    b.reason.ToString().c_str(), a_what, a.reason.ToString().c_str());
  NETMAN_FUZZ_CHECK(a.handled == b.handled && a.dropped == b.dropped,
                    "%s: different messages than %s", what, a_what);
  if (!LenientErrorReplies()) {
    NETMAN_FUZZ_CHECK(a.echoed == b.echoed, "%s: different bytes than %s", what, a_what);
  }
}

// One input: see the file comment.
void Check(Pipeline& pipeline, const uint8_t* data, size_t size) {
  // Reused from input to input: expected, first delivery, other deliveries.
  static Outcome* const outcomes = new Outcome[3];
  static std::vector<size_t>* const frame_ends = new std::vector<size_t>();
  Outcome& want = outcomes[0];
  Outcome& first = outcomes[1];
  Outcome& other = outcomes[2];

  SplitInput input = ParseSplitInput(data, size);
  if (input.stream.size() > kMaxStream) input.stream = input.stream.substr(0, kMaxStream);
  const std::string_view stream = input.stream;
  const std::span<const size_t> lengths = input.chunk_lengths;
  const bool unlimited = (input.flags & 1) != 0;
  Expected(stream, unlimited ? 0 : kMaxBody, want);
  FrameEnds(stream, *frame_ends);

  if (Exhaustive()) {
    constexpr size_t kAll = SIZE_MAX;
    pipeline.Run(stream, {}, kAll, *frame_ends, unlimited, first);
    ExpectOutcome(first, want, "whole stream");
    const size_t chunk_count = ChunkCount(stream, lengths);
    if (chunk_count > 1) {  // else the same delivery as the whole stream
      pipeline.Run(stream, lengths, kAll, *frame_ends, unlimited, other);
      ExpectOutcome(other, want, "fuzzer's chunks");
      ExpectSameRun(first, "whole stream", other, "fuzzer's chunks");
    }
    if (stream.size() <= kByteByByteLimit && chunk_count < stream.size()) {
      pipeline.Run(stream, kByteByByte, kAll, *frame_ends, unlimited, other);
      ExpectOutcome(other, want, "byte by byte");
      ExpectSameRun(first, "whole stream", other, "byte by byte");
    }
    pipeline.RunOverSocketpair(stream, lengths, kAll, *frame_ends, unlimited, other);
    ExpectOutcome(other, want, "socketpair, fuzzer's chunks");
    ExpectSameRun(first, "whole stream", other, "socketpair, fuzzer's chunks");
  } else {
    pipeline.Run(stream, lengths, kMaxReads, *frame_ends, unlimited, first);
    ExpectOutcome(first, want, "fuzzer's chunks");
    if (StableHash(data, size) % kSocketpairEvery == 0) {
      pipeline.RunOverSocketpair(stream, lengths, kMaxReads, *frame_ends, unlimited, other);
      ExpectOutcome(other, want, "socketpair, fuzzer's chunks");
      ExpectSameRun(first, "fuzzer's chunks", other, "socketpair, fuzzer's chunks");
    }
  }
  // Statuses with messages own heap memory: free them now, so that an input
  // frees what it allocates (libFuzzer re-runs an input that does not, looking
  // for a leak).
  for (int i = 0; i < 3; ++i) outcomes[i].reason = absl::OkStatus();
}

}  // namespace
}  // namespace netman::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static netman::fuzz::Pipeline* pipeline = new netman::fuzz::Pipeline();
  netman::fuzz::Check(*pipeline, data, size);
  return 0;
}

NETMAN_FUZZ_NO_COVERAGE_END
