#pragma once
// Short-lived entries per channel for the engines that keep them in process (memory,
// embedded): each lives until its deadline; setting one hands its event to the sink, outside the
// stream. Thread-safe (one mutex; the sink is called under it, so changes stay in order).
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/engine/engine.hpp"

namespace muster::server {

class ephemeral_table {
 public:
  using clock_fn = std::function<std::chrono::system_clock::time_point()>;
  explicit ephemeral_table(clock_fn clock) : clock_(std::move(clock)) {}
  void set_sink(engine_sink* sink) { sink_ = sink; }
  /// Sets (or, with an empty `value`, removes) `key` and delivers `event`.
  void set(std::string_view channel, std::string key, std::string value,
           std::chrono::milliseconds ttl, std::string event);
  /// The live entries under `prefix`, by key (expired ones are dropped on the way).
  std::vector<std::pair<std::string, std::string>> list(std::string_view channel,
                                                        std::string_view prefix);
  /// Drops every expired entry.
  void sweep();
  std::size_t size() const;

 private:
  struct entry {
    std::string value;
    std::int64_t expires_ms = 0;
  };
  using entries = std::map<std::string, entry, std::less<>>;
  std::int64_t now_ms() const;

  clock_fn clock_;
  mutable std::mutex mutex_;
  engine_sink* sink_ = nullptr;
  std::map<std::string, entries, std::less<>> channels_;
};

}  // namespace muster::server
