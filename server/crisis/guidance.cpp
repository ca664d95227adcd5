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

struct post_input {
  std::string kind, title, body;
};

std::optional<post_input> read_post(request& r, const done_fn& done) {
  post_input in;
  in.kind = r.f.str("kind", true, 32);
  in.title = r.f.str("title", true, 256);
  in.body = r.f.str("body", true, 32 * 1024);
  if (!r.f.error() && std::find(std::begin(kinds), std::end(kinds), in.kind) == std::end(kinds))
    r.f.fail("kind", "must be one of holding_statement talking_points do_dont update");
  if (!fields_ok(r, done)) return std::nullopt;
  return in;
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
    p.reply = [&ctx, g, json](const commit_result& r) {
      ctx.stats.add(counter::guidance_posted);
      auto due =
          g.posted_at +
          std::chrono::duration_cast<std::chrono::milliseconds>(ctx.opts.reminder_after).count();
      ctx.indexes.index_put(std::string(keys::remind_index), keys::channel_item(g.channel, g.id),
                            due, [gid = g.id](std::error_code ec) {
                              if (ec)
                                spdlog::error("crisis: reminder for guidance {} not scheduled: {}",
                                              gid, ec.message());
                            });
      json_writer w;
      w.begin_object().raw_field("guidance", json).field("offset", r.offsets[0]);
      return result::success(w.end_object().take());
    };
    return p;
  };
  ctx.st.modify(channel, {keys::pinned(in.kind)}, std::move(decide), std::move(done));
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

// The acknowledgers of a post and the members still pending.
struct audience {
  std::vector<doc> acks;
  std::vector<std::string> pending;  // member records (JSON) without an ack
};

