// Copyright netman authors.
//
// loadgen: a load generator for netman servers and the benchmark baselines.
//
//   loadgen --port=8999 --connections=100 --pipeline=16 --size=64
//           --duration=5 --warmup=1 --threads=1 [--verify_content]
//   loadgen --port=8999 --idle --connections=10000 --idle_send_one
//   --duration=30
//   loadgen --port=9001 --mode=ws --ws_path=/echo --connections=100
//           --pipeline=16 --size=64 --duration=5
//
// --mode picks the wire protocol (tools/loadgen/protocol.h): netman framing
// (default), raw byte echo, or WebSocket (ws: each connection first upgrades
// with an HTTP/1.1 request to --ws_path and checks the 101 response and its
// Sec-WebSocket-Accept; then requests are binary frames of --size payload
// bytes, masked with a random key per connection, and replies must be
// unmasked binary frames of the same length). In ws mode the handshake is
// part of opening a connection: a connection counts as connected (and as
// settled) once its 101 response checked out, and a failed handshake is a
// connect error.
//
// Load mode: the connections are opened first (at --connect_rate, with their
// handshake in ws mode); once all are settled (or --connect_timeout passed),
// every connection keeps --pipeline requests in flight (closed loop): as
// replies arrive it sends as many new requests, all of them in one write.
// Replies are checked as they are parsed (id and length, or frame header;
// every byte with --verify_content) and each one's latency (reply read -
// request write) goes to a histogram. After --warmup seconds the measurement
// window of --duration seconds starts; the result is one JSON line on stdout
// (and in --json_out). A progress line goes to stderr every second.
//
// Idle mode (--idle): opens the connections (at --connect_rate, with their
// handshake in ws mode), optionally exchanges one message on each
// (--idle_send_one), prints
//   loadgen ready: open=<n> failed=<m>
// on stdout once every connection is settled, holds them for --duration
// seconds and reports how many stayed open. For more connections than one
// process may open (the open-file limit), run several loadgen processes.
//
// TLS (--tls, BoringSSL; see tls.h): every connection first completes a TLS
// handshake (verifying the server against --tls_ca, or not with
// --tls_insecure; SNI and the verified name from --tls_server_name or a
// --host name; --tls_version=1.2|1.3), then runs the chosen --mode (netman
// or ws framing) inside it, in load or idle mode. Non-blocking in the same
// epoll loop: ciphertext is read with one read(2) and lent to the SSL, every
// record of that read is decrypted before the replies are counted (so they
// are answered by one burst, however many records carried them), and a
// burst is sealed by one SSL_write and sent with one send(2). The
// handshake counts as part of connecting. --tls_resume offers each worker's
// last session on new connections. The JSON line gains a "tls" object
// (negotiated version and cipher suite, resumptions in the window).
//
//   loadgen --port=8443 --tls --tls_ca=ca.pem --tls_version=1.3
//           --connections=100 --pipeline=16 --size=64 --duration=5
//   loadgen --port=8443 --tls --tls_insecure --handshakes [--tls_resume]
//           --connections=8 --duration=5
//
// Handshake mode (--tls --handshakes; netman or raw framing): each
// connection connects, completes the handshake, sends close_notify, waits
// for the server's answer and close, closes with a reset (so neither side
// keeps TIME_WAIT and loadgen's ports do not run out), and starts over;
// msgs_per_s is then handshakes per second over the window. With
// --tls_resume every handshake after a worker's first offers the session
// the server issued to that first one (over TLS 1.3 the first connection
// sends one request to receive its ticket, which servers may send only with
// a reply); tls.resumed_in_window counts the ones the server accepted.
//
// Errors (connection failures, verification failures, unexpected closes)
// are counted and reported, never fatal. Exit status: 0 when the run had no
// errors, 1 when it counted some (the JSON line is printed either way), 2 for
// bad flags or set-up failures.
//
// Never the bottleneck: N worker threads, each with its own epoll loop over
// its share of the connections, registered once, edge-triggered (no
// epoll_ctl after connect, no re-polling of idle sockets); reads of up to
// 256 KiB; replies parsed in place without copying; all new requests of a
// connection sent with one write(2), from a pre-encoded buffer unless
// --verify_content (in ws mode one buffer per connection, since its masking
// key is part of the bytes; past 64 MiB of them per thread, requests are
// encoded and masked per send instead); no allocation on the steady-state
// path. Its user-space work is a few percent of its CPU: nearly all of it is
// the kernel's TCP work for the bytes it sends and receives. See
// docs/BENCHMARKS.md for how this was checked.
//
// Threading: the main thread parses flags, paces the phases and prints
// progress; workers own their connections outright. They share only the
// phase (an atomic) and their counters (single-writer atomics read by the
// main thread). Histograms are merged after the workers have exited.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/loadgen/histogram.h"
#include "tools/loadgen/udp_load.h"
#include "tools/loadgen/protocol.h"
#include "tools/loadgen/tls.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "Server host (IPv4, IPv6 or name).");
ABSL_FLAG(int, port, 8999, "Server port.");
ABSL_FLAG(int, connections, 100, "Connections to open (over all threads).");
ABSL_FLAG(double, connect_rate, 0,
          "New connections per second over all threads; 0 = as fast as "
          "possible (at most 1024 connects in progress per thread).");
ABSL_FLAG(int, pipeline, 1, "Requests in flight per connection.");
ABSL_FLAG(int, size, 64,
          "Message body bytes (netman), chunk bytes (raw) or frame payload "
          "bytes (ws).");
ABSL_FLAG(
    double, duration, 10,
    "Seconds to measure; in --idle mode, seconds to hold the connections.");
ABSL_FLAG(double, warmup, 1, "Seconds of load before the measurement starts.");
ABSL_FLAG(int, threads, 1, "Worker threads, each with its own epoll loop.");
ABSL_FLAG(std::string, mode, "netman",
          "netman (default framing), raw (byte echo) or ws (WebSocket, RFC "
          "6455: HTTP/1.1 upgrade, then masked binary frames).");
ABSL_FLAG(std::string, ws_path, "/",
          "ws mode: the path of the upgrade request (GET <path> HTTP/1.1).");
ABSL_FLAG(uint32_t, id, 0,
          "Message id of requests (netman mode); replies must carry it.");
ABSL_FLAG(std::string, body_hex, "",
          "netman/ws modes: send exactly these bytes (hex) as every request's "
          "body instead of --size generated bytes (e.g. a serialised protobuf "
          "for a typed echo server); overrides --size.");
ABSL_FLAG(bool, verify_content, false,
          "Check every reply byte, not only id and length.");
ABSL_FLAG(bool, idle, false, "Idle mode: open the connections and hold them.");
ABSL_FLAG(bool, idle_send_one, false,
          "Idle mode: exchange one message per connection.");
ABSL_FLAG(double, connect_timeout, 15,
          "Seconds to wait for every connection to settle before going on "
          "regardless (the stragglers count as connect errors).");
