#pragma once
// Process-wide counters, sharded per I/O thread so hot paths never share a cache line;
// rendered in the Prometheus text format. Safe to use from any thread.
#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "protocol/error.hpp"

namespace muster::server {

enum class counter : std::size_t {
  connections_accepted,
  connections_rejected,
  messages_in,   // commands received
  messages_out,  // frames' worth of events and replies delivered to sessions' queues
  publications,  // messages published into channels
  bytes_in,
  bytes_out,
  writes,  // WebSocket frames written (one per coalesced batch)
  slow_consumer_disconnects,
  recovery_buffer_overflows,
  idle_disconnects,  // dropped after idle_timeout without traffic
  protocol_errors,   // closed with 1002/1007/1009 for a framing violation
  resyncs,           // live gaps filled from history
  alerts_new,
  alerts_deduplicated,
  alert_transitions,  // claims, releases, assignments, responses, resolutions, dismissals
  escalations,
  claims_expired,  // claims released by the scheduler because they ran out of time
  guidance_posted,
  guidance_reminders,
  guidance_overdue,        // guidance.overdue escalations raised
  crisis_conflicts,        // compare-and-set retries that lost a race
  crisis_mirror_failures,  // events that could not be copied to an alert's other channels
  auth_failures,           // bad, expired or missing tokens
  spikes,                  // channel.spike events raised
  spike_arrivals_dropped,  // new alerts the spike detector never saw (its batch was full)
  drill_alerts,            // alerts created in drill channels (not in alerts_new)
  approvals_overdue,       // alert.approval_overdue escalations raised
  origin_refusals,         // /ws upgrades and API requests from an origin not allowed
  accept_errors,           // failed accepts (EMFILE at the open-file limit, mostly)
  tls_handshake_errors,    // TLS handshakes that failed (the client refused us, or spoke badly)
  jwks_fetches,            // key sets fetched from auth.jwks_url
  jwks_fetch_failures,     // fetches from auth.jwks_url that failed (logged)
  count_
};

class metrics {
 public:
  explicit metrics(std::size_t shards);

  /// Called once by each I/O thread so its increments go to its own shard.
  void bind_thread(std::size_t index);
  void add(counter c, std::uint64_t n = 1) noexcept;
  void error(protocol::errc e) noexcept;

  std::atomic<std::int64_t> connections{0};
  std::atomic<std::int64_t> channels{0};

  std::uint64_t total(counter c) const noexcept;
  std::uint64_t errors(protocol::errc e) const noexcept;
  /// Prometheus text exposition format, version 0.0.4.
  std::string render() const;

 private:
  static constexpr std::size_t error_slots = 32;
  struct alignas(64) shard {
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(counter::count_)> c{};
    std::array<std::atomic<std::uint64_t>, error_slots> e{};
  };
  shard& local() noexcept;
  std::vector<shard> shards_;
};

}  // namespace muster::server
