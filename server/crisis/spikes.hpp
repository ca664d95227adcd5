#pragma once
// Spike detection across nodes (PROTOCOL.md section 14.5): each node batches the alerts it
// creates per home channel, and each scan folds a batch into the channel's stored detector
// (`spike` beside the channel) by compare-and-set. The commit that finds a spike appends
// channel.spike (and the severity raise) in the same step, so exactly one node raises it.
// `batch` is callable from any thread; record() too (continuations on engine threads).
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "server/crisis/records.hpp"

namespace muster::server::crisis {
struct context;
}

namespace muster::server::crisis::spikes {

inline constexpr std::string_view doc_key = "spike";
inline constexpr std::size_t max_batch = 10000;  // arrivals per channel between two scans
inline constexpr std::size_t top_listed = 5;     // alerts named in channel.spike

/// This node's new alerts not yet folded into their channels' detectors.
class batch {
 public:
  /// False (the arrival is not counted) when the channel's batch is full.
  bool add(const std::string& channel, spike_alert a);
  std::map<std::string, std::vector<spike_alert>> take();

 private:
  std::mutex mu_;
  std::map<std::string, std::vector<spike_alert>> pending_;
};

/// Keeps `recent` to the highest-reach alerts of the last `window` before `now_ms`.
void keep_recent(std::vector<spike_alert>& recent, spike_alert a, std::int64_t window_ms,
                 std::int64_t now_ms);

/// Folds `arrivals` (in arrival order) into `channel`'s detector; then `next`.
void record(context& ctx, const std::string& channel, std::vector<spike_alert> arrivals,
            std::function<void()> next);

}  // namespace muster::server::crisis::spikes
