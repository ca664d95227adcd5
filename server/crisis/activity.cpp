#include "server/crisis/activity.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "protocol/codec.hpp"
#include "server/crisis/keys.hpp"
#include "server/crisis/store.hpp"

namespace muster::server::crisis::activity {

using protocol::errc;
using protocol::json_writer;

namespace {
rate_limiter::clock::time_point at(std::int64_t ms) {
  return rate_limiter::clock::time_point(std::chrono::milliseconds(ms));
}
}  // namespace

bool tracker::admit(const std::string& client, std::int64_t now_ms, long& retry_ms) {
  std::lock_guard lock(mutex_);
  auto it = clients_.find(client);
  if (it == clients_.end())
    it = clients_.emplace(client, client_state{rate_limiter(rate, burst, at(now_ms)), {}}).first;
  if (it->second.signals.try_take(at(now_ms))) return true;
  retry_ms = it->second.signals.retry_after_ms();
  return false;
}

bool tracker::note(const std::string& client, const target& t, const std::string& state,
                   std::int64_t now_ms, std::int64_t ttl_ms, std::int64_t& since,
                   std::optional<target>& evicted) {
  std::lock_guard lock(mutex_);
  since = now_ms;
  evicted.reset();
  auto it = clients_.find(client);
  if (it == clients_.end()) return false;
  auto& targets = it->second.targets;
  auto same = std::find_if(targets.begin(), targets.end(), [&](auto& o) { return o.t == t; });
  if (same != targets.end()) {
    // Still the same state, and not lapsed in between: it keeps its start.
    if (same->state == state && now_ms - same->last <= ttl_ms) since = same->since;
    targets.erase(same);
  }
  targets.push_back({t, state, since, now_ms});
  if (targets.size() > max_targets) {
    evicted = targets.front().t;
    targets.erase(targets.begin());
  }
  return true;
}

void tracker::forget(const std::string& client, const target& t) {
  std::lock_guard lock(mutex_);
  auto it = clients_.find(client);
  if (it != clients_.end()) std::erase_if(it->second.targets, [&](auto& o) { return o.t == t; });
}

std::vector<target> tracker::leave(const std::string& client, std::string_view channel) {
  std::lock_guard lock(mutex_);
  std::vector<target> out;
  auto it = clients_.find(client);
  if (it == clients_.end()) return out;
  auto& targets = it->second.targets;
  for (auto t = targets.begin(); t != targets.end();) {
    if (channel.empty() || t->t.first == channel) {
      out.push_back(std::move(t->t));
      t = targets.erase(t);
    } else {
      ++t;
    }
  }
  if (channel.empty()) clients_.erase(it);
  return out;
}

std::size_t tracker::clients() const {
  std::lock_guard lock(mutex_);
  return clients_.size();
}

std::vector<activity_record> per_person(std::vector<activity_record> entries) {
  std::map<std::string, activity_record> best;
  for (auto& e : entries) {
    auto [it, fresh] = best.try_emplace(e.user, e);
    if (fresh) continue;
    auto& b = it->second;
    bool stronger = e.state == "drafting" && b.state != "drafting";
    bool same = e.state == b.state;
    if (stronger || (same && e.expires_at > b.expires_at)) b = std::move(e);
  }
  std::vector<activity_record> out;
  for (auto& [user, e] : best) out.push_back(std::move(e));
  return out;
}

void read(context& ctx, const std::string& channel, const std::string& prefix,
          std::function<void(std::vector<activity_record>)> then) {
  ctx.ephemeral.ephemeral_list(
      channel, prefix, [then = std::move(then), channel](std::error_code ec, auto entries) {
        std::vector<activity_record> out;
        // Who is on an alert is a hint: without it the alert is still shown.
        if (ec) spdlog::warn("crisis: activity in {} not read: {}", channel, ec.message());
        for (auto& [key, value] : entries)
          if (auto rec = decoded<activity_record>(value)) out.push_back(std::move(*rec));
        then(std::move(out));
      });
}

void write_people(json_writer& w, const std::vector<activity_record>& entries) {
  w.begin_array();
  for (auto& e : entries) {
    w.begin_object().field("user", e.user).field("name", e.name).field("state", e.state);
    w.field("since", e.since).field("expires_at", e.expires_at).end_object();
  }
  w.end_array();
}

namespace {

// Sets (or clears, state "none") one connection's entry on an alert and announces it.
void announce(context& ctx, const std::string& channel, activity_record rec,
              std::function<void(std::error_code, const std::string&)> then) {
  bool clear = rec.state == "none";
  if (clear) rec.expires_at = 0;
  auto json = encode(rec);
  auto frame = protocol::encode_ephemeral_event(channel, "alert.activity", ctx.now_ms(), rec.client,
                                                rec.name, json);
  ctx.ephemeral.ephemeral_set(channel, keys::activity(rec.alert, rec.client), clear ? "" : json,
                              ctx.opts.activity_ttl, std::move(frame),
                              [then = std::move(then), json](std::error_code ec) {
                                if (then) then(ec, json);
                              });
}

activity_record cleared(const context& ctx, const actor& who, const target& t) {
  return {t.second, who.id.subject, who.id.name, who.client, "none", ctx.now_ms(), 0};
}

void log_failure(std::error_code ec, const std::string&) {
  if (ec) spdlog::warn("crisis: end of activity not announced: {}", ec.message());
}

}  // namespace

void signal(context& ctx, request& r, done_fn done) {
  auto id = r.f.str("alert", true, 64);
  auto active = r.f.flag("active").value_or(true);
  if (!fields_ok(r, done)) return;
  auto op = std::string(r.cmd.op());
  if (r.who.client.empty())
    return done(result::failure(errc::bad_request, op + " needs a WebSocket connection"));
  long wait = 0;
  if (!ctx.activity.admit(r.who.client, ctx.now_ms(), wait))
    return done(result::failure(errc::rate_limited, "too many activity signals; retry after " +
                                                        std::to_string(wait) + " ms"));
  auto now = ctx.now_ms();
  activity_record rec{id,
                      r.who.id.subject,
                      r.who.id.name,
                      r.who.client,
                      !active               ? "none"
                      : op == "alert.draft" ? "drafting"
                                            : "viewing",
                      now,
                      now + ctx.opts.activity_ttl.count()};
  target t{r.channel, id};
  ctx.st.read(
      r.channel, {keys::alert(id)}, "",
      [&ctx, rec, t, who = r.who, done](std::vector<doc> d) mutable {
        if (d[0].version == 0)
          return done(
              result::failure(errc::not_found, "no alert " + t.second + " in this channel"));
        // Noted first, so that the entry announced says since when.
        std::optional<target> out;
        if (rec.state == "none") {
          ctx.activity.forget(who.client, t);
        } else if (!ctx.activity.note(who.client, t, rec.state, std::int64_t{rec.since},
                                      ctx.opts.activity_ttl.count(), rec.since, out)) {
          // The connection left while the alert was read: nothing to announce.
          return done(result::failure(errc::unavailable, "the connection closed"));
        }
        if (out) announce(ctx, out->first, cleared(ctx, who, *out), log_failure);
        announce(ctx, t.first, rec, [done](std::error_code ec, const std::string& json) {
          if (ec) return done(engine_failure("cannot announce activity", ec, false));
          json_writer w;
          done(result::success(w.begin_object().raw_field("activity", json).end_object().take()));
        });
      },
      done);
}

void left(context& ctx, const actor& who, std::string_view channel) {
  for (auto& t : ctx.activity.leave(who.client, channel))
    announce(ctx, t.first, cleared(ctx, who, t), log_failure);
}

}  // namespace muster::server::crisis::activity
