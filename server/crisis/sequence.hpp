#pragma once
// Runs steps 0..n-1 one after another, each calling its `next` when it is done (at once, or
// later on any thread), then `done`; a step that finishes inline does not nest the next one
// inside it, so thousands of inline steps (the memory engine answers at once) use a constant
// stack. Thread-safe.
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

namespace muster::server::crisis {

class sequence : public std::enable_shared_from_this<sequence> {
 public:
  using step_fn = std::function<void(std::size_t i, std::function<void()> next)>;

  static void run(std::size_t n, step_fn step, std::function<void()> done) {
    std::shared_ptr<sequence>(new sequence(n, std::move(step), std::move(done)))->advance(0);
  }

 private:
  sequence(std::size_t n, step_fn step, std::function<void()> done)
      : n_(n), step_(std::move(step)), done_(std::move(done)) {}

  // Asks for step `i`; whoever is not already looping runs the steps asked for.
  void advance(std::size_t i) {
    {
      std::lock_guard lock(mutex_);
      next_ = i;
      if (running_) return;  // a step finished inline: the loop below takes it
      running_ = true;
    }
    for (;;) {
      std::size_t k;
      {
        std::lock_guard lock(mutex_);
        if (!next_) {
          running_ = false;  // the step goes on elsewhere; its `next` picks up from there
          return;
        }
        k = *next_;
        next_.reset();
        if (k >= n_) running_ = false;
      }
      if (k >= n_) return done_();
      step_(k, [self = shared_from_this(), k] { self->advance(k + 1); });
    }
  }

  std::size_t n_;
  step_fn step_;
  std::function<void()> done_;
  std::mutex mutex_;
  std::optional<std::size_t> next_;
  bool running_ = false;
};

}  // namespace muster::server::crisis
