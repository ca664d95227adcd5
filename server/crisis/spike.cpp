#include "server/crisis/spike.hpp"

#include <algorithm>
#include <cstdint>

namespace muster::server::crisis {

namespace {

std::int64_t ms(std::chrono::seconds s) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(s).count();
}

std::int64_t bucket_ms(const spike_policy& p) {
  return std::max<std::int64_t>(1, ms(p.window) / std::max<std::uint32_t>(1, p.buckets_per_window));
}

constexpr double hour_ms = 3600.0 * 1000.0;

// Reach comes from bots: a sum that would wrap stops at the top instead.
std::uint64_t add(std::uint64_t a, std::uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

}  // namespace

spike_figures measure(spike_state& s, const spike_policy& p, time_point now_tp) {
  auto now = to_ms(now_tp);
  auto w = ms(p.window), width = bucket_ms(p);
  auto window_start = now - w;
  auto baseline_start = window_start - ms(p.baseline);
  std::erase_if(s.buckets,
                [&](const spike_bucket& b) { return b.start_ms + width <= baseline_start; });
  spike_figures f;
  if (w <= 0) return f;  // no window: nothing to measure
  std::uint64_t base_alerts = 0, base_reach = 0, reach = 0;
  for (const auto& b : s.buckets) {
    if (b.start_ms + width > window_start) {  // in the window, to a bucket's precision
      f.alerts_in_window += b.alerts;
      reach = add(reach, b.reach);
    } else {
      base_alerts += b.alerts;
      base_reach = add(base_reach, b.reach);
    }
  }
  // The baseline spans what history there is before the window, at most `baseline`.
  auto span = s.first_ms ? window_start - std::max(s.first_ms, baseline_start) : 0;
  f.baseline_known = span >= w;
  f.rate = f.alerts_in_window / (w / hour_ms);
  f.reach_rate = static_cast<double>(reach) / (w / hour_ms);
  if (span > 0) {
    f.baseline_rate = base_alerts / (span / hour_ms);
    f.baseline_reach_rate = static_cast<double>(base_reach) / (span / hour_ms);
    auto floor =
        std::max<double>(static_cast<double>(base_alerts), p.min_alerts) / (span / hour_ms);
    f.factor = f.rate / floor;
    if (base_reach > 0) f.reach_factor = f.reach_rate / f.baseline_reach_rate;
  }
  if (!s.armed && f.factor < p.rearm_factor && f.reach_factor < p.rearm_factor) s.armed = true;
  return f;
}

std::optional<spike> observe_alert(spike_state& s, const spike_policy& p, time_point now_tp,
                                   std::uint64_t reach) {
  auto now = to_ms(now_tp);
  if (s.first_ms == 0 || now < s.first_ms) s.first_ms = now;
  auto width = bucket_ms(p);
  auto start = now - ((now % width) + width) % width;
  // Kept in time order even when a node's clock is a little behind another's.
  auto it = std::lower_bound(s.buckets.begin(), s.buckets.end(), start,
                             [](const spike_bucket& b, std::int64_t t) { return b.start_ms < t; });
  if (it == s.buckets.end() || it->start_ms != start) it = s.buckets.insert(it, {start, 0, 0});
  ++it->alerts;
  it->reach = add(it->reach, reach);
  auto f = measure(s, p, now_tp);
  if (!s.armed || !f.baseline_known || f.alerts_in_window < p.min_alerts) return std::nullopt;
  bool by_count = f.factor >= p.factor, by_reach = f.reach_factor >= p.factor;
  if (!by_count && !by_reach) return std::nullopt;
  s.armed = false;
  return spike{f, !by_count};
}

}  // namespace muster::server::crisis
