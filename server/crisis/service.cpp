#include "server/crisis/service.hpp"

#include "server/crisis/activity.hpp"
#include "server/crisis/audience.hpp"
#include "server/crisis/channels.hpp"
#include "server/crisis/escalation.hpp"
#include "server/crisis/guidance.hpp"
#include "server/crisis/ingestion.hpp"
#include "server/crisis/sequence.hpp"

namespace muster::server::crisis {

service::service(engine& eng, const options& opts, metrics& m, clock_fn clock)
    : opts_(opts),
      store_(eng, eng, m),
      // store, streams, docs, indexes, ephemeral, presence: the engine's concerns.
      ctx_{store_, eng, eng, eng, eng, eng, activity_, spikes_, opts_, m, std::move(clock)} {}

void service::push_http(std::string_view body, const std::string& idempotency_key, const actor& who,
                        done_fn done) {
  ingestion::push_body(ctx_, body, idempotency_key, who, std::move(done));
}

void service::channels(const actor& who, done_fn done) {
  channels::list_json(ctx_, who, std::move(done));
}

void service::timeline(std::string channel, stats::timeline_fn done) {
  stats::timeline(ctx_, std::move(channel), std::move(done));
}

void service::report(std::string channel, report_format format, const actor& who, done_fn done) {
  if (!who.id.may_access(channel))
    return done(result::failure(protocol::errc::forbidden,
                                "channel is not in the token's channel allow-list"));
  reports_.build(ctx_, std::move(channel), format, std::move(done));
}

void service::stats(std::optional<std::string> channel, const actor& who, done_fn done) {
  stats::of(ctx_, std::move(channel), who, std::move(done));
}

void service::sighting(const actor& who, std::string_view channel) {
  // Nobody to know: no user, or (auth disabled, no name given) just a connection id.
  if (who.id.subject.empty() || who.id.subject == who.client) return;
  people::sighting now;
  if (people_.seen(who, channel, ctx_.now_ms(), now)) people::record(ctx_, now);
}

void service::seen(const actor& who) {
  sighting(who, {});
}

void service::left(const std::string& channel, const actor& who) {
  activity::left(ctx_, who, channel);
}

void service::disconnected(const actor& who) {
  sighting(who, {});
  activity::left(ctx_, who, {});
}

void service::joined(const std::string& channel, const actor& who) {
  sighting(who, channel);
  audience::note_member(ctx_, channel, who);
}

namespace {
// Writes the directory's pending sightings one after another, then `next`.
void write_sightings(context& ctx, std::shared_ptr<std::vector<people::sighting>> all,
                     std::function<void()> then) {
  sequence::run(
      all->size(),
      [&ctx, all](std::size_t i, std::function<void()> next) {
        people::record(ctx, (*all)[i], std::move(next));
      },
      std::move(then));
}
}  // namespace

void service::scan(std::function<void(bool more)> done) {
  // The directory's writes run beside the pass (one batch at a time), never ahead of it:
  // a burst of sightings must not hold up expiries and escalations.
  if (!writing_people_.exchange(true)) {
    auto pending = std::make_shared<std::vector<people::sighting>>(people_.take());
    write_sightings(ctx_, pending, [this] { writing_people_ = false; });
  }
  if (!writing_spikes_.exchange(true)) {
    auto pending =
        std::make_shared<std::vector<std::pair<std::string, std::vector<spike_alert>>>>();
    for (auto& entry : spikes_.take()) pending->emplace_back(entry.first, std::move(entry.second));
    sequence::run(
        pending->size(),
        [this, pending](std::size_t i, std::function<void()> next) {
          auto& [channel, arrivals] = (*pending)[i];
          spikes::record(ctx_, channel, std::move(arrivals), std::move(next));
        },
        [this] { writing_spikes_ = false; });
  }
  escalation::scan(ctx_, std::move(done));
}

}  // namespace muster::server::crisis
