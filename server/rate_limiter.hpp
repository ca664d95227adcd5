#pragma once
// Token bucket: `rate` tokens per second up to `burst`. Plain value type, owned by one session.
#include <algorithm>
#include <chrono>

namespace muster::server {

class rate_limiter {
 public:
  using clock = std::chrono::steady_clock;
  rate_limiter(double rate, double burst, clock::time_point now = clock::now())
      : rate_(rate), burst_(burst), tokens_(burst), last_(now) {}

  /// Takes one token if available.
  bool try_take(clock::time_point now = clock::now()) {
    refill(now);
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }
  /// Milliseconds until one token is available.
  long retry_after_ms() const {
    return static_cast<long>(std::max(0.0, (1.0 - tokens_) / rate_ * 1000.0)) + 1;
  }

 private:
  void refill(clock::time_point now) {
    double dt = std::chrono::duration<double>(now - last_).count();
    if (dt > 0) {
      tokens_ = std::min(burst_, tokens_ + dt * rate_);
      last_ = now;
    }
  }
  double rate_;
  double burst_;
  double tokens_;
  clock::time_point last_;
};

}  // namespace muster::server
