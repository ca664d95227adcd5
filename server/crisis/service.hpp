#pragma once
// The crisis workflow on top of any engine: owns the crisis layer's context and is what the
// node, the HTTP API and the scheduler talk to. Commands themselves run through the command
// table (server/command_table.hpp). State lives in engine documents changed only by
// compare-and-set commits, so every node may serve any request and exactly one of several
// racing updates wins. No sockets: callable from any thread; completion handlers run on
// whatever thread the engine answers on.
#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "server/crisis/activity.hpp"
#include "server/crisis/context.hpp"
#include "server/crisis/keys.hpp"
#include "server/crisis/people.hpp"
#include "server/crisis/spikes.hpp"
#include "server/crisis/report.hpp"
#include "server/crisis/report_worker.hpp"
#include "server/crisis/stats.hpp"
#include "server/crisis/store.hpp"

namespace muster::server::crisis {

class service {
 public:
  using clock_fn = context::clock_fn;
  /// `opts` must outlive the service (it is read on every command, so changes apply).
  service(engine& eng, const options& opts, metrics& m,
          clock_fn clock = &std::chrono::system_clock::now);
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  context& ctx() { return ctx_; }
  const options& opts() const { return opts_; }

  /// POST /api/v1/alerts: a native alert body or a PagerDuty Events API v2 body.
  void push_http(std::string_view body, const std::string& idempotency_key, const actor& who,
                 done_fn done);
  /// The crisis channels `who` may see, as `channel.list` answers.
  void channels(const actor& who, done_fn done);
  /// Every event of `channel` as JSON Lines (see stats::timeline).
  void timeline(std::string channel, stats::timeline_fn done);
  /// The post-crisis report of `channel` built from its timeline (PROTOCOL.md 20.5): on success
  /// the result's `json` is the body in `format`. `forbidden` outside the actor's allow-list,
  /// `not_found` for a channel with no events, `unavailable` when the timeline cannot be read.
  void report(std::string channel, report_format format, const actor& who, done_fn done);
  /// Stats for one channel, or for every crisis channel the actor may see.
  void stats(std::optional<std::string> channel, const actor& who, done_fn done);
  /// `who` connected: the directory of people notes them.
  void seen(const actor& who);
  /// `who`'s connection closed: last seen now; what it was on (alert.view, alert.draft) ends.
  void disconnected(const actor& who);
  /// `who`'s connection unsubscribed from `channel`: what it was on there ends.
  void left(const std::string& channel, const actor& who);
  /// `who` subscribed to `channel`: the directory notes it; an ambassador in a crisis channel
  /// becomes a member (guidance there expects their acknowledgement).
  void joined(const std::string& channel, const actor& who);
  /// One pass: the directory's pending sightings and the spike detectors' new alerts (beside
  /// it), then due escalations, reminders and expiries;
  /// `done(more)` runs when it finished, `more` if due items were left for the next pass.
  void scan(std::function<void(bool more)> done);

  static constexpr std::string_view channels_index = keys::channels_index;
  static constexpr std::string_view due_index = keys::due_index;
  static constexpr std::string_view remind_index = keys::remind_index;

 private:
  void sighting(const actor& who, std::string_view channel);

  const options& opts_;
  store store_;
  activity::tracker activity_;  // before ctx_, which refers to it
  spikes::batch spikes_;        // likewise
  context ctx_;
  people::tracker people_;
  std::atomic<bool> writing_people_{false};  // a batch of directory writes is under way
  std::atomic<bool> writing_spikes_{false};  // a batch of spike detector writes is under way
  report_worker reports_;  // last: stopped before what its jobs use
};

}  // namespace muster::server::crisis