void read_audience(context& ctx, const std::string& channel, const std::string& gid,
                   std::function<void(audience)> then, done_fn done) {
  ctx.st.list(
      channel, keys::acks_of(gid), "",
      [&ctx, channel, then, done](std::vector<doc> acks) {
        ctx.st.list(
            channel, std::string(keys::member_prefix), "",
            [acks = std::move(acks), then](std::vector<doc> members) mutable {
              std::set<std::string> acked;
              for (auto& a : acks)
                if (auto rec = decoded<ack_record>(a.value)) acked.insert(rec->user);
              audience out;
              for (auto& m : members) {
                auto rec = decoded<member_record>(m.value);
                if (rec && !acked.count(rec->user)) out.pending.push_back(m.value);
              }
              out.acks = std::move(acks);
              then(std::move(out));
            },
            done);
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

void ack(context& ctx, request& r, done_fn done) {
  auto gid = r.f.str("guidance", true, 64);
  if (!fields_ok(r, done)) return;
  auto channel = r.channel;
  auto who = r.who;
  ctx.st.read(
      channel, {keys::guidance(gid)}, "",
      [&ctx, channel, gid, who, done](std::vector<doc> d) {
        if (d[0].version == 0)
          return done(result::failure(errc::not_found, "no guidance " + gid + " in " + channel));
        auto g = decoded<guidance_record>(d[0].value).value_or(guidance_record{});
        ack_record a{gid, g.kind, who.id.subject, who.id.name, ctx.now_ms(), 0};
        a.delay_ms = std::max<std::int64_t>(0, a.at - g.posted_at);
        auto json = encode(a);
        ctx.docs.commit(channel, {{keys::ack(gid, a.user), 0, json}},
                        {{"guidance.acked", json, who.info()}}, std::nullopt,
                        [done, json](std::error_code ec, commit_result c) {
                          if (ec) return done(engine_failure("", ec, true));
                          json_writer w;
                          w.begin_object().raw_field("ack", c.applied ? json : c.current[0].value);
                          done(result::success(w.field("already", !c.applied).end_object().take()));
                        });
      },
      done);
}

void status(context& ctx, request& r, done_fn done) {
  auto gid = r.f.str("guidance", true, 64);
  if (!fields_ok(r, done)) return;
  auto channel = r.channel;
  ctx.st.read(
      channel, {keys::guidance(gid)}, "",
      [&ctx, channel, gid, done](std::vector<doc> g) {
        if (g[0].version == 0)
          return done(result::failure(errc::not_found, "no guidance " + gid + " in " + channel));
        read_audience(
            ctx, channel, gid,
            [done, post = g[0].value](audience a) {
              json_writer w;
              w.begin_object().raw_field("guidance", post).key("acknowledged").begin_array();
              for (auto& x : a.acks) w.raw(x.value);
              w.end_array().key("pending").begin_array();
              for (auto& m : a.pending) w.raw(m);
              done(result::success(w.end_array().end_object().take()));
            },
            done);
      },
      done);
}

void list(context& ctx, request& r, done_fn done) {
  auto channel = r.channel;
  ctx.st.list(
      channel, std::string(keys::pinned_prefix), "",
      [&ctx, channel, done](std::vector<doc> pins) {
        std::vector<std::string> ids;
        for (auto& p : pins) ids.push_back(keys::guidance(p.value));
        if (ids.empty()) return done(result::success("{\"pinned\":[]}"));
        ctx.st.read(
            channel, std::move(ids), "",
            [done](std::vector<doc> g) {
              json_writer w;
              w.begin_object().key("pinned").begin_array();
              for (auto& x : g)
                if (x.version > 0) w.raw(x.value);
              done(result::success(w.end_array().end_object().take()));
            },
            done);
      },
      done);
}

void add_member(context& ctx, const std::string& channel, const member_record& m) {
  // Conditional on absence: the first subscription records the member, later ones are no-ops.
  ctx.docs.commit(channel, {{keys::member(m.user), 0, encode(m)}}, {}, std::nullopt,
                  [channel](std::error_code ec, commit_result) {
                    if (ec)
                      spdlog::warn("crisis: member of {} not recorded: {}", channel, ec.message());
                  });
}

void note_member(context& ctx, const std::string& channel, const actor& who) {
  if (who.id.role != auth::role::ambassador) return;
  member_record m{who.id.subject, who.id.name, ctx.now_ms()};
  // Only crisis channels have members: guidance in a plain channel expects no acks.
  ctx.docs.read_docs(channel, {std::string(keys::meta)},
                     [&ctx, channel, m](std::error_code ec, std::vector<doc> d) {
                       if (ec)
                         return spdlog::warn("crisis: member of {} not recorded: {}", channel,
                                             ec.message());
                       if (d[0].version) add_member(ctx, channel, m);
                     });
}

void remind(context& ctx, const std::string& channel, const std::string& gid,
            std::function<void()> next) {
  auto finish = [&ctx, channel, gid, next] {
    ctx.indexes.index_remove(std::string(keys::remind_index), keys::channel_item(channel, gid),
                             [](std::error_code) {});
    next();
  };
  // Kept in the index on an engine failure: the next scan tries again.
  auto retry_later = [next, gid](result r) {
    spdlog::warn("crisis: reminder for guidance {} failed: {}", gid, r.message);
    next();
  };
  auto send = [&ctx, channel, gid, finish, retry_later](audience a) {
    auto reminded = std::make_shared<bool>(false);
    auto decide = [pending = std::move(a.pending), reminded](const std::vector<doc>& d) {
      auto g = d[0].version ? decoded<guidance_record>(d[0].value) : std::nullopt;
      // Gone, or another node reminded already.
      if (!g || g->reminded) return plan::finish(result::success("{}"));
      g->reminded = true;
      plan p;
      auto json = encode(*g);
      p.writes.push_back({d[0].key, d[0].version, json});
      if (!pending.empty()) {
        json_writer data;
        data.begin_object().raw_field("guidance", json).key("pending").begin_array();
        for (auto& m : pending) data.raw(m);
        data.end_array().end_object();
        p.events.push_back({"guidance.reminder", data.take(), scheduler().info()});
      }
      p.reply = [reminded, sent = !pending.empty()](const commit_result&) {
        *reminded = sent;
        return result::success("{}");
      };
      return p;
    };
    ctx.st.modify(channel, {keys::guidance(gid)}, std::move(decide),
                  [&ctx, reminded, finish, retry_later](result r) {
                    if (!r.ok) return retry_later(std::move(r));
                    if (*reminded) ctx.stats.add(counter::guidance_reminders);
                    finish();
                  });
  };
  ctx.st.list(
      channel, std::string(keys::pinned_prefix), "",
      [&ctx, channel, gid, finish, send, retry_later](std::vector<doc> pins) {
        // Superseded by a newer post of its kind: nobody is reminded of outdated
        // guidance.
        if (std::none_of(pins.begin(), pins.end(), [&](const doc& p) { return p.value == gid; }))
          return finish();
        read_audience(ctx, channel, gid, send, retry_later);
      },
      retry_later);
}

}  // namespace muster::server::crisis::guidance
