#include "server/crisis/guidance.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <set>

#include "server/crisis/channels.hpp"
#include "server/crisis/fan_in.hpp"
#include "server/crisis/keys.hpp"
#include "server/crisis/records.hpp"
#include "server/crisis/store.hpp"

namespace muster::server::crisis::guidance {

using protocol::errc;
using protocol::json_writer;

namespace {

constexpr std::string_view kinds[] = {"holding_statement", "talking_points", "do_dont", "update"};
constexpr std::size_t max_body = 32 * 1024;

struct post_input {
  std::string kind, title, body;
  std::int64_t ack_within_s = 0;
};

constexpr std::int64_t max_ack_within_s = 7LL * 86400;

std::optional<post_input> read_post(request& r, const done_fn& done) {
  post_input in;
  in.kind = r.f.str("kind", true, 32);
  in.title = r.f.str("title", true, 256);
  in.body = r.f.str("body", true, max_body);
  if (!r.f.error() && std::find(std::begin(kinds), std::end(kinds), in.kind) == std::end(kinds))
    r.f.fail("kind", "must be one of holding_statement talking_points do_dont update");
  auto within = r.f.uint("ack_within_s");
  if (!r.f.error() && within && (*within < 1 || *within > max_ack_within_s))
    r.f.fail("ack_within_s", "must be between 1 and 604800");
  in.ack_within_s = static_cast<std::int64_t>(within.value_or(0));
  if (!fields_ok(r, done)) return std::nullopt;
  return in;
}

// What a stored version files: its reminder and, with a deadline, its overdue check; in the
// version's own commit (store::modify).
std::vector<index_write> schedule(const context& ctx, const guidance_record& g) {
  auto item = keys::channel_item(g.channel, g.id);
  auto remind_at =
      g.version_at() +
      std::chrono::duration_cast<std::chrono::milliseconds>(ctx.opts.reminder_after).count();
  std::vector<index_write> out{{std::string(keys::remind_index), item, remind_at}};
  if (g.ack_deadline) out.push_back({std::string(keys::overdue_index), item, g.ack_deadline});
  return out;
}

// Posts to one channel: the new post is pinned for its kind, replacing the previous one.
void post_to(context& ctx, const std::string& channel, const post_input& in, const actor& who,
             done_fn done) {
  guidance_record g;
  g.id = new_id('g', ctx.clock());
  g.channel = channel;
  g.kind = in.kind;
  g.title = in.title;
  g.body = in.body;
  g.by = {who.id.subject, who.id.name};
  g.posted_at = ctx.now_ms();
  g.ack_within_s = in.ack_within_s;
  if (in.ack_within_s) g.ack_deadline = g.posted_at + in.ack_within_s * 1000;
  auto decide = [&ctx, g, by = who.info()](const std::vector<doc>& d) mutable {
    plan p;
    g.supersedes.reset();
    if (d[0].version) g.supersedes = d[0].value;
    auto json = encode(g);
    p.writes.push_back({keys::guidance(g.id), 0, json});
    p.writes.push_back({d[0].key, d[0].version, g.id});
    json_writer data;
    data.begin_object().raw_field("guidance", json).end_object();
    p.events.push_back({"guidance.posted", data.take(), by});
    p.indexes = schedule(ctx, g);
    p.reply = [&ctx, json](const commit_result& r) {
      ctx.stats.add(counter::guidance_posted);
      json_writer w;
      w.begin_object().raw_field("guidance", json).field("offset", r.offsets[0]);
      return result::success(w.end_object().take());
    };
    return p;
  };
  ctx.st.modify(channel, {keys::pinned(in.kind)}, std::move(decide), std::move(done));
}

struct revise_input {
  std::string gid, title, body, changes;
};

// The next version of `g` (which the caller checked is pinned), made by `by` at `now`.
void next_version(guidance_record& g, const revise_input& in, const person& by, std::int64_t now) {
  g.history.push_back(
      {g.version, g.version_at(), g.revised_by.empty() ? g.by : g.revised_by, g.changes});
  if (g.history.size() > max_guidance_history) g.history.erase(g.history.begin());
  ++g.version;
  if (!in.title.empty()) g.title = in.title;
  g.body = in.body;
  g.changes = in.changes;
  g.revised_at = now;
  g.revised_by = by;
  g.reminded = false;  // everyone must acknowledge the new text: reminded and chased afresh
  g.overdue = false;
  g.ack_deadline = g.ack_within_s ? now + g.ack_within_s * 1000 : 0;
}

// Revises the post `in.gid` of `kind` if it is still the pinned one: one compare-and-set over
// the post and the pin.
void revise_pinned(context& ctx, const std::string& channel, const std::string& kind,
                   const revise_input& in, const actor& who, done_fn done) {
  auto decide = [&ctx, in, who, where = channel](const std::vector<doc>& d) {
    auto g = d[0].version ? decoded<guidance_record>(d[0].value) : std::nullopt;
    if (!g)
      return plan::finish(
          result::failure(errc::not_found, "no guidance " + in.gid + " in " + where));
    if (d[1].value != in.gid)
      return plan::finish(result::failure(
          errc::invalid_state, "guidance " + in.gid + " was superseded by " + d[1].value));
    if (g->body == in.body && (in.title.empty() || in.title == g->title)) {
      json_writer w;
      w.begin_object().raw_field("guidance", d[0].value).field("changed", false).end_object();
      return plan::finish(result::success(w.take()));
    }
    person by{who.id.subject, who.id.name};
    next_version(*g, in, by, ctx.now_ms());
    auto json = encode(*g);
    plan p;
    p.writes.push_back({d[0].key, d[0].version, json});
    json_writer data;
    data.begin_object().raw_field("guidance", json).raw_field("by", encode(by)).end_object();
    p.events.push_back({"guidance.revised", data.take(), who.info()});
    p.indexes = schedule(ctx, *g);
    p.reply = [json](const commit_result& r) {
      json_writer w;
      w.begin_object().raw_field("guidance", json).field("changed", true);
      return result::success(w.field("offset", r.offsets[0]).end_object().take());
    };
    return p;
  };
  ctx.st.modify(channel, {keys::guidance(in.gid), keys::pinned(kind)}, std::move(decide),
                std::move(done));
}

// To everyone: posted in every crisis channel that is not resolved, each with its own acks.
void post_to_all(context& ctx, const post_input& in, const actor& who, done_fn done) {
  channels::list_records(
      ctx, who,
      [&ctx, in, who, done](std::vector<channel_record> all) {
        std::vector<std::string> targets;
        for (auto& c : all)
          if (c.status != "resolved") targets.push_back(c.channel);
        if (targets.empty())
          return done(result::failure(errc::not_found, "no open crisis channel"));
        auto put = fan_in<result>::start(targets.size(), [done](std::vector<result> rs) {
          json_writer w;
          w.begin_object().key("posted").begin_array();
          const result* failed = nullptr;
          for (auto& r : rs) {
            if (r.ok)
              w.raw(r.json);
            else if (!failed)
              failed = &r;
          }
          w.end_array();
          if (std::none_of(rs.begin(), rs.end(), [](const result& r) { return r.ok; }))
            return done(*failed);
          if (failed) w.field("failed", failed->message);
          done(result::success(w.end_object().take()));
        });
        for (std::size_t i = 0; i < targets.size(); ++i)
          post_to(ctx, targets[i], in, who, [put, i](result r) { put(i, std::move(r)); });
      },
      done);
}

}  // namespace

void post(context& ctx, request& r, done_fn done) {
  auto in = read_post(r, done);
  if (!in) return;
  if (r.channel == "*") return post_to_all(ctx, *in, r.who, std::move(done));
  post_to(ctx, r.channel, *in, r.who, std::move(done));
}

void revise(context& ctx, request& r, done_fn done) {
  revise_input in;
  in.gid = r.f.str("guidance", true, 64);
  in.body = r.f.str("body", true, max_body);
  in.changes = r.f.str("changes", true, 1024);
  in.title = r.f.str("title", false, 256);
  if (!fields_ok(r, done)) return;
  auto channel = r.channel;
  ctx.st.read(
      channel, {keys::guidance(in.gid)}, "",
      [&ctx, in, channel, who = r.who, done](std::vector<doc> d) {
        auto g = d[0].version ? decoded<guidance_record>(d[0].value) : std::nullopt;
        if (!g)
          return done(result::failure(errc::not_found, "no guidance " + in.gid + " in " + channel));
        revise_pinned(ctx, channel, g->kind, in, who, done);
      },
      done);
}

namespace {

// The caller's own state of one pinned post: what they acknowledged and how far they got.
void write_mine(json_writer& w, const std::string& gid, const doc& ack, const doc& receipt) {
  auto a = ack.version ? decoded<ack_record>(ack.value) : std::nullopt;
  auto r = receipt.version ? decoded<receipt_record>(receipt.value) : std::nullopt;
  w.begin_object().field("guidance", gid);
  w.field("acked_version", static_cast<std::uint64_t>(a ? a->version : 0));
  w.field("acked_at", a ? a->at : 0);
  w.field("receipt_version", static_cast<std::uint64_t>(r ? r->version : 0));
  w.field("delivered_at", r ? r->delivered_at : 0).field("read_at", r ? r->read_at : 0);
  w.end_object();
}

}  // namespace

void list(context& ctx, request& r, done_fn done) {
  auto channel = r.channel;
  auto user = r.who.id.subject;
  ctx.st.list(
      channel, std::string(keys::pinned_prefix), "",
      [&ctx, channel, user, done](std::vector<doc> pins) {
        // One read: the posts, then the caller's acks, then the caller's receipts.
        std::vector<std::string> gids, keys;
        for (auto& p : pins) gids.push_back(p.value);
        if (gids.empty()) return done(result::success("{\"pinned\":[],\"mine\":[]}"));
        for (auto& g : gids) keys.push_back(keys::guidance(g));
        for (auto& g : gids) keys.push_back(keys::ack(g, user));
        for (auto& g : gids) keys.push_back(keys::receipt(g, user));
        ctx.st.read(
            channel, std::move(keys), "",
            [done, gids](std::vector<doc> d) {
              auto n = gids.size();
              json_writer w;
              w.begin_object().key("pinned").begin_array();
              for (std::size_t i = 0; i < n; ++i)
                if (d[i].version > 0) w.raw(d[i].value);
              w.end_array().key("mine").begin_array();
              for (std::size_t i = 0; i < n; ++i)
                if (d[i].version > 0) write_mine(w, gids[i], d[n + i], d[2 * n + i]);
              done(result::success(w.end_array().end_object().take()));
            },
            done);
      },
      done);
}

void pinned_versions(context& ctx, const std::string& channel,
                     std::function<void(std::vector<pinned_version>)> then, done_fn done) {
  ctx.st.list(
      channel, std::string(keys::pinned_prefix), "",
      [&ctx, channel, then, done](std::vector<doc> pins) {
        std::vector<std::string> ids;
        for (auto& p : pins) ids.push_back(keys::guidance(p.value));
        if (ids.empty()) return then({});
        ctx.st.read(
            channel, std::move(ids), "",
            [then](std::vector<doc> posts) {
              std::vector<pinned_version> out;
              for (auto& d : posts)
                if (auto g = d.version ? decoded<guidance_record>(d.value) : std::nullopt)
                  out.push_back({g->id, g->kind, g->version});
              then(std::move(out));
            },
            done);
      },
      done);
}

}  // namespace muster::server::crisis::guidance
