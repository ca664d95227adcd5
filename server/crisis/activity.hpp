#pragma once
// Who is on an alert right now (collision awareness): alert.view and alert.draft set a
// short-lived entry per connection in the engine's ephemeral store, announced in the alert's
// home channel on every node as alert.activity (outside the timeline); an entry expires unless
// refreshed and goes when its connection unsubscribes or leaves. Callable from any thread.
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "server/crisis/records.hpp"
#include "server/crisis/request.hpp"
#include "server/rate_limiter.hpp"

namespace muster::server::crisis::activity {

/// One alert a connection is on: {channel, alert id}.
using target = std::pair<std::string, std::string>;

/// What this node's connections are on, and how often they may say so. Plain logic,
/// thread-safe (one mutex).
class tracker {
 public:
  static constexpr double rate = 5;               // signals per second per connection
  static constexpr double burst = 20;             // ... after a quiet spell
  static constexpr std::size_t max_targets = 16;  // alerts one connection is on at once

  /// Takes a signal token for `client` at `now_ms`; false, with the wait, when none is left.
  bool admit(const std::string& client, std::int64_t now_ms, long& retry_ms);
  /// `client` is on `t` in `state` at `now_ms`; `since` becomes when it entered that state (a
  /// refresh within `ttl_ms` keeps it); `evicted` the target pushed out (the oldest) when over
  /// the cap. False when the client is not known (it left meanwhile): nothing noted.
  bool note(const std::string& client, const target& t, const std::string& state,
            std::int64_t now_ms, std::int64_t ttl_ms, std::int64_t& since,
            std::optional<target>& evicted);
  /// `client` left `t`.
  void forget(const std::string& client, const target& t);
  /// `client`'s targets in `channel`, taken off; with `channel` empty, all of them, and the
  /// client is forgotten (it disconnected).
  std::vector<target> leave(const std::string& client, std::string_view channel);
  std::size_t clients() const;

 private:
  struct on_target {
    target t;
    std::string state;
    std::int64_t since = 0;
    std::int64_t last = 0;  // the latest signal
  };
  struct client_state {
    rate_limiter signals;
    std::vector<on_target> targets;  // oldest first
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, client_state> clients_;
};

/// The entries of one alert, one per person (drafting beats viewing; the latest expiry wins),
/// by user id: what alert.get and alert.list show.
std::vector<activity_record> per_person(std::vector<activity_record> entries);
/// Reads the live entries of `channel` under `prefix` (an alert's, or all); failures give none.
void read(context& ctx, const std::string& channel, const std::string& prefix,
          std::function<void(std::vector<activity_record>)> then);
/// `[{"user","name","state","since","expires_at"},…]` of `entries` (already per person).
void write_people(protocol::json_writer& w, const std::vector<activity_record>& entries);

// Commands: rows of the command table.
/// alert.view and alert.draft (`active` false: no longer).
void signal(context& ctx, request& r, done_fn done);

/// `who`'s connection unsubscribed from `channel` (or disconnected, `channel` empty): its
/// entries there go, announced.
void left(context& ctx, const actor& who, std::string_view channel);

}  // namespace muster::server::crisis::activity
