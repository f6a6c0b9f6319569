// Copyright netman authors.
#include "netman/udp/udp_counters.h"

#include "absl/strings/str_cat.h"

namespace netman {

void UdpStats::Add(const UdpCounters& c) {
  datagrams_in += c.datagrams_in.Get();
  datagrams_out += c.datagrams_out.Get();
  receive_calls += c.receive_calls.Get();
  send_calls += c.send_calls.Get();
  dropped_empty += c.dropped_empty.Get();
  dropped_truncated += c.dropped_truncated.Get();
  dropped_malformed += c.dropped_malformed.Get();
  dropped_oversize += c.dropped_oversize.Get();
  dropped_unhandled += c.dropped_unhandled.Get();
  sessions_evicted += c.sessions_evicted.Get();
  send_errors += c.send_errors.Get();
  send_drops += c.send_drops.Get();
  unsendable_bytes += c.unsendable_bytes.Get();
}

std::string UdpStats::ToJson() const {
  return absl::StrCat(
      "{\"datagrams_in\":", datagrams_in, ",\"datagrams_out\":", datagrams_out,
      ",\"receive_calls\":", receive_calls, ",\"send_calls\":", send_calls,
      ",\"dropped_empty\":", dropped_empty, ",\"dropped_truncated\":", dropped_truncated,
      ",\"dropped_malformed\":", dropped_malformed,
      ",\"dropped_oversize\":", dropped_oversize,
      ",\"dropped_unhandled\":", dropped_unhandled,
      ",\"sessions_evicted\":", sessions_evicted, ",\"send_errors\":", send_errors,
      ",\"send_drops\":", send_drops, ",\"unsendable_bytes\":", unsendable_bytes,
      ",\"replies_too_large\":", replies_too_large, "}");
}

}  // namespace netman
