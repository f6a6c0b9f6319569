// Copyright netman authors.
#include "netman/server/server_stats.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace netman {

void ServerStats::Add(const IoCounters& c) {
  connections_accepted += c.connections_accepted.Get();
  connections_opened += c.connections_opened.Get();
  connections_closed += c.connections_closed.Get();
  for (int code = 0; code < IoCounters::kStatusCodes; ++code) {
    if (uint64_t n = c.closed_by_code[code].Get(); n > 0) {
      closed_by_reason[absl::StatusCodeToString(static_cast<absl::StatusCode>(code))] += n;
    }
  }
  messages_in += c.messages_in.Get();
  messages_out += c.messages_out.Get();
  bytes_in += c.bytes_read.Get();
  bytes_out += c.bytes_written.Get();
  decode_errors += c.decode_errors.Get();
  unknown_ids += c.unknown_ids.Get();
  high_water_events += c.high_water_events.Get();
  read_pauses += c.read_pauses.Get();
  output_limit_closes += c.output_limit_closes.Get();
  input_cap_closes += c.input_cap_closes.Get();
  idle_closes += c.idle_closes.Get();
  handshake_failures += c.handshake_failures.Get();
  handshake_timeouts += c.handshake_timeouts.Get();
}

std::string ServerStats::ToJson() const {
  std::string reasons;
  for (const auto& [reason, n] : closed_by_reason) {
    absl::StrAppend(&reasons, reasons.empty() ? "" : ",", "\"", reason, "\":", n);
  }
  return absl::StrCat(
      "{\"connections_open\":", connections_open,
      ",\"connections_accepted\":", connections_accepted,
      ",\"connections_opened\":", connections_opened,
      ",\"connections_closed\":", connections_closed,
      ",\"closed_by_reason\":{", reasons, "}",
      ",\"messages_in\":", messages_in, ",\"messages_out\":", messages_out,
      ",\"bytes_in\":", bytes_in, ",\"bytes_out\":", bytes_out,
      ",\"decode_errors\":", decode_errors,
      ",\"unknown_ids\":", unknown_ids,
      ",\"high_water_events\":", high_water_events,
      ",\"read_pauses\":", read_pauses,
      ",\"output_limit_closes\":", output_limit_closes,
      ",\"input_cap_closes\":", input_cap_closes,
      ",\"idle_closes\":", idle_closes,
      ",\"handshake_failures\":", handshake_failures,
      ",\"handshake_timeouts\":", handshake_timeouts,
      ",\"log_lines_dropped\":", log_lines_dropped, "}");
}

}  // namespace netman
