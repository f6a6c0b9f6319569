// Copyright netman authors.
#include "netman/udp/udp_server.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "netman/codec/default_packer.h"
#include "netman/udp/datagram_codec.h"
#include "netman/udp/datagram_transport.h"

namespace netman {
namespace {

ServerOptions WithUdpDefaults(ServerOptions options) {
  if (options.heartbeat_idle_time == absl::ZeroDuration()) {
    options.heartbeat_idle_time = UdpServer::kDefaultSessionIdleTime;
  }
  return options;
}

}  // namespace

UdpServer::UdpServer(ServerOptions options, UdpOptions udp)
    : ServerCore(WithUdpDefaults(options),
                 // Called on the loops only after Start(), when protocol_ exists.
                 [this](Connection&) { return ProtocolPtr::Shared(protocol_.get()); }),
      udp_(udp),
      packer_(options.packer ? std::move(options.packer)
                             : std::make_shared<const DefaultPacker>()),
      framed_(std::make_unique<FramedProtocol>(
          packer_.get(), &router(), &logger(),
          FramedProtocol::Options{options.max_body, options.close_on_unknown_id})),
      protocol_(std::make_unique<DatagramProtocol>(
          framed_.get(), udp.max_datagram_bytes,
          [this](Connection& session) { OnSessionClosed(session); })) {}

// Stops the loops before the sockets, protocols and packer go.
UdpServer::~UdpServer() { Stop(); }

absl::Status UdpServer::OnStarting() {
  if (options().transport_factory) {
    return absl::InvalidArgumentError(
        "UdpServer: transport_factory is not supported (no TLS over UDP)");
  }
  if (udp_.batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("UDP batch_size must be 1 or more, not ", udp_.batch_size));
  }
  if (udp_.max_datagram_bytes == 0 || udp_.max_datagram_bytes > kMaxUdpPayload) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_datagram_bytes must be 1..", kMaxUdpPayload, ", not ", udp_.max_datagram_bytes));
  }
  if (udp_.max_sessions == 0) return absl::InvalidArgumentError("max_sessions must be positive");
  return absl::OkStatus();
}

absl::StatusOr<SocketAddress> UdpServer::OpenListener(const SocketAddress& address) {
  const int loops = loop_count();
  const size_t per_loop =
      (udp_.max_sessions + static_cast<size_t>(loops) - 1) / static_cast<size_t>(loops);
  SocketAddress bind_to = address;
  for (int i = 0; i < loops; ++i) {
    auto state = std::make_unique<LoopState>(per_loop);
    absl::StatusOr<std::unique_ptr<UdpSocket>> socket = UdpSocket::Open(
        loop(i), bind_to,
        UdpSocket::Options{udp_.batch_size, udp_.max_datagram_bytes, udp_.socket_buffer_bytes}, &state->counters,
        [this, i](const SocketAddress& peer, std::span<char> datagram, bool truncated) {
          OnDatagram(i, peer, datagram, truncated);
        });
    if (!socket.ok()) return socket.status();
    // Every loop's socket binds the port the first one got.
    if (i == 0) bind_to = (*socket)->local_address();
    // The loops are not running yet: registering from here is safe.
    if (absl::Status s = (*socket)->Start(); !s.ok()) return s;
    state->socket = std::move(*socket);
    udp_loops_.push_back(std::move(state));
  }
  return bind_to;
}

void UdpServer::CloseListener(int index) {
  if (static_cast<size_t>(index) < udp_loops_.size()) udp_loops_[index]->socket->Close();
}

void UdpServer::OnDatagram(int index, const SocketAddress& peer, std::span<char> datagram,
                           bool truncated) {
  LoopState& state = *udp_loops_[static_cast<size_t>(index)];
  DatagramVerdict verdict = DatagramVerdict::kOversize;
  if (!truncated) {
    verdict = CheckDatagram(*packer_, std::string_view(datagram.data(), datagram.size()),
                            options().max_body)
                  .verdict;
  }
  if (verdict != DatagramVerdict::kOk) [[unlikely]] {
    switch (verdict) {
      case DatagramVerdict::kEmpty:
        state.counters.dropped_empty.Add();
        break;
      case DatagramVerdict::kTruncated:
        state.counters.dropped_truncated.Add();
        break;
      case DatagramVerdict::kMalformed:
        state.counters.dropped_malformed.Add();
        break;
      default:
        state.counters.dropped_oversize.Add();
        break;
    }
    loop(index)->counters().decode_errors.Add();
    drop_log_.Warning(logger(), "UDP datagram of %d bytes from %s dropped: %s%s",
                      datagram.size(), peer.ToString(), DatagramVerdictName(verdict),
                      truncated ? " (longer than max_datagram_bytes)" : "");
    return;
  }
  Connection* session = SessionFor(index, peer);
  if (session == nullptr || !session->DeliverReceived(datagram)) {
    state.counters.dropped_unhandled.Add();
  }
}

Connection* UdpServer::SessionFor(int index, const SocketAddress& peer) {
  LoopState& state = *udp_loops_[static_cast<size_t>(index)];
  const PeerKey key = PeerKey::From(peer);
  if (Connection* session = state.sessions.Touch(key)) {
    if (session->is_receiving()) [[likely]] return session;
    state.sessions.Remove(key, session);  // closed, its OnClose not yet run
  }
  while (state.sessions.full()) {
    ConnectionPtr oldest = state.sessions.PopOldest();
    state.counters.sessions_evicted.Add();
    oldest->ForceClose(absl::UnavailableError(absl::StrCat(
        "UDP session evicted: the loop's cap of ", state.sessions.capacity(),
        " sessions was reached and it was the least recently active")));
  }
  ConnectionPtr session = AddConnection(
      index, UniqueFd(), peer,
      std::make_unique<DatagramTransport>(state.socket.get(), packer_.get(), peer, index));
  if (session == nullptr || !session->is_receiving()) return nullptr;
  Connection* raw = session.get();
  state.sessions.Insert(key, std::move(session));
  return raw;
}

void UdpServer::OnSessionClosed(Connection& session) {
  const auto* transport = static_cast<const DatagramTransport*>(session.transport());
  if (transport == nullptr) return;
  udp_loops_[static_cast<size_t>(transport->loop_index())]->sessions.Remove(transport->key(),
                                                                           &session);
}

UdpStats UdpServer::udp_stats() const {
  UdpStats stats;
  for (const auto& state : udp_loops_) stats.Add(state->counters);
  stats.replies_too_large = protocol_->replies_too_large();
  return stats;
}

}  // namespace netman
