#pragma once
// Waits for `n` asynchronous results (arriving on any threads) and hands them over at once,
// in the order of their slots, from the thread that delivered the last one.
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace muster::server::crisis {

template <class T>
class fan_in {
 public:
  using done_fn = std::function<void(std::vector<T>)>;
  /// Returns the slot setter `put(i, value)`; with n == 0, `done` runs at once.
  static std::function<void(std::size_t, T)> start(std::size_t n, done_fn done) {
    auto self = std::shared_ptr<fan_in>(new fan_in(n, std::move(done)));
    if (n == 0) self->done_({});
    return [self](std::size_t i, T value) { self->put(i, std::move(value)); };
  }

 private:
  fan_in(std::size_t n, done_fn done) : values_(n), left_(n), done_(std::move(done)) {}
  void put(std::size_t i, T value) {
    {
      std::lock_guard lock(mutex_);
      values_[i] = std::move(value);
      if (--left_ > 0) return;
    }
    done_(std::move(values_));
  }
  std::mutex mutex_;
  std::vector<T> values_;
  std::size_t left_;
  done_fn done_;
};

}  // namespace muster::server::crisis
