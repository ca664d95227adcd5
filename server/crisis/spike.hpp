#pragma once
// Spike detection without I/O: a channel's recent alert arrivals in fixed buckets, the rate and
// the reach-weighted rate of the last window against the baseline before it, and whether that
// crosses the threshold — once, until the rate falls back. Plain values with the time passed in;
// callers own the synchronisation (the state is meant to be stored beside the channel and
// changed by compare-and-set, so that several nodes raise a spike once).
#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "server/crisis/alert.hpp"

namespace muster::server::crisis {

struct spike_policy {
  std::chrono::seconds window{600};          // the recent window
  std::chrono::seconds baseline{12 * 3600};  // the rolling baseline just before it
  double factor = 3.0;                       // window rate / baseline rate that is a spike
  double rearm_factor = 1.5;                 // back below this ratio: armed again
  std::uint32_t min_alerts = 5;              // fewer in the window is never a spike
  std::uint32_t buckets_per_window = 10;     // resolution of the kept history
};

/// Alerts that arrived in one bucket of time.
struct spike_bucket {
  std::int64_t start_ms = 0;
  std::uint32_t alerts = 0;
  std::uint64_t reach = 0;
  friend bool operator==(const spike_bucket&, const spike_bucket&) = default;
};

/// One channel's arrivals and whether a spike may be raised.
struct spike_state {
  std::vector<spike_bucket> buckets;  // oldest first, none older than window + baseline
  std::int64_t first_ms = 0;          // the first alert ever seen (0: none)
  bool armed = true;                  // false after a spike, until the rate falls back
};

/// The window against the baseline at one moment. Rates are per hour.
struct spike_figures {
  std::uint32_t alerts_in_window = 0;
  double rate = 0, baseline_rate = 0;              // alerts
  double reach_rate = 0, baseline_reach_rate = 0;  // reach-weighted
  bool baseline_known = false;  // at least one window of history before the window
  /// rate / baseline_rate (the baseline counts at least min_alerts over its span).
  double factor = 0;
  /// reach_rate / baseline_reach_rate; 0 when the baseline has no reach.
  double reach_factor = 0;
};

/// What one new alert started.
struct spike {
  spike_figures figures;
  bool by_reach = false;  // crossed by the reach-weighted rate (else by the alert rate)
};

/// Records one new alert with `reach` at `now`; returns the spike it starts, if any.
std::optional<spike> observe_alert(spike_state& s, const spike_policy& p, time_point now,
                                   std::uint64_t reach);
/// The figures at `now` (old buckets are dropped; a spent detector re-arms when the rate has
/// fallen below rearm_factor × baseline).
spike_figures measure(spike_state& s, const spike_policy& p, time_point now);

}  // namespace muster::server::crisis