ABSL_FLAG(std::string, json_out, "",
          "Also write the JSON result line to this file.");
ABSL_FLAG(std::string, label, "", "Free text copied into the JSON result.");
ABSL_FLAG(bool, progress, true,
          "Print a progress line to stderr every second.");
ABSL_FLAG(bool, tls, false,
          "Speak TLS (BoringSSL) on every connection, before the protocol's "
          "own opening; needs --tls_ca or --tls_insecure.");
ABSL_FLAG(std::string, tls_ca, "",
          "--tls: PEM file of the CA that signed the server's certificate.");
ABSL_FLAG(bool, tls_insecure, false,
          "--tls: accept any server certificate (benchmarks only).");
ABSL_FLAG(std::string, tls_server_name, "",
          "--tls: SNI and the name verified; default --host when it is a "
          "name (an IP literal is verified as an IP address, without SNI).");
ABSL_FLAG(std::string, tls_version, "",
          "--tls: 1.2 or 1.3 (default: negotiate either).");
ABSL_FLAG(bool, tls_resume, false,
          "--tls: offer the last session the server issued (per worker "
          "thread) on new connections.");
ABSL_FLAG(bool, handshakes, false,
          "With --tls: measure handshakes per second. Each of --connections "
          "connects, completes the TLS handshake, sends close_notify, waits "
          "for the server to close, and starts over, for --duration seconds "
          "(after --warmup); msgs_per_s in the result is handshakes per "
          "second. With --tls_resume all but each worker's first are "
          "resumptions.");
ABSL_FLAG(
    std::string, tcp_congestion, "",
    "TCP congestion control for loadgen's own sockets (TCP_CONGESTION, e.g. "
    "reno); empty keeps the system default. Affects only the request "
    "direction.");

namespace netman::loadgen {
namespace {

constexpr size_t kReadBufferSize = 256 * 1024;
// --tls: SSL_read() returns one record (at most 16 KiB) per call; the
// records of one read collect in a buffer as large as the read's.
constexpr size_t kMaxRecordPlaintext = 16 * 1024;
constexpr size_t kPlainBufferSize = kReadBufferSize;
constexpr int kMaxEvents = 1024;
constexpr int kMaxPendingConnectsPerThread = 1024;
// ws mode: the most bytes of requests a thread pre-encodes per connection
// (a pipeline's worth each); past it requests are encoded per send.
constexpr size_t kMaxPreEncodedBytesPerThread = 64u << 20;

enum Phase : int {
  kConnecting = 0,
  kWarmup = 1,
  kMeasuring = 2,
  kStopping = 3
};

uint64_t MonoNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

double CpuSeconds(clockid_t clock) {
  struct timespec ts;
  if (clock_gettime(clock, &ts) != 0) return 0;
  return static_cast<double>(ts.tv_sec) +
         static_cast<double>(ts.tv_nsec) * 1e-9;
}

// A counter with one writer (its worker) and any number of readers.
class Counter {
 public:
  void Add(uint64_t n) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t Get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

struct Counters {
  Counter messages;           // replies received and verified
  Counter bytes_in;           // reply bytes read
  Counter connected;          // connections established (ws: upgraded)
  Counter connect_errors;     // socket()/connect()/handshake failures
  Counter settled;            // connections established or failed
  Counter replied_once;       // idle mode: connections that got their reply
  Counter verify_errors;      // replies that did not match their request
  Counter unexpected_closes;  // EOF, reset or write error on an open connection
  Counter closed;             // connections closed by any of the above
  Counter resumed;            // TLS handshakes that resumed a session
};

struct Config {
  struct sockaddr_storage address;
  socklen_t address_len = 0;
  int connections = 0;
  double connect_rate = 0;
  int pipeline = 1;
  bool idle = false;
  bool idle_send_one = false;
  bool verify_content = false;
  std::string tcp_congestion;
  const TlsClientContext* tls = nullptr;  // null: plain TCP
  bool handshakes = false;                // --handshakes
};

struct Shared {
  std::atomic<int> phase{kConnecting};
};

// One connection. Owned by one worker.
struct Conn {
  // kHandshaking: TCP connected, the TLS handshake under way.
  // kOpening: connected (and through TLS), the protocol's Opening (ws: the
  // upgrade) not yet answered.
  // kAwaitingTicket (--handshakes --tls_resume, TLS 1.3): handshake done,
  // waiting for the server's session ticket (sent after the handshake).
  // kClosing (--handshakes): handshake done, close_notify sent, waiting for
  // the server to close.
  enum class State : uint8_t {
    kUnused,
    kConnecting,
    kHandshaking,
    kOpening,
    kOpen,
    kAwaitingTicket,
    kClosing,
    kClosed
  };
  int fd = -1;
  State state = State::kUnused;
  uint32_t inflight = 0;  // requests sent, replies not yet received
  uint32_t oldest = 0;    // ring index of the oldest in-flight send time
  uint32_t mask_key = 0;  // ws: the masking key of every request
  uint64_t next_send_seq = 0;
  uint64_t* sent_at = nullptr;  // ring of `pipeline` send times (ns)
  // ws: a pipeline's worth of this connection's requests, pre-encoded;
  // nullptr when the worker's send buffer serves (or is encoded per send).
  const char* requests = nullptr;
  ReplyCursor cursor;
  std::unique_ptr<Opening> opening;  // only while kOpening
  std::string pending_out;           // what a short write left behind
  bssl::UniquePtr<SSL> ssl;          // --tls only
  bool handshaken_once = false;      // --handshakes: settled already
  uint64_t sessions_before = 0;      // kAwaitingTicket: TlsIo's count then
};

class Worker {
 public:
  Worker(const Config& config, const Protocol& protocol, Shared& shared,
         int connections, double connect_rate)
      : config_(config),
        protocol_(protocol),
        shared_(shared),
        conns_(static_cast<size_t>(connections)),
        send_times_(static_cast<size_t>(connections) *
                    static_cast<size_t>(config.pipeline)),
        connect_rate_(connect_rate),
        read_buffer_(new char[kReadBufferSize]),
        plain_buffer_(config.tls != nullptr ? new char[kPlainBufferSize]
                                            : nullptr),
        random_(std::random_device{}()) {
    for (size_t i = 0; i < conns_.size(); ++i) {
      conns_[i].sent_at =
          send_times_.data() + i * static_cast<size_t>(config.pipeline);
    }
    // Requests sent without --verify_content are all alike: encode one
    // pipeline's worth once and send from it. In ws mode they are alike per
    // connection (its masking key is fixed): one pipeline's worth per
    // connection, unless that is too much memory.
    const size_t pipeline = static_cast<size_t>(config.pipeline);
    const size_t batch = pipeline * protocol.request_size();
    send_buffer_.resize(std::max<size_t>(batch, 1));
    protocol_.EncodeRequests(0, pipeline, 0, send_buffer_.data());
    encode_per_send_ = config.verify_content;
    if (protocol.masks_requests()) {
      for (Conn& c : conns_) c.mask_key = static_cast<uint32_t>(random_());
      if (config.verify_content) {
        // encoded per send anyway
      } else if (batch > 0 &&
                 conns_.size() <= kMaxPreEncodedBytesPerThread / batch) {
        per_connection_requests_.reset(new char[conns_.size() * batch]);
        for (size_t i = 0; i < conns_.size(); ++i) {
          char* requests = per_connection_requests_.get() + i * batch;
          protocol_.EncodeRequests(0, pipeline, conns_[i].mask_key, requests);
          conns_[i].requests = requests;
        }
      } else {
        encode_per_send_ = true;
      }
    }
  }

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  clockid_t cpu_clock() {
    clockid_t id;
    if (pthread_getcpuclockid(thread_.native_handle(), &id) != 0)
      return CLOCK_THREAD_CPUTIME_ID;
    return id;
  }

