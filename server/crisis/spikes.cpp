#include "server/crisis/spikes.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "protocol/json_writer.hpp"
#include "server/crisis/keys.hpp"
#include "server/crisis/store.hpp"

namespace muster::server::crisis::spikes {

using protocol::json_writer;

bool batch::add(const std::string& channel, spike_alert a) {
  std::lock_guard lock(mu_);
  auto& v = pending_[channel];
  if (v.size() >= max_batch) return false;
  v.push_back(std::move(a));
  return true;
}

std::map<std::string, std::vector<spike_alert>> batch::take() {
  std::lock_guard lock(mu_);
  return std::exchange(pending_, {});
}

void keep_recent(std::vector<spike_alert>& recent, spike_alert a, std::int64_t window_ms,
                 std::int64_t now_ms) {
  std::erase_if(recent, [&](const spike_alert& r) { return r.at + window_ms <= now_ms; });
  auto at = std::find_if(recent.begin(), recent.end(),
                         [&](const spike_alert& r) { return r.reach < a.reach; });
  recent.insert(at, std::move(a));
  if (recent.size() > max_spike_recent) recent.resize(max_spike_recent);
}

namespace {

struct found_spike {
  spike s;
  std::int64_t at = 0;
  std::vector<spike_alert> top;
};

std::string spike_data(const std::string& channel, const channel_record* meta,
                       const spike_settings& cfg, const found_spike& f, bool raised) {
  const auto& g = f.s.figures;
  json_writer w;
  w.begin_object().field("channel", channel).field("drill", meta && meta->drill);
  w.field("at", f.at).field("rate", g.rate).field("baseline_rate", g.baseline_rate);
  w.field("factor", g.factor).field("reach_rate", g.reach_rate);
  w.field("baseline_reach_rate", g.baseline_reach_rate).field("reach_factor", g.reach_factor);
  w.field("by_reach", f.s.by_reach).field("alerts_in_window", g.alerts_in_window);
  w.field("window_s", static_cast<std::int64_t>(cfg.policy.window.count()));
  w.field("baseline_s", static_cast<std::int64_t>(cfg.policy.baseline.count()));
  w.key("top").begin_array();
  for (const auto& a : f.top) {
    w.begin_object().field("id", a.id).field("url", a.url).field("author", a.author);
    w.field("reach", a.reach).field("severity", severity_name(a.sev)).end_object();
  }
  w.end_array().field("severity_raised", raised);
  return w.end_object().take();
}

// The detector after `arrivals`, and the spike the first crossing raised, if any.
std::optional<found_spike> observe(spike_record& rec, const spike_settings& cfg,
                                   const std::vector<spike_alert>& arrivals) {
  std::optional<found_spike> found;
  auto window_ms = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.policy.window).count();
  for (const auto& a : arrivals) {
    keep_recent(rec.recent, a, window_ms, a.at);
    auto s = observe_alert(rec.detector, cfg.policy, from_ms(a.at), a.reach);
    if (!s || found) continue;
    found = found_spike{*s, a.at, {}};
    auto n = std::min(top_listed, rec.recent.size());
    found->top.assign(rec.recent.begin(), rec.recent.begin() + static_cast<std::ptrdiff_t>(n));
  }
  return found;
}

}  // namespace

namespace {

// The channel's severity one step up, announced as the server's channel.updated.
void raise_severity(context& ctx, plan& p, channel_record& meta, std::uint64_t version) {
  meta.sev = static_cast<severity>(static_cast<int>(meta.sev) - 1);
  meta.updated_at = ctx.now_ms();
  auto json = encode(meta);
  p.writes.push_back({std::string(keys::meta), version, json});
  json_writer w;
  w.begin_object().raw_field("channel", json).key("changed").strings({"severity"});
  w.raw_field("by", encode(server_person())).end_object();
  p.events.push_back({"channel.updated", w.take(), scheduler().info()});
}

// What folding `arrivals` into the stored detector (d[0]) of a channel (meta d[1]) writes.
plan fold(context& ctx, const spike_settings& cfg, const std::string& channel,
          const std::vector<spike_alert>& arrivals, const std::vector<doc>& d) {
  spike_record rec;
  if (d[0].version > 0 && !decode(d[0].value, rec)) rec = {};  // unreadable: start afresh
  channel_record meta;
  bool have_meta = d[1].version > 0 && decode(d[1].value, meta);
  auto found = observe(rec, cfg, arrivals);
  plan p;
  p.reply = [](const commit_result&) { return result::success("{}"); };
  if (!found) {
    p.writes.push_back({std::string(doc_key), d[0].version, encode(rec)});
    return p;
  }
  ++rec.spikes;
  rec.last_spike_at = found->at;
  bool raised = cfg.raise_severity && have_meta && meta.sev != severity::sev1;
  p.writes.push_back({std::string(doc_key), d[0].version, encode(rec)});
  auto data = spike_data(channel, have_meta ? &meta : nullptr, cfg, *found, raised);
  p.events.push_back({"channel.spike", data, scheduler().info()});
  if (raised) raise_severity(ctx, p, meta, d[1].version);
  std::optional<event_spec> updated;
  if (raised) updated = p.events.back();
  p.reply = [&ctx, channel, data, updated](const commit_result&) {
    ctx.stats.add(counter::spikes);
    if (updated)
      ctx.st.copy_events(std::string(keys::channel_feed), {*updated}, "channel list feed");
    spdlog::info("crisis: spike in {}", channel);
    if (channel != ctx.opts.leads_channel)
      ctx.tell_leads({{"channel.spike", data, scheduler().info()}}, "spike in " + channel);
    return result::success("{}");
  };
  return p;
}

}  // namespace

void record(context& ctx, const std::string& channel, std::vector<spike_alert> arrivals,
            std::function<void()> next) {
  const auto& cfg = ctx.opts.spike_for(channel);
  if (!cfg.enabled || arrivals.empty()) return next();
  auto n = arrivals.size();
  ctx.st.modify(
      channel, {std::string(doc_key), std::string(keys::meta)},
      [&ctx, &cfg, channel, arrivals = std::move(arrivals)](const std::vector<doc>& d) {
        return fold(ctx, cfg, channel, arrivals, d);
      },
      [channel, next = std::move(next), n](result r) {
        if (!r.ok)
          spdlog::warn("crisis: {} new alerts of {} left out of spike detection: {}", n, channel,
                       r.message);
        next();
      });
}

}  // namespace muster::server::crisis::spikes
