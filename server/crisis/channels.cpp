#include "server/crisis/channels.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <set>

#include "server/crisis/audience.hpp"
#include "server/crisis/fan_in.hpp"
#include "server/crisis/keys.hpp"
#include "server/crisis/people.hpp"
#include "server/crisis/store.hpp"

namespace muster::server::crisis::channels {

using protocol::errc;
using protocol::json_writer;

namespace {

struct channel_input {
  std::string title;
  std::optional<severity> sev;
  std::string status;
  bool drill = false;
  std::optional<bool> approval_required;  // none: `approval` not given
  std::optional<severity> approval_min_severity;
};

std::optional<channel_input> read_input(request& r, bool create, const done_fn& done) {
  channel_input in;
  in.title = r.f.str("title", create, 256);
  in.sev = r.f.sev("severity", false);
  in.status = r.f.str("status", false, 16);
  if (!in.status.empty() && in.status != "open" && in.status != "monitoring" &&
      in.status != "resolved")
    r.f.fail("status", "must be one of open monitoring resolved");
  auto drill = r.f.flag("drill");
  if (drill && !create) r.f.fail("drill", "can only be set by channel.create");
  in.drill = drill.value_or(false);
  if (auto approval = r.f.object("approval")) {
    fields a(*approval, "approval.");
    in.approval_required = a.flag("required");
    if (!in.approval_required && !a.error()) a.fail("required", "is required");
    in.approval_min_severity = a.sev("min_severity", false);
    r.f.take_error(a);
  }
  if (!fields_ok(r, done)) return std::nullopt;
  return in;
}

// The record after applying `in` over `old`, and the names of the fields that changed.
std::vector<std::string> apply(channel_record& rec, const channel_input& in) {
  std::vector<std::string> changed;
  if (!in.title.empty() && in.title != rec.title) {
    rec.title = in.title;
    changed.emplace_back("title");
  }
  if (in.sev && *in.sev != rec.sev) {
    rec.sev = *in.sev;
    changed.emplace_back("severity");
  }
  if (!in.status.empty() && in.status != rec.status) {
    rec.status = in.status;
    changed.emplace_back("status");
  }
  if (in.approval_required && (*in.approval_required != rec.approval_required ||
                               in.approval_min_severity != rec.approval_min_severity)) {
    rec.approval_required = *in.approval_required;
    rec.approval_min_severity = in.approval_min_severity;
    changed.emplace_back("approval");
  }
  return changed;
}

// Ambassadors who joined the channel before it became a crisis channel become its members:
// those subscribed now (presence) and those the directory says joined it.
void adopt_members(context& ctx, const std::string& channel, std::int64_t since) {
  ctx.presence.presence(
      channel, [&ctx, channel, since](std::error_code ec, std::vector<client_info> in) {
        std::set<std::string> present;
        if (!ec)
          for (auto& c : in) present.insert(c.user);
        people::joined(
            ctx, channel, std::move(present),
            [&ctx, channel, since](std::vector<person_record> found) {
              for (auto& p : found) audience::add_member(ctx, channel, {p.user, p.name, since});
            },
            [channel](result r) {
              spdlog::warn("crisis: earlier members of {} not recorded: {}", channel, r.message);
            });
      });
}

void create_or_update(context& ctx, request& r, bool create, done_fn done) {
  auto in = read_input(r, create, done);
  if (!in) return;
  auto keep =
      create ? std::optional<retention>(retention{ctx.opts.timeline_size, ctx.opts.timeline_ttl})
             : std::nullopt;
  auto channel = r.channel;
  person by{r.who.id.subject, r.who.id.name};
  auto now = ctx.now_ms();
  auto decide = [&ctx, in = *in, channel, by, who = r.who.info(), create,
                 now](const std::vector<doc>& d) {
    if (create && d[0].version > 0)
      return plan::finish(result::failure(errc::already_exists, "channel " + channel + " exists"));
    if (!create && d[0].version == 0)
      return plan::finish(result::failure(errc::not_found, "no crisis channel " + channel));
    channel_record rec;
    std::vector<std::string> changed;
    if (create || !decode(d[0].value, rec)) {
      rec = channel_record{};
      rec.channel = channel;
      rec.created_by = by;
      rec.created_at = rec.updated_at = now;
      rec.drill = in.drill;
      changed = apply(rec, in);
    } else {
      changed = apply(rec, in);
      if (changed.empty()) {
        json_writer w;
        w.begin_object().raw_field("channel", d[0].value).field("changed", false).end_object();
        return plan::finish(result::success(w.take()));
      }
    }
    rec.channel = channel;
    rec.updated_at = now;
    auto meta = encode(rec);
    plan p;
    p.writes.push_back({std::string(keys::meta), d[0].version, meta});
    json_writer data;
    data.begin_object().raw_field("channel", meta);
    if (!create) data.key("changed").strings(changed);
    data.raw_field("by", encode(by)).end_object();
    p.events.push_back({create ? "channel.created" : "channel.updated", data.take(), who});
    auto event = p.events.back();
    p.reply = [&ctx, meta, channel, create, event,
               created_at = rec.created_at](const commit_result& applied) {
      ctx.st.copy_events(std::string(keys::channel_feed), {event}, "channel list feed");
      if (create) {
        ctx.indexes.index_put(
            std::string(keys::channels_index), channel, created_at, [channel](std::error_code ec) {
              if (ec) spdlog::error("crisis: channel {} not listed: {}", channel, ec.message());
            });
        adopt_members(ctx, channel, created_at);
      }
      json_writer w;
      w.begin_object().raw_field("channel", meta).field("changed", true);
      return result::success(w.field("offset", applied.offsets[0]).end_object().take());
    };
    return p;
  };
  if (!(create && in->drill))
    return ctx.st.modify(channel, {std::string(keys::meta)}, std::move(decide), std::move(done),
                         keep);
  // A drill never shares a stream with real work: a new channel only.
  if (channel == ctx.opts.triage_channel || channel == ctx.opts.leads_channel)
    return done(result::failure(errc::invalid_state,
                                channel + " is one of the server's own channels; a drill needs "
                                          "a channel of its own"));
  ctx.streams.history(
      channel, {std::nullopt, 0},
      [&ctx, channel, decide = std::move(decide), done, keep](std::error_code ec,
                                                              history_result h) mutable {
        if (ec) return done(engine_failure("cannot read crisis state", ec, false));
        if (h.top.offset > 0)
          return done(result::failure(
              errc::invalid_state,
              "channel " + channel + " has events already; a drill needs a channel of its own"));
        ctx.st.modify(channel, {std::string(keys::meta)}, std::move(decide), std::move(done), keep);
      });
}

}  // namespace

void create(context& ctx, request& r, done_fn done) {
  create_or_update(ctx, r, true, std::move(done));
}

void update(context& ctx, request& r, done_fn done) {
  create_or_update(ctx, r, false, std::move(done));
}

void get(context& ctx, request& r, done_fn done) {
  auto channel = r.channel;
  ctx.st.read(
      channel, {std::string(keys::meta)}, "",
      [done, channel](std::vector<doc> d) {
        if (d[0].version == 0)
          return done(result::failure(errc::not_found, "no crisis channel " + channel));
        json_writer w;
        done(
            result::success(w.begin_object().raw_field("channel", d[0].value).end_object().take()));
      },
      done);
}

void list_names(context& ctx, const actor& who, std::function<void(std::vector<std::string>)> then,
                done_fn done) {
  ctx.indexes.index_range(std::string(keys::channels_index),
                          std::numeric_limits<std::int64_t>::max(), 10000,
                          [who, then, done](std::error_code ec, auto v) {
                            if (ec) return done(engine_failure("", ec, false));
                            std::vector<std::string> names;
                            for (auto& [ch, score] : v)
                              if (who.id.may_access(ch)) names.push_back(ch);
                            std::sort(names.begin(), names.end());
                            then(std::move(names));
                          });
}

void list_records(context& ctx, const actor& who,
                  std::function<void(std::vector<channel_record>)> then, done_fn done) {
  list_names(
      ctx, who,
      [&ctx, then, done](std::vector<std::string> names) {
        using meta = std::optional<doc>;  // none: the read failed
        auto put = fan_in<meta>::start(names.size(), [then, done](std::vector<meta> metas) {
          std::vector<channel_record> out;
          for (auto& m : metas) {
            if (!m) return done(result::failure(errc::unavailable, "cannot read channels"));
            channel_record rec;
            if (m->version > 0 && decode(m->value, rec)) out.push_back(std::move(rec));
          }
          then(std::move(out));
        });
        for (std::size_t i = 0; i < names.size(); ++i)
          ctx.docs.read_docs(names[i], {std::string(keys::meta)},
                             [put, i](std::error_code ec, std::vector<doc> d) {
                               put(i, ec ? std::nullopt : std::optional(std::move(d[0])));
                             });
      },
      done);
}

void list(context& ctx, request& r, done_fn done) {
  r.f.flag("watch");  // the session acts on it (PROTOCOL.md 14.4); here only its type
  if (!fields_ok(r, done)) return;
  list_json(ctx, r.who, std::move(done));
}

void list_json(context& ctx, const actor& who, done_fn done) {
  list_records(
      ctx, who,
      [&ctx, who, done](std::vector<channel_record> all) {
        json_writer w;
        w.begin_object().key("channels").begin_array();
        for (auto& c : all) w.raw(encode(c));
        // The channels the server itself uses, whether or not anyone created them.
        w.end_array().key("system").begin_array();
        for (auto [purpose, name] : {std::pair{"triage", &ctx.opts.triage_channel},
                                     std::pair{"leads", &ctx.opts.leads_channel}})
          if (who.id.may_access(*name))
            w.begin_object().field("channel", *name).field("purpose", purpose).end_object();
        done(result::success(w.end_array().end_object().take()));
      },
      done);
}

}  // namespace muster::server::crisis::channels