  const Counters& counters() const { return counters_; }
  // Only after Join().
  const LatencyHistogram& histogram() const { return histogram_; }
  const std::string& first_error() const { return first_error_; }
  // Only after Join(): "negotiated":"TLSv1.3","cipher":"..." (JSON members)
  // of the first TLS handshake, empty if none finished.
  const std::string& tls_negotiated() const { return tls_negotiated_; }
  int open_connections() const {
    return static_cast<int>(counters_.connected.Get() - counters_.closed.Get());
  }
  int still_connecting() const {
    return static_cast<int>(conns_.size() - counters_.settled.Get());
  }

 private:
  void Run() {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) {
      NoteError(absl::StrCat("epoll_create1: ", std::strerror(errno)));
      counters_.connect_errors.Add(conns_.size());
      counters_.settled.Add(conns_.size());
      return;
    }
    struct epoll_event events[kMaxEvents];
    const uint64_t start = MonoNs();
    while (true) {
      const int phase = shared_.phase.load(std::memory_order_acquire);
      if (phase == kStopping) break;
      recording_ = config_.idle || phase == kMeasuring;
      if (!load_started_ && !config_.idle && phase != kConnecting) StartLoad();
      const bool connecting = next_connect_ < conns_.size();
      if (connecting) ConnectSome(start);
      const int timeout_ms = next_connect_ < conns_.size() ? 1 : 50;
      const int n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout_ms);
      for (int i = 0; i < n; ++i) {
        Conn& c = *static_cast<Conn*>(events[i].data.ptr);
        const uint32_t ev = events[i].events;
        if (c.state == Conn::State::kConnecting) {
          if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) continue;
          OnConnectDone(c);
        }
        if (!Active(c)) continue;
        if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) OnReadable(c);
        if ((ev & EPOLLOUT) && Active(c) && !c.pending_out.empty()) {
          OnWritable(c);
        }
      }
    }
    for (Conn& c : conns_) {
      if (c.fd >= 0) ::close(c.fd);
      c.fd = -1;
    }
    ::close(epoll_fd_);
  }

  // Connected: in the TLS handshake, opening (ws handshake), open, or
  // (--handshakes) closing.
  static bool Active(const Conn& c) {
    return c.state == Conn::State::kOpen ||
           c.state == Conn::State::kOpening ||
           c.state == Conn::State::kHandshaking ||
           c.state == Conn::State::kAwaitingTicket ||
           c.state == Conn::State::kClosing;
  }

  // Not yet open: still counted in pending_connects_.
  static bool Settling(const Conn& c) {
    return c.state == Conn::State::kConnecting ||
           c.state == Conn::State::kHandshaking ||
           c.state == Conn::State::kOpening ||
           c.state == Conn::State::kAwaitingTicket ||
           c.state == Conn::State::kClosing;
  }

  void NoteError(std::string error) {
    if (first_error_.empty()) first_error_ = std::move(error);
  }

  // Starts the connects that are due under --connect_rate.
  void ConnectSome(uint64_t start) {
    size_t due = conns_.size();
    if (connect_rate_ > 0) {
      const double elapsed = static_cast<double>(MonoNs() - start) * 1e-9;
      due = std::min(conns_.size(),
                     static_cast<size_t>(connect_rate_ * elapsed) + 1);
    }
    while (next_connect_ < due &&
           pending_connects_ < kMaxPendingConnectsPerThread) {
      StartConnect(conns_[next_connect_++]);
    }
  }

  void StartConnect(Conn& c) {
    const int fd = ::socket(config_.address.ss_family,
                            SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      ConnectFailed(c, absl::StrCat("socket: ", std::strerror(errno)));
      return;
    }
    c.fd = fd;
    const int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (!config_.tcp_congestion.empty() &&
        setsockopt(
            fd, IPPROTO_TCP, TCP_CONGESTION, config_.tcp_congestion.data(),
            static_cast<socklen_t>(config_.tcp_congestion.size())) != 0) {
      ConnectFailed(
          c, absl::StrCat("setsockopt(TCP_CONGESTION=", config_.tcp_congestion,
                          "): ", std::strerror(errno)));
      return;
    }
    const int r = ::connect(
        fd, reinterpret_cast<const struct sockaddr*>(&config_.address),
        config_.address_len);
    if (r != 0 && errno != EINPROGRESS) {
      ConnectFailed(c, absl::StrCat("connect: ", std::strerror(errno)));
      return;
    }
    c.state = Conn::State::kConnecting;
    ++pending_connects_;  // before anything that may fail: ConnectFailed()
    // Edge-triggered, registered once for everything: the connect's
    // completion, replies, and room for a short write's remainder. No
    // epoll_ctl after this, and no re-polling of idle sockets by epoll_wait.
    struct epoll_event ev = {};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
    ev.data.ptr = &c;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ConnectFailed(c, absl::StrCat("epoll_ctl(ADD): ", std::strerror(errno)));
      return;
    }
  }

  // A connection that did not open: connect() or its Opening failed.
  void ConnectFailed(Conn& c, std::string why) {
    if (c.fd >= 0) ::close(c.fd);
    c.fd = -1;
    if (Settling(c)) --pending_connects_;
    c.state = Conn::State::kClosed;
    c.ssl.reset();
    c.opening.reset();
    c.pending_out.clear();
    c.pending_out.shrink_to_fit();
    counters_.connect_errors.Add(1);
    counters_.settled.Add(1);
    NoteError(std::move(why));
  }

  void OnConnectDone(Conn& c) {
    int error = 0;
    socklen_t len = sizeof(error);
    if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0)
      error = errno;
    if (error != 0) {
      ConnectFailed(c, absl::StrCat("connect: ", std::strerror(error)));
      return;
    }
    if (config_.tls != nullptr) {
      c.ssl = config_.tls->NewSsl(&tls_io_);
      if (c.ssl == nullptr) {
        ConnectFailed(c, absl::StrCat("SSL_new: ", TlsErrors()));
        return;
      }
      c.state = Conn::State::kHandshaking;
      DriveHandshake(c);
      return;
    }
    StartOpening(c);
  }

  // Advances the TLS handshake with whatever tls_io_ lends; sends what it
  // writes. Once done: the protocol's opening, or (--handshakes) the close.
  void DriveHandshake(Conn& c) {
    const int rc = SSL_do_handshake(c.ssl.get());
    if (rc != 1) {
      const int error = SSL_get_error(c.ssl.get(), rc);
      FlushTls(c);
      if (error == SSL_ERROR_WANT_READ || !Active(c)) return;
      ConnectFailed(c, absl::StrCat("TLS handshake: ", TlsErrors()));
      return;
    }
    if (!config_.handshakes && recording_ && SSL_session_reused(c.ssl.get())) {
      counters_.resumed.Add(1);
    }
    if (tls_negotiated_.empty()) {
      const SSL_CIPHER* cipher = SSL_get_current_cipher(c.ssl.get());
      tls_negotiated_ = absl::StrCat(
          "\"negotiated\":\"", SSL_get_version(c.ssl.get()),
          "\",\"cipher\":\"",
          cipher != nullptr ? SSL_CIPHER_standard_name(cipher) : "", "\"");
    }
    if (config_.handshakes) {
      FlushTls(c);
      if (!Active(c)) return;
      // TLS 1.3 sessions come after the handshake, and a server may send
      // its tickets only along with its first reply: with --tls_resume and
      // no session yet, send one request and read until a ticket is in
      // before closing (BoringSSL ignores tickets read after our
      // close_notify). Later connections offer that session again.
      if (config_.tls->options().resume && tls_io_.session == nullptr &&
          SSL_version(c.ssl.get()) >= TLS1_3_VERSION) {
        c.sessions_before = tls_io_.sessions_issued;
        c.state = Conn::State::kAwaitingTicket;
        Write(c, send_buffer_.data(), protocol_.request_size());
        return;
      }
      SendCloseNotify(c);
      return;
    }
    FlushTls(c);
    if (!Active(c)) return;
    StartOpening(c);
  }

  // --handshakes: close_notify; the server answers with its own and closes.
  void SendCloseNotify(Conn& c) {
    SSL_shutdown(c.ssl.get());
    c.state = Conn::State::kClosing;
    FlushTls(c);
  }

  // --handshakes: the server closed after our close_notify; count the
  // handshake and start the next connection in this slot.
  void HandshakeCycleDone(Conn& c) {
    if (recording_) {
      counters_.messages.Add(1);
      if (SSL_session_reused(c.ssl.get())) counters_.resumed.Add(1);
    }
    if (!c.handshaken_once) {
      c.handshaken_once = true;
      counters_.connected.Add(1);
      counters_.settled.Add(1);
    }
    --pending_connects_;
    // A reset, not a FIN: neither side keeps the connection in TIME_WAIT (the
    // server closed first, and its TIME_WAIT entries would make new
    // connections from a reused port wait a SYN retransmission out).
    linger no_linger = {};
    no_linger.l_onoff = 1;
    (void)setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &no_linger,
                     sizeof(no_linger));
    ::close(c.fd);
    c.fd = -1;
    c.ssl.reset();
    c.state = Conn::State::kUnused;
    if (shared_.phase.load(std::memory_order_acquire) != kStopping) {
      StartConnect(c);
    }
  }

  // Sends what the SSL wrote into tls_io_.out.
  void FlushTls(Conn& c) {
    if (tls_io_.out.empty()) return;
    WriteRaw(c, tls_io_.out.data(), tls_io_.out.size());
    tls_io_.out.clear();
  }

  // Connected (and through TLS): the protocol's opening, if any, or open.
  void StartOpening(Conn& c) {
    std::array<uint8_t, 16> nonce;
    for (size_t i = 0; i < nonce.size(); i += 8) {
      const uint64_t r = random_();
      std::memcpy(nonce.data() + i, &r, 8);
    }
    c.opening = protocol_.NewOpening(nonce);
    if (c.opening != nullptr) {
      // Still opening (and counted in pending_connects_) until the server
      // answers; OnReadable() takes it from here.
      c.state = Conn::State::kOpening;
      const std::string_view request = c.opening->request();
      Write(c, request.data(), request.size());
      return;
    }
    Opened(c);
    StartRequests(c);
  }

  // The connection is open (connected, and through its Opening if any).
  void Opened(Conn& c) {
    --pending_connects_;
    c.opening.reset();
    c.state = Conn::State::kOpen;
    counters_.connected.Add(1);
    // With --idle_send_one a connection settles with its reply (or failure).
    if (!(config_.idle && config_.idle_send_one)) counters_.settled.Add(1);
  }

  // A newly open connection's first requests, per mode.
  void StartRequests(Conn& c) {
    if (c.state != Conn::State::kOpen) return;
    if (config_.idle) {
      if (config_.idle_send_one) Send(c, 1);
    } else if (load_started_) {
      // Load starts once every connection is settled (see Run()), so the
      // measurement is not mixed with connection set-up; stragglers start
      // when they connect.
      Send(c, static_cast<uint32_t>(config_.pipeline));
    }
  }

  // The first requests of every connection opened while connecting.
  void StartLoad() {
    load_started_ = true;
    for (Conn& c : conns_) {
      if (c.state == Conn::State::kOpen && c.next_send_seq == 0) {
        Send(c, static_cast<uint32_t>(config_.pipeline));
      }
    }
  }

  // Closes an open connection the peer or the network gave up on.
  void Fail(Conn& c, Counter& counter, std::string why) {
    if (c.state != Conn::State::kOpen) return;
    const bool phase_stopping =
        shared_.phase.load(std::memory_order_acquire) == kStopping;
    if (!phase_stopping) {
      counter.Add(1);
      NoteError(std::move(why));
    }
    if (config_.idle && config_.idle_send_one &&
        (c.inflight > 0 || c.next_send_seq == 0)) {
      counters_.settled.Add(1);  // it will never reply
    }
    ::close(c.fd);
    c.fd = -1;
    c.state = Conn::State::kClosed;
    c.ssl.reset();
    c.pending_out.clear();
    c.pending_out.shrink_to_fit();
    counters_.closed.Add(1);
  }

  // Edge-triggered: reads until a read comes back short (then the socket was
  // drained, and later bytes raise a new edge).
  void OnReadable(Conn& c) {
    while (Active(c)) {
      const ssize_t n = ::read(c.fd, read_buffer_.get(), kReadBufferSize);
      if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n < 0 && errno == EINTR) continue;
        if (c.state == Conn::State::kClosing && n == 0) {
          HandshakeCycleDone(c);
          return;
        }
        if (Settling(c)) {
          ConnectFailed(
              c, n == 0
                     ? absl::StrCat("server closed a connection during its ",
                                    std::string(protocol_.name()), " handshake")
                     : absl::StrCat("read: ", std::strerror(errno)));
        } else {
          Fail(c, counters_.unexpected_closes,
               n == 0 ? std::string("server closed a connection")
                      : absl::StrCat("read: ", std::strerror(errno)));
        }
        return;
      }
      if (c.ssl != nullptr) {
        OnCiphertext(c, read_buffer_.get(), static_cast<size_t>(n));
      } else {
        OnData(c, read_buffer_.get(), static_cast<size_t>(n));
      }
      // A short read drained the socket, except that the server's FIN may
      // have come with the data (one edge for both): closing connections
      // read on until EAGAIN to see it.
      if (static_cast<size_t>(n) < kReadBufferSize &&
          c.state != Conn::State::kClosing &&
          c.state != Conn::State::kAwaitingTicket) {
        return;
      }
    }
  }

  // Decrypts what was read (lending it to the SSL) and hands the plaintext
  // on: every record of the read first, then all of it at once, so the
  // replies of one read are answered by one burst (one SSL_write, one send)
  // as on a plain connection, not by one burst per record.
  void OnCiphertext(Conn& c, const char* data, size_t len) {
    tls_io_.in = data;
    tls_io_.in_len = len;
    if (c.state == Conn::State::kHandshaking) DriveHandshake(c);
    size_t decrypted = 0;  // plaintext collected in plain_buffer_
    const auto deliver = [&] {
      if (decrypted > 0 && c.state != Conn::State::kClosing &&
          c.state != Conn::State::kAwaitingTicket) {
        OnData(c, plain_buffer_.get(), decrypted);
      }
      decrypted = 0;
    };
    while (Active(c) && c.state != Conn::State::kHandshaking) {
      if (kPlainBufferSize - decrypted < kMaxRecordPlaintext) deliver();
      if (!Active(c)) break;
      const int n = SSL_read(c.ssl.get(), plain_buffer_.get() + decrypted,
                             static_cast<int>(kPlainBufferSize - decrypted));
      if (n > 0) {
        decrypted += static_cast<size_t>(n);
        if (tls_io_.in_len > 0 || SSL_has_pending(c.ssl.get()) != 0 ||
            c.state != Conn::State::kOpen) {
          continue;
        }
        // Everything lent is consumed: the next SSL_read could only want
        // more (and costs a few hundred instructions even so).
        deliver();
        if (Active(c)) FlushTls(c);
        break;
      }
      const int error = SSL_get_error(c.ssl.get(), n);
      deliver();  // what came before the WANT_READ, close or error
      if (!Active(c)) break;
      FlushTls(c);
      if (error == SSL_ERROR_WANT_READ && Active(c) &&
          c.state == Conn::State::kAwaitingTicket &&
          tls_io_.sessions_issued > c.sessions_before) {
        SendCloseNotify(c);
        continue;  // on to the server's close_notify, if it came already
      }
      if (error == SSL_ERROR_WANT_READ || !Active(c)) break;
      if (c.state == Conn::State::kClosing ||
          c.state == Conn::State::kAwaitingTicket) {
        if (error == SSL_ERROR_ZERO_RETURN) {
          HandshakeCycleDone(c);
        } else {
          ConnectFailed(c, absl::StrCat("TLS close: ", TlsErrors()));
        }
        break;
      }
      const std::string why =
          error == SSL_ERROR_ZERO_RETURN
              ? std::string("server closed a connection (close_notify)")
              : absl::StrCat("TLS read: ", TlsErrors());
      if (c.state == Conn::State::kOpening) {
        ConnectFailed(c, why);
      } else {
        Fail(c, counters_.unexpected_closes, why);
      }
      break;
    }
    tls_io_.in = nullptr;
    tls_io_.in_len = 0;
  }

  // Plaintext from the server: the opening's response or replies.
  void OnData(Conn& c, const char* data, size_t len) {
    {
      if (c.state == Conn::State::kOpening) {
        absl::StatusOr<size_t> used = c.opening->Feed(data, len);
        if (!used.ok()) {
          ConnectFailed(c, std::string(used.status().message()));
          return;
        }
        if (c.opening->done()) {
          Opened(c);
          data += *used;
          len -= *used;
          // Whatever followed the response is the reply stream's (nothing,
          // from a well-behaved server: no request was sent yet).
          if (len > 0) OnReplies(c, data, len);
          StartRequests(c);
        }
      } else {
        OnReplies(c, data, len);
      }
    }
  }

  void OnReplies(Conn& c, const char* data, size_t n) {
    const uint64_t now = MonoNs();
    counters_.bytes_in.Add(n);
    absl::StatusOr<uint64_t> done = protocol_.Consume(c.cursor, data, n);
    if (!done.ok()) {
      Fail(c, counters_.verify_errors, std::string(done.status().message()));
      return;
    }
    if (*done == 0) return;
    if (*done > c.inflight) {
      Fail(c, counters_.verify_errors,
           absl::StrCat("received ", *done, " replies with only ", c.inflight,
                        " requests in flight"));
      return;
    }
    const uint32_t k = static_cast<uint32_t>(*done);
    const uint32_t pipeline = static_cast<uint32_t>(config_.pipeline);
    for (uint32_t i = 0; i < k; ++i) {
      if (recording_) histogram_.Record(now - c.sent_at[c.oldest]);
      if (++c.oldest == pipeline) c.oldest = 0;
    }
    c.inflight -= k;
    counters_.messages.Add(k);
    if (config_.idle) {
      counters_.replied_once.Add(1);
      counters_.settled.Add(1);
      return;
    }
    Send(c, k);
  }

  // Sends `k` requests with one write.
  void Send(Conn& c, uint32_t k) {
    const uint64_t now = MonoNs();
    const uint32_t pipeline = static_cast<uint32_t>(config_.pipeline);
    uint32_t slot = c.oldest + c.inflight;
    for (uint32_t i = 0; i < k; ++i) {
      if (slot >= pipeline) slot -= pipeline;
      c.sent_at[slot++] = now;
    }
    c.inflight += k;
    const size_t len = static_cast<size_t>(k) * protocol_.request_size();
    const char* data = send_buffer_.data();
    if (encode_per_send_) {
      protocol_.EncodeRequests(c.next_send_seq, k, c.mask_key,
                               send_buffer_.data());
    } else if (c.requests != nullptr) {
      data = c.requests;
    }
    c.next_send_seq += k;
    Write(c, data, len);
  }

  // Writes `data` (plaintext) to the connection. Over TLS all of it is
  // sealed by one SSL_write (a pipeline burst: as many records as 16 KiB
  // limits need) and leaves in one send.
  void Write(Conn& c, const char* data, size_t len) {
    if (c.ssl == nullptr) {
      WriteRaw(c, data, len);
      return;
    }
    if (len == 0) return;
    const int rc = SSL_write(c.ssl.get(), data, static_cast<int>(len));
    if (rc <= 0) {
      tls_io_.out.clear();
      std::string why = absl::StrCat("TLS write: ", TlsErrors());
      if (Settling(c)) {
        ConnectFailed(c, std::move(why));
      } else {
        Fail(c, counters_.unexpected_closes, std::move(why));
      }
      return;
    }
    FlushTls(c);
  }

  // Writes what the socket takes now; the rest goes when it has room again
  // (an EPOLLOUT edge, OnWritable()).
  void WriteRaw(Conn& c, const char* data, size_t len) {
    if (!c.pending_out.empty()) {
      c.pending_out.append(data, len);
      return;
    }
    ssize_t w = ::send(c.fd, data, len, MSG_NOSIGNAL);
    if (w == static_cast<ssize_t>(len)) return;
    if (w < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        WriteFailed(c);
        return;
      }
      w = 0;
    }
    c.pending_out.assign(data + w, len - static_cast<size_t>(w));
  }

  void WriteFailed(Conn& c) {
    std::string why = absl::StrCat("write: ", std::strerror(errno));
    if (Settling(c)) {
      ConnectFailed(c, std::move(why));
    } else {
      Fail(c, counters_.unexpected_closes, std::move(why));
    }
  }

  void OnWritable(Conn& c) {
    const ssize_t w =
        ::send(c.fd, c.pending_out.data(), c.pending_out.size(), MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      WriteFailed(c);
      return;
    }
    c.pending_out.erase(0, static_cast<size_t>(w));
    if (c.pending_out.empty()) c.pending_out.shrink_to_fit();
  }

  const Config& config_;
  const Protocol& protocol_;
  Shared& shared_;
  std::vector<Conn> conns_;
  std::vector<uint64_t> send_times_;
  const double connect_rate_;
  std::unique_ptr<char[]> read_buffer_;
  std::unique_ptr<char[]> plain_buffer_;  // --tls: decrypted bytes
  TlsIo tls_io_;                          // --tls: the SSLs' lent I/O
  std::vector<char> send_buffer_;
  // ws mode: every connection's pre-encoded requests (Conn::requests).
  std::unique_ptr<char[]> per_connection_requests_;
  // Requests are encoded into send_buffer_ for every send (--verify_content,
  // or ws mode past kMaxPreEncodedBytesPerThread).
  bool encode_per_send_ = false;
  std::mt19937_64 random_;  // masking keys and handshake nonces
  int epoll_fd_ = -1;
  size_t next_connect_ = 0;
  int pending_connects_ = 0;
  bool recording_ = false;
  bool load_started_ = false;
  Counters counters_;
  LatencyHistogram histogram_;
  std::string first_error_;
  std::string tls_negotiated_;
  std::thread thread_;
};

