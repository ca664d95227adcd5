#include "server/metrics.hpp"

namespace muster::server {

namespace {
thread_local std::size_t this_shard = 0;

struct counter_info {
  const char* name;
  const char* help;
};
constexpr counter_info infos[] = {
    {"muster_connections_accepted_total", "WebSocket connections accepted"},
    {"muster_connections_rejected_total", "Connections refused (limit reached or bad upgrade)"},
    {"muster_messages_in_total", "Client commands received"},
    {"muster_messages_out_total", "Events and replies queued to clients"},
    {"muster_publications_total", "Messages published into channels"},
    {"muster_bytes_in_total", "WebSocket payload bytes received"},
    {"muster_bytes_out_total", "WebSocket payload bytes written"},
    {"muster_writes_total", "WebSocket frames written (each may carry several coalesced events)"},
    {"muster_slow_consumer_disconnects_total",
     "Clients disconnected because their outbound queue overflowed"},
    {"muster_recovery_buffer_overflows_total",
     "Subscriptions failed because live events overflowed while history was read"},
    {"muster_idle_disconnects_total", "Connections dropped after the idle timeout without traffic"},
    {"muster_protocol_errors_total",
     "Connections closed for a WebSocket framing violation (1002, 1007, 1009)"},
    {"muster_resyncs_total", "Gaps in a channel's live events filled from history"},
    {"muster_alerts_new_total", "Alerts created"},
    {"muster_alerts_deduplicated_total", "Alert triggers folded into an existing alert"},
    {"muster_alert_transitions_total",
     "Alert claims, releases, assignments, responses, resolutions and dismissals"},
    {"muster_escalations_total", "alert.escalated events raised by this node"},
    {"muster_claims_expired_total", "Claims this node released because they expired unanswered"},
    {"muster_guidance_posted_total", "Guidance posts"},
    {"muster_guidance_reminders_total", "guidance.reminder events raised by this node"},
    {"muster_guidance_overdue_total", "guidance.overdue escalations raised by this node"},
    {"muster_crisis_conflicts_total",
     "Crisis updates retried because another node or client changed the object first"},
    {"muster_crisis_mirror_failures_total",
     "Alert events that could not be copied to the alert's other channels (logged)"},
    {"muster_auth_failures_total", "Connections or requests refused for a bad or missing token"},
    {"muster_spikes_total", "channel.spike events raised by this node"},
    {"muster_spike_arrivals_dropped_total",
     "New alerts left out of spike detection because this node's batch was full"},
    {"muster_drill_alerts_total", "Alerts created in drill channels (not counted as alerts_new)"},
    {"muster_approvals_overdue_total", "alert.approval_overdue escalations raised by this node"},
    {"muster_origin_refusals_total",
     "WebSocket upgrades and API requests refused for their Origin (server.allowed_origins)"},
    {"muster_accept_errors_total",
     "Failed accepts of new connections (mostly the open-file limit; logged)"},
    {"muster_tls_handshake_errors_total",
     "TLS handshakes that failed: the client refused the certificate, timed out or spoke badly"},
    {"muster_jwks_fetches_total", "Key sets fetched from the identity provider (auth.jwks_url)"},
    {"muster_jwks_fetch_failures_total",
     "Fetches from auth.jwks_url that failed; the keys fetched before stay (logged)"},
};
static_assert(std::size(infos) == static_cast<std::size_t>(counter::count_));
}  // namespace

metrics::metrics(std::size_t shards) : shards_(shards + 1) {}

void metrics::bind_thread(std::size_t index) {
  this_shard = index + 1 < shards_.size() ? index + 1 : 0;
}

metrics::shard& metrics::local() noexcept {
  return shards_[this_shard < shards_.size() ? this_shard : 0];
}

void metrics::add(counter c, std::uint64_t n) noexcept {
  local().c[static_cast<std::size_t>(c)].fetch_add(n, std::memory_order_relaxed);
}

void metrics::error(protocol::errc e) noexcept {
  auto i = static_cast<std::size_t>(e);
  if (i < error_slots) local().e[i].fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t metrics::total(counter c) const noexcept {
  std::uint64_t sum = 0;
  for (const auto& s : shards_)
    sum += s.c[static_cast<std::size_t>(c)].load(std::memory_order_relaxed);
  return sum;
}

std::uint64_t metrics::errors(protocol::errc e) const noexcept {
  auto i = static_cast<std::size_t>(e);
  std::uint64_t sum = 0;
  if (i < error_slots)
    for (const auto& s : shards_) sum += s.e[i].load(std::memory_order_relaxed);
  return sum;
}

std::string metrics::render() const {
  std::string out;
  out.reserve(4096);
  out += "# HELP muster_connections Open WebSocket connections\n# TYPE muster_connections gauge\n";
  out += "muster_connections " + std::to_string(connections.load()) + "\n";
  out +=
      "# HELP muster_channels Channels with at least one local subscriber\n# TYPE muster_channels "
      "gauge\n";
  out += "muster_channels " + std::to_string(channels.load()) + "\n";
  for (std::size_t i = 0; i < std::size(infos); ++i) {
    out += std::string("# HELP ") + infos[i].name + " " + infos[i].help + "\n";
    out += std::string("# TYPE ") + infos[i].name + " counter\n";
    out += std::string(infos[i].name) + " " + std::to_string(total(static_cast<counter>(i))) + "\n";
  }
  out +=
      "# HELP muster_errors_total Error replies and error closes, by code\n# TYPE "
      "muster_errors_total counter\n";
  for (auto e : protocol::all_errors) {
    out += "muster_errors_total{code=\"";
    out += protocol::wire_name(e);
    out += "\"} " + std::to_string(errors(e)) + "\n";
  }
  return out;
}

}  // namespace muster::server
