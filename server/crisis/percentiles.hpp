#pragma once
// The medians and percentiles every crisis figure uses (stats, the report), defined once:
// median = the middle sample, or for an even count the mean of the two middle ones rounded
// toward zero; p90 = the nearest rank, the sample at rank ceil(0.9 n) in ascending order;
// both -1 with no sample. Pure functions.
#include <algorithm>
#include <cstdint>
#include <vector>

namespace muster::server::crisis {

inline std::int64_t median_sorted(const std::vector<std::int64_t>& sorted) {
  if (sorted.empty()) return -1;
  auto n = sorted.size();
  return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}
inline std::int64_t p90_sorted(const std::vector<std::int64_t>& sorted) {
  if (sorted.empty()) return -1;
  return sorted[(9 * sorted.size() + 9) / 10 - 1];
}
inline std::int64_t median(std::vector<std::int64_t> v) {
  std::sort(v.begin(), v.end());
  return median_sorted(v);
}
inline std::int64_t p90(std::vector<std::int64_t> v) {
  std::sort(v.begin(), v.end());
  return p90_sorted(v);
}

/// Whether a proposal's decision counts as an approval delay (a lead decided it, and the
/// clocks of the nodes involved did not put the decision before the proposal).
inline bool counts_as_approval_delay(bool automatic, std::int64_t at, std::int64_t decided_at) {
  return !automatic && at > 0 && decided_at >= at;
}

}  // namespace muster::server::crisis