std::atomic<bool> g_interrupted{false};

void OnSignal(int) { g_interrupted.store(true); }

absl::Status Resolve(const std::string& host, int port, Config& config) {
  std::string h = host;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']')
    h = h.substr(1, h.size() - 2);
  struct addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* result = nullptr;
  const std::string service = std::to_string(port);
  const int rc = getaddrinfo(h.c_str(), service.c_str(), &hints, &result);
  if (rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve --host=", host, ": ", gai_strerror(rc)));
  }
  std::memcpy(&config.address, result->ai_addr, result->ai_addrlen);
  config.address_len = result->ai_addrlen;
  freeaddrinfo(result);
  return absl::OkStatus();
}

// Raises the soft open-file limit to the hard one; returns the limit.
rlim_t RaiseFileLimit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
    (void)getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

struct Totals {
  uint64_t messages = 0;
  uint64_t bytes_in = 0;
  uint64_t connected = 0;
  uint64_t connect_errors = 0;
  uint64_t settled = 0;
  uint64_t replied_once = 0;
  uint64_t verify_errors = 0;
  uint64_t unexpected_closes = 0;
  uint64_t closed = 0;
  uint64_t resumed = 0;
};

Totals Sum(const std::vector<std::unique_ptr<Worker>>& workers) {
  Totals t;
  for (const auto& w : workers) {
    const Counters& c = w->counters();
    t.messages += c.messages.Get();
    t.bytes_in += c.bytes_in.Get();
    t.connected += c.connected.Get();
    t.connect_errors += c.connect_errors.Get();
    t.settled += c.settled.Get();
    t.replied_once += c.replied_once.Get();
    t.verify_errors += c.verify_errors.Get();
    t.unexpected_closes += c.unexpected_closes.Get();
    t.closed += c.closed.Get();
    t.resumed += c.resumed.Get();
  }
  return t;
}

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) {
          out += absl::StrFormat("\\u%04x", static_cast<unsigned char>(ch));
        } else {
          out += ch;
        }
    }
  }
  return out;
}

