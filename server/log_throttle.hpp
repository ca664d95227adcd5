#pragma once
// Lets a repeated log line through at most once per interval and counts the ones held back,
// so a flood of refusals is said without drowning the log. Any thread may call it.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

namespace muster::server {

class log_throttle {
 public:
  explicit log_throttle(std::chrono::steady_clock::duration interval) : interval_(interval) {}

  /// The number of occurrences held back since the last one let through, when this one may be
  /// logged; none when it is to be held back.
  std::optional<std::uint64_t> allow(std::chrono::steady_clock::time_point now) {
    auto at = now.time_since_epoch().count();
    auto last = last_.load(std::memory_order_relaxed);
    if (last != 0 && at - last < interval_.count()) {
      held_.fetch_add(1, std::memory_order_relaxed);
      return std::nullopt;
    }
    if (!last_.compare_exchange_strong(last, at, std::memory_order_relaxed)) {
      held_.fetch_add(1, std::memory_order_relaxed);
      return std::nullopt;
    }
    return held_.exchange(0, std::memory_order_relaxed);
  }

 private:
  const std::chrono::steady_clock::duration interval_;
  std::atomic<std::chrono::steady_clock::rep> last_{0};
  std::atomic<std::uint64_t> held_{0};
};

}  // namespace muster::server