const char* PhaseName(int phase) {
  switch (phase) {
    case kConnecting:
      return "connect";
    case kWarmup:
      return "warmup";
    case kMeasuring:
      return "measure";
    default:
      return "stop";
  }
}

int Main() {
  const std::string mode = absl::GetFlag(FLAGS_mode);
  Config config;
  config.connections = absl::GetFlag(FLAGS_connections);
  config.connect_rate = absl::GetFlag(FLAGS_connect_rate);
  config.pipeline = absl::GetFlag(FLAGS_pipeline);
  config.idle = absl::GetFlag(FLAGS_idle);
  config.idle_send_one = absl::GetFlag(FLAGS_idle_send_one);
  config.verify_content = absl::GetFlag(FLAGS_verify_content);
  config.tcp_congestion = absl::GetFlag(FLAGS_tcp_congestion);
  const int size = absl::GetFlag(FLAGS_size);
  const double duration = absl::GetFlag(FLAGS_duration);
  const double warmup = config.idle ? 0.0 : absl::GetFlag(FLAGS_warmup);
  int threads = absl::GetFlag(FLAGS_threads);
  if (config.connections < 1 || config.pipeline < 1 || size < 0 ||
      threads < 1 || duration < 0 || warmup < 0 || config.connect_rate < 0) {
    std::fprintf(
        stderr,
        "loadgen: --connections, --pipeline and --threads must be >= 1; "
        "--size, --duration, --warmup and --connect_rate >= 0\n");
    return 2;
  }
  if (config.idle) config.pipeline = 1;
  threads = std::min(threads, config.connections);
  config.handshakes = absl::GetFlag(FLAGS_handshakes);
  std::unique_ptr<TlsClientContext> tls;
  if (absl::GetFlag(FLAGS_tls)) {
    TlsOptions tls_options;
    tls_options.ca_file = absl::GetFlag(FLAGS_tls_ca);
    tls_options.insecure = absl::GetFlag(FLAGS_tls_insecure);
    tls_options.version = absl::GetFlag(FLAGS_tls_version);
    tls_options.resume = absl::GetFlag(FLAGS_tls_resume);
    tls_options.server_name = absl::GetFlag(FLAGS_tls_server_name);
    std::string host = absl::GetFlag(FLAGS_host);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    tls_options.host = host;
    unsigned char ip[sizeof(struct in6_addr)];
    const bool literal = inet_pton(AF_INET, host.c_str(), ip) == 1 ||
                         inet_pton(AF_INET6, host.c_str(), ip) == 1;
    if (tls_options.server_name.empty() && !literal) {
      tls_options.server_name = host;
    }
    absl::StatusOr<std::unique_ptr<TlsClientContext>> context =
        TlsClientContext::Create(tls_options);
    if (!context.ok()) {
      std::fprintf(stderr, "loadgen: %s\n",
                   std::string(context.status().message()).c_str());
      return 2;
    }
    tls = *std::move(context);
    config.tls = tls.get();
  } else if (config.handshakes) {
    std::fprintf(stderr, "loadgen: --handshakes needs --tls\n");
    return 2;
  }
  if (config.handshakes && mode == "ws") {
    // With --tls_resume over TLS 1.3 one request fetches the first ticket;
    // a ws frame before the upgrade would not be one.
    std::fprintf(stderr, "loadgen: --handshakes takes --mode=netman or raw\n");
    return 2;
  }
  if (config.handshakes && config.idle) {
    std::fprintf(stderr, "loadgen: --handshakes and --idle exclude each other\n");
    return 2;
  }

  ProtocolOptions protocol_options;
  protocol_options.size = static_cast<size_t>(size);
  if (const std::string hex = absl::GetFlag(FLAGS_body_hex); !hex.empty()) {
    if (hex.size() % 2 != 0 ||
        hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
      std::fprintf(stderr, "loadgen: --body_hex must be an even number of hex digits\n");
      return 2;
    }
    protocol_options.body = absl::HexStringToBytes(hex);
    protocol_options.size = protocol_options.body->size();
  }
  protocol_options.id = absl::GetFlag(FLAGS_id);
  protocol_options.verify_content = config.verify_content;
  protocol_options.ws_path = absl::GetFlag(FLAGS_ws_path);
  {
    // The Host header: host[:port], an IPv6 literal in brackets.
    std::string host = absl::GetFlag(FLAGS_host);
    if (host.find(':') != std::string::npos && host.front() != '[')
      host = absl::StrCat("[", host, "]");
    protocol_options.ws_host =
        absl::StrCat(host, ":", absl::GetFlag(FLAGS_port));
  }
  absl::StatusOr<std::unique_ptr<Protocol>> protocol =
      CreateProtocol(mode, protocol_options);
  if (!protocol.ok()) {
    std::fprintf(stderr, "loadgen: %s\n",
                 std::string(protocol.status().message()).c_str());
    return 2;
  }
  absl::Status s =
      Resolve(absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_port), config);
  if (!s.ok()) {
    std::fprintf(stderr, "loadgen: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  const rlim_t limit = RaiseFileLimit();
  if (static_cast<rlim_t>(config.connections) + 32 > limit) {
    std::fprintf(
        stderr,
        "loadgen: --connections=%d needs more descriptors than this process "
        "may open (RLIMIT_NOFILE %llu); run several loadgen processes\n",
        config.connections, static_cast<unsigned long long>(limit));
    return 2;
  }

  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);

  Shared shared;
  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < threads; ++t) {
    const int share = config.connections / threads +
                      (t < config.connections % threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(
        config, **protocol, shared, share, config.connect_rate / threads));
  }
  const uint64_t start = MonoNs();
  for (auto& w : workers) w->Start();
  std::vector<clockid_t> thread_clocks;
  for (auto& w : workers) thread_clocks.push_back(w->cpu_clock());

  const bool progress = absl::GetFlag(FLAGS_progress);
  const double connect_timeout = absl::GetFlag(FLAGS_connect_timeout);
  const auto seconds_since = [](uint64_t t) {
    return static_cast<double>(MonoNs() - t) * 1e-9;
  };

  int phase = kConnecting;
  double connect_seconds = 0;
  uint64_t phase_start = start;
  uint64_t window_start = 0, window_end = 0;
  Totals at_window_start, at_window_end;
  double cpu_process_start = 0, cpu_process_end = 0;
  std::vector<double> cpu_thread_start(workers.size()),
      cpu_thread_end(workers.size());
  uint64_t last_progress = start;
  uint64_t last_messages = 0;
  int open_at_ready = 0;

  const auto begin_window = [&] {
    window_start = MonoNs();
    at_window_start = Sum(workers);
    cpu_process_start = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
    for (size_t i = 0; i < workers.size(); ++i)
      cpu_thread_start[i] = CpuSeconds(thread_clocks[i]);
  };
  const auto end_window = [&] {
    window_end = MonoNs();
    at_window_end = Sum(workers);
    cpu_process_end = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
    for (size_t i = 0; i < workers.size(); ++i)
      cpu_thread_end[i] = CpuSeconds(thread_clocks[i]);
  };

  while (phase != kStopping) {
    usleep(20000);
    const Totals now = Sum(workers);
    const bool interrupted = g_interrupted.load();
    if (phase == kConnecting) {
      const bool settled =
          now.settled >= static_cast<uint64_t>(config.connections);
      if (settled || seconds_since(start) >= connect_timeout || interrupted) {
        connect_seconds = seconds_since(start);
        if (config.idle) {
          open_at_ready = static_cast<int>(now.connected - now.closed);
          std::printf("loadgen ready: open=%d failed=%llu\n", open_at_ready,
                      static_cast<unsigned long long>(config.connections -
                                                      open_at_ready));
          std::fflush(stdout);
          phase = kMeasuring;
          begin_window();
        } else {
          phase = kWarmup;
        }
        phase_start = MonoNs();
        shared.phase.store(phase, std::memory_order_release);
      }
    } else if (phase == kWarmup) {
      if (seconds_since(phase_start) >= warmup || interrupted) {
        phase = kMeasuring;
        begin_window();
        phase_start = window_start;
        shared.phase.store(phase, std::memory_order_release);
      }
    } else if (phase == kMeasuring) {
      if (seconds_since(phase_start) >= duration || interrupted) {
        end_window();
        phase = kStopping;
        shared.phase.store(phase, std::memory_order_release);
      }
    }
    if (progress &&
        (MonoNs() - last_progress >= 1000000000u || phase == kStopping)) {
      const double dt = seconds_since(last_progress);
      last_progress = MonoNs();
      const double rate =
          static_cast<double>(now.messages - last_messages) / dt;
      last_messages = now.messages;
      std::fprintf(
          stderr,
          "loadgen [%6.1fs] %-7s open %llu/%d  msgs/s %.0f  MB/s %.1f  "
          "errors: connect %llu verify %llu closed %llu\n",
          seconds_since(start), PhaseName(phase),
          static_cast<unsigned long long>(now.connected - now.closed),
          config.connections, rate,
          rate * static_cast<double>((*protocol)->reply_size()) / 1e6,
          static_cast<unsigned long long>(now.connect_errors),
          static_cast<unsigned long long>(now.verify_errors),
          static_cast<unsigned long long>(now.unexpected_closes));
    }
  }
  int still_connecting = 0;
  for (auto& w : workers) still_connecting += w->still_connecting();
  const int open_at_end = [&] {
    int open = 0;
    for (auto& w : workers) open += w->open_connections();
    return open;
  }();
  for (auto& w : workers) w->Join();

  LatencyHistogram histogram;
  std::string first_error;
  for (auto& w : workers) {
    histogram.Merge(w->histogram());
    if (first_error.empty()) first_error = w->first_error();
  }
  const Totals total = Sum(workers);
  const double window = static_cast<double>(window_end - window_start) * 1e-9;
  const double messages =
      static_cast<double>(at_window_end.messages - at_window_start.messages);
  const double msgs_per_s = window > 0 ? messages / window : 0;
  const double mb_per_s = window > 0
                              ? static_cast<double>(at_window_end.bytes_in -
                                                    at_window_start.bytes_in) /
                                    window / 1e6
                              : 0;
  double max_thread_cpu = 0;
  for (size_t i = 0; i < workers.size(); ++i) {
    if (window > 0) {
      max_thread_cpu = std::max(
          max_thread_cpu, (cpu_thread_end[i] - cpu_thread_start[i]) / window);
    }
  }
  const double process_cpu =
      window > 0 ? (cpu_process_end - cpu_process_start) / window : 0;
  const uint64_t connect_errors =
      total.connect_errors + static_cast<uint64_t>(still_connecting);
  const uint64_t errors =
      connect_errors + total.verify_errors + total.unexpected_closes;
  const auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1000.0; };

  std::string json = absl::StrFormat(
      "{\"tool\":\"loadgen\",\"label\":\"%s\",\"mode\":\"%s\",\"host\":\"%s\","
      "\"port\":%d,"
      "\"threads\":%d,\"connections\":%d,\"pipeline\":%d,\"size\":%d,\"verify_"
      "content\":%s,"
      "\"idle\":%s,\"idle_send_one\":%s,"
      "\"connections_open\":%d,\"connect_errors\":%d,\"verify_errors\":%d,"
      "\"unexpected_closes\":%d,\"errors\":%d,\"first_error\":\"%s\","
      "\"connect_s\":%.3f,\"warmup_s\":%.3f,\"duration_s\":%.3f,"
      "\"messages\":%.0f,\"messages_total\":%d,\"msgs_per_s\":%.1f,\"mb_per_"
      "s\":%.3f,"
      "\"latency_us\":{\"count\":%d,\"min\":%.1f,\"mean\":%.1f,\"p50\":%.1f,"
      "\"p90\":%.1f,"
      "\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f},"
      "\"loadgen_cpu\":{\"process\":%.3f,\"max_thread\":%.3f},"
      "\"window_start_mono_s\":%.6f,\"window_end_mono_s\":%.6f}",
      JsonEscape(absl::GetFlag(FLAGS_label)), mode,
      JsonEscape(absl::GetFlag(FLAGS_host)), absl::GetFlag(FLAGS_port), threads,
      config.connections, config.pipeline, static_cast<int>(protocol_options.size),
      config.verify_content ? "true" : "false", config.idle ? "true" : "false",
      config.idle_send_one ? "true" : "false", open_at_end, connect_errors,
      total.verify_errors, total.unexpected_closes, errors,
      JsonEscape(first_error), connect_seconds, warmup, window, messages,
      total.messages, msgs_per_s, mb_per_s, histogram.count(),
      us(histogram.min()), histogram.mean() / 1000.0,
      us(histogram.Percentile(50)), us(histogram.Percentile(90)),
      us(histogram.Percentile(99)), us(histogram.Percentile(99.9)),
      us(histogram.max()), process_cpu, max_thread_cpu,
      static_cast<double>(window_start) * 1e-9,
      static_cast<double>(window_end) * 1e-9);
  if (config.tls != nullptr) {
    std::string negotiated;
    for (auto& w : workers) {
      if (negotiated.empty()) negotiated = w->tls_negotiated();
    }
    // Insert the TLS facts before the closing brace.
    json.pop_back();
    absl::StrAppendFormat(
        &json,
        ",\"tls\":{\"version\":\"%s\",\"resume\":%s,\"handshakes\":%s,"
        "\"resumed_in_window\":%d%s%s}}",
        absl::GetFlag(FLAGS_tls_version),
        absl::GetFlag(FLAGS_tls_resume) ? "true" : "false",
        config.handshakes ? "true" : "false",
        at_window_end.resumed - at_window_start.resumed,
        negotiated.empty() ? "" : ",", negotiated);
  }
  std::printf("%s\n", json.c_str());
  std::fflush(stdout);
  const std::string json_out = absl::GetFlag(FLAGS_json_out);
  if (!json_out.empty()) {
    FILE* f = std::fopen(json_out.c_str(), "w");
    if (f == nullptr || std::fprintf(f, "%s\n", json.c_str()) < 0 ||
        std::fclose(f) != 0) {
      std::fprintf(stderr, "loadgen: cannot write --json_out=%s: %s\n",
                   json_out.c_str(), std::strerror(errno));
      return 2;
    }
  }
  if (errors > 0) {
    std::fprintf(stderr, "loadgen: %llu error(s); first: %s\n",
                 static_cast<unsigned long long>(errors), first_error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace netman::loadgen

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Load generator for netman servers and the benchmark baselines:\n"
      "  loadgen --port=8999 --connections=100 --pipeline=16 --size=64 "
      "--duration=5 [--mode=netman|raw|ws|udp] [--ws_path=/] [--verify_content]\n"
      "  loadgen --port=8999 --idle --connections=10000 [--idle_send_one]\n"
      "--mode=ws upgrades each connection (HTTP/1.1, RFC 6455) before its "
      "first request, then sends masked binary frames of --size payload "
      "bytes.\n"
      "  loadgen --port=8443 --tls --tls_ca=ca.pem [--tls_version=1.3] ...\n"
      "  loadgen --port=8443 --tls --tls_insecure --handshakes "
      "[--tls_resume]");
  absl::ParseCommandLine(argc, argv);
  // --mode=udp: UDP peers, in udp_load.cc.
  if (absl::GetFlag(FLAGS_mode) == "udp") {
    netman::loadgen::UdpLoadOptions udp;
    udp.host = absl::GetFlag(FLAGS_host);
    udp.port = absl::GetFlag(FLAGS_port);
    udp.peers = absl::GetFlag(FLAGS_connections);
    udp.pipeline = absl::GetFlag(FLAGS_pipeline);
    udp.size = absl::GetFlag(FLAGS_size);
    udp.duration_s = absl::GetFlag(FLAGS_duration);
    udp.warmup_s = absl::GetFlag(FLAGS_warmup);
    udp.threads = absl::GetFlag(FLAGS_threads);
    udp.id = absl::GetFlag(FLAGS_id);
    udp.label = absl::GetFlag(FLAGS_label);
    udp.json_out = absl::GetFlag(FLAGS_json_out);
    return netman::loadgen::RunUdpLoad(udp);
  }
  return netman::loadgen::Main();
}
