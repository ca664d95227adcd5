#include "server/crisis/audience.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>

#include "server/crisis/keys.hpp"
#include "server/crisis/store.hpp"

namespace muster::server::crisis::audience {

using protocol::errc;
using protocol::json_writer;

std::string_view state_name(state s) noexcept {
  switch (s) {
    case state::acknowledged:
      return "acknowledged";
    case state::read:
      return "read";
    case state::delivered:
      return "delivered";
    case state::pending:
      return "pending";
  }
  return "pending";
}

state person_progress::at(unsigned v) const {
  if (ack && ack->version >= v) return state::acknowledged;
  if (receipt && receipt->version == v) return receipt->read_at ? state::read : state::delivered;
  return state::pending;
}

void add_members(progress_map& m, const std::vector<doc>& members) {
  for (auto& d : members)
    if (auto r = decoded<member_record>(d.value)) m[r->user].member = std::move(*r);
}

void add_acks(progress_map& m, const std::vector<doc>& acks) {
  for (auto& d : acks)
    if (auto r = decoded<ack_record>(d.value)) m[r->user].ack = std::move(*r);
}

void add_receipts(progress_map& m, const std::vector<doc>& receipts) {
  for (auto& d : receipts)
    if (auto r = decoded<receipt_record>(d.value)) m[r->user].receipt = std::move(*r);
}

std::vector<std::string> pending(const progress_map& m, unsigned v) {
  std::vector<std::string> out;
  for (auto& [user, p] : m)
    if (p.member && p.at(v) != state::acknowledged) out.push_back(encode(*p.member));
  return out;
}

namespace {

// The progress reads of one post, one after another.
struct progress_read : std::enable_shared_from_this<progress_read> {
  progress_read(context& c, std::string ch, std::string g, std::function<void(progress_map)> t,
                done_fn d)
      : ctx(c), channel(std::move(ch)), gid(std::move(g)), then(std::move(t)), done(std::move(d)) {}

  void start() {
    auto self = shared_from_this();
    // Only crisis channels have members (a plain channel's guidance expects no acks).
    ctx.st.read(
        channel, {std::string(keys::meta)}, "",
        [self](std::vector<doc> meta) {
          if (!meta[0].version) return self->acks();
          self->ctx.st.list(
              self->channel, std::string(keys::member_prefix), "",
              [self](std::vector<doc> members) {
                add_members(self->out, members);
                self->acks();
              },
              self->done);
        },
        done);
  }

  void acks() {
    auto self = shared_from_this();
    ctx.st.list(
        channel, keys::acks_of(gid), "",
        [self](std::vector<doc> acks) {
          add_acks(self->out, acks);
          self->ctx.st.list(
              self->channel, keys::receipts_of(self->gid), "",
              [self](std::vector<doc> receipts) {
                add_receipts(self->out, receipts);
                self->then(std::move(self->out));
              },
              self->done);
        },
        done);
  }

  context& ctx;
  std::string channel, gid;
  std::function<void(progress_map)> then;
  done_fn done;
  progress_map out;
};

std::optional<result> no_guidance(const doc& d, const std::string& gid, const std::string& channel,
                                  guidance_record& g) {
  if (d.version == 0)
    return result::failure(errc::not_found, "no guidance " + gid + " in " + channel);
  if (!decode(d.value, g))
    return result::failure(errc::internal, "stored guidance " + gid + " is unreadable");
  return std::nullopt;
}

// A `version` field, when given, must be the post's current version.
std::optional<result> wrong_version(std::optional<std::uint64_t> asked, const guidance_record& g) {
  if (!asked || *asked == g.version) return std::nullopt;
  return result::failure(errc::invalid_state, "guidance " + g.id + " is at version " +
                                                  std::to_string(g.version) + ", not " +
                                                  std::to_string(*asked) + "; show it again");
}

}  // namespace

void read(context& ctx, const std::string& channel, const std::string& gid,
          std::function<void(progress_map)> then, done_fn done) {
  std::make_shared<progress_read>(ctx, channel, gid, std::move(then), std::move(done))->start();
}

void ack(context& ctx, request& r, done_fn done) {
  auto gid = r.f.str("guidance", true, 64);
  auto version = r.f.uint("version");
  if (!fields_ok(r, done)) return;
  auto channel = r.channel;
  auto decide = [&ctx, gid, channel, version, who = r.who](const std::vector<doc>& d) {
    guidance_record g;
    if (auto err = no_guidance(d[0], gid, channel, g)) return plan::finish(std::move(*err));
    if (auto err = wrong_version(version, g)) return plan::finish(std::move(*err));
    auto old = d[1].version ? decoded<ack_record>(d[1].value) : std::nullopt;
    json_writer w;
    if (old && old->version >= g.version) {  // already acknowledged, from any connection
      w.begin_object().raw_field("ack", d[1].value).field("already", true).end_object();
      return plan::finish(result::success(w.take()));
    }
    ack_record a{gid, g.kind, who.id.subject, who.id.name, ctx.now_ms(), 0, g.version};
    a.delay_ms = std::max<std::int64_t>(0, a.at - g.version_at());
    auto json = encode(a);
    plan p;
    p.writes.push_back({d[1].key, d[1].version, json});
    p.events.push_back({"guidance.acked", json, who.info()});
    w.begin_object().raw_field("ack", json).field("already", false).end_object();
    p.reply = [reply = w.take()](const commit_result&) { return result::success(reply); };
    return p;
  };
  ctx.st.modify(channel, {keys::guidance(gid), keys::ack(gid, r.who.id.subject)}, std::move(decide),
                std::move(done));
}

void read_receipt(context& ctx, request& r, done_fn done) {
  auto gid = r.f.str("guidance", true, 64);
  auto version = r.f.uint("version");
  auto what = r.f.str("state", false, 16);
  if (!r.f.error() && !what.empty() && what != "delivered" && what != "read")
    r.f.fail("state", "must be one of delivered read");
  if (!fields_ok(r, done)) return;
  bool read = what != "delivered";
  auto channel = r.channel;
  auto decide = [&ctx, gid, channel, version, read, who = r.who](const std::vector<doc>& d) {
    guidance_record g;
    if (auto err = no_guidance(d[0], gid, channel, g)) return plan::finish(std::move(*err));
    if (auto err = wrong_version(version, g)) return plan::finish(std::move(*err));
    auto rec = d[1].version ? decoded<receipt_record>(d[1].value) : std::nullopt;
    if (!rec || rec->version != g.version)  // a revision starts everyone again
      rec = receipt_record{gid, who.id.subject, who.id.name, g.version, 0, 0};
    bool changed = false;
    auto now = ctx.now_ms();
    if (!rec->delivered_at) changed = true, rec->delivered_at = now;
    if (read && !rec->read_at) changed = true, rec->read_at = now;
    auto json = encode(*rec);
    json_writer w;
    w.begin_object().raw_field("receipt", json).field("changed", changed).end_object();
    if (!changed) return plan::finish(result::success(w.take()));
    plan p;
    p.writes.push_back({d[1].key, d[1].version, json});
    p.reply = [reply = w.take()](const commit_result&) { return result::success(reply); };
    return p;
  };
  ctx.st.modify(channel, {keys::guidance(gid), keys::receipt(gid, r.who.id.subject)},
                std::move(decide), std::move(done));
}

namespace {

void write_person_progress(json_writer& w, const std::string& user, const person_progress& p,
                           unsigned v) {
  auto name = p.member    ? p.member->name
              : p.ack     ? p.ack->name
              : p.receipt ? p.receipt->name
                          : std::string();
  bool current = p.receipt && p.receipt->version == v;
  w.begin_object().field("user", user).field("name", name).field("member", p.member.has_value());
  w.field("state", state_name(p.at(v)));
  w.field("acked_version", std::uint64_t{p.ack ? p.ack->version : 0u});
  w.field("delivered_at", current ? p.receipt->delivered_at : std::int64_t{0});
  w.field("read_at", current ? p.receipt->read_at : std::int64_t{0});
  w.field("acked_at", p.at(v) == state::acknowledged ? p.ack->at : std::int64_t{0});
  w.end_object();
}

std::string status_json(const std::string& post, const guidance_record& g, const progress_map& m) {
  json_writer w;
  w.begin_object().raw_field("guidance", post).key("acknowledged").begin_array();
  for (auto& [user, p] : m)
    if (p.at(g.version) == state::acknowledged) w.raw(encode(*p.ack));
  w.end_array().key("pending").begin_array();
  for (auto& member : pending(m, g.version)) w.raw(member);
  w.end_array().key("people").begin_array();
  for (auto& [user, p] : m) write_person_progress(w, user, p, g.version);
  return w.end_array().end_object().take();
}

}  // namespace

void status(context& ctx, request& r, done_fn done) {
  auto gid = r.f.str("guidance", true, 64);
  if (!fields_ok(r, done)) return;
  auto channel = r.channel;
  ctx.st.read(
      channel, {keys::guidance(gid)}, "",
      [&ctx, channel, gid, done](std::vector<doc> d) {
        guidance_record g;
        if (auto err = no_guidance(d[0], gid, channel, g)) return done(std::move(*err));
        read(
            ctx, channel, gid,
            [done, post = d[0].value, g](progress_map m) {
              done(result::success(status_json(post, g, m)));
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

namespace {

// A notice the scheduler sends once per version of a post to the members still pending.
struct notice {
  std::string_view event;  // guidance.reminder, guidance.overdue
  std::string_view index;  // where its due time is filed
  counter metric;
  bool to_leads;  // the leads channel hears of it too
  /// When it is due for this record (none: sent already, or never for this post).
  std::optional<std::int64_t> (*due_at)(const context&, const guidance_record&);
  void (*mark)(guidance_record&);
};

std::optional<std::int64_t> reminder_due(const context& ctx, const guidance_record& g) {
  if (g.reminded) return std::nullopt;
  return g.version_at() +
         std::chrono::duration_cast<std::chrono::milliseconds>(ctx.opts.reminder_after).count();
}

std::optional<std::int64_t> overdue_due(const context&, const guidance_record& g) {
  if (g.overdue || g.ack_deadline == 0) return std::nullopt;
  return g.ack_deadline;
}

constexpr notice reminder{"guidance.reminder",
                          keys::remind_index,
                          counter::guidance_reminders,
                          false,
                          reminder_due,
                          [](guidance_record& g) { g.reminded = true; }};
constexpr notice overdue_notice{"guidance.overdue",
                                keys::overdue_index,
                                counter::guidance_overdue,
                                true,
                                overdue_due,
                                [](guidance_record& g) { g.overdue = true; }};

// One notice of one post: still pinned, then who is pending, then marked and announced by
// compare-and-set (so several nodes scanning send it once).
class notice_pass : public std::enable_shared_from_this<notice_pass> {
 public:
  notice_pass(context& ctx, const notice& n, std::string channel, std::string gid,
              std::int64_t seen, std::function<void()> next)
      : ctx_(ctx),
        n_(n),
        channel_(std::move(channel)),
        gid_(std::move(gid)),
        seen_(seen),
        next_(std::move(next)) {}

  void start() {
    auto self = shared_from_this();
    as_of_ = ctx_.now_ms();  // who is pending is what the reads below find from now on
    ctx_.st.list(
        channel_, std::string(keys::pinned_prefix), "",
        [self](std::vector<doc> pins) {
          // Superseded by a newer post of its kind: nobody is chased about outdated guidance.
          if (std::none_of(pins.begin(), pins.end(),
                           [&](const doc& p) { return p.value == self->gid_; }))
            return self->finish(std::nullopt);
          read(
              self->ctx_, self->channel_, self->gid_,
              [self](progress_map m) { self->decide(std::move(m)); }, self->retry_later());
        },
        retry_later());
  }

 private:
  void decide(progress_map m) {
    auto self = shared_from_this();
    auto decide = [self, m = std::move(m)](const std::vector<doc>& d) {
      auto g = d[0].version ? decoded<guidance_record>(d[0].value) : std::nullopt;
      self->due_ = g ? self->n_.due_at(self->ctx_, *g) : std::nullopt;
      self->sent_.clear();
      if (!self->due_ || *self->due_ > self->ctx_.now_ms())
        return plan::finish(result::success("{}"));
      self->n_.mark(*g);
      self->due_.reset();
      plan p;
      auto json = encode(*g);
      p.writes.push_back({d[0].key, d[0].version, json});
      auto pending = audience::pending(m, g->version);
      if (!pending.empty()) {
        json_writer data;
        data.begin_object().raw_field("guidance", json).key("pending").begin_array();
        for (auto& member : pending) data.raw(member);
        data.end_array().field("as_of", self->as_of_).end_object();
        self->sent_ = data.take();
        p.events.push_back({std::string(self->n_.event), self->sent_, scheduler().info()});
      }
      p.reply = [](const commit_result&) { return result::success("{}"); };
      return p;
    };
    ctx_.st.modify(channel_, {keys::guidance(gid_)}, std::move(decide), [self](result r) {
      if (!r.ok) return self->retry_later()(std::move(r));
      if (!self->sent_.empty()) self->announced();
      self->finish(self->due_);
    });
  }

  void announced() {
    ctx_.stats.add(n_.metric);
    const auto& leads = ctx_.opts.leads_channel;
    if (n_.to_leads && leads != channel_)
      ctx_.tell_leads({{std::string(n_.event), sent_, scheduler().info()}},
                      std::string(n_.event) + " of guidance " + gid_);
  }

  // Done with this item: its index entry goes, or moves to when it is due now.
  // Only while the entry is still the one this pass found: a revision filed its own.
  void finish(std::optional<std::int64_t> due) {
    ctx_.indexes.index_replace(std::string(n_.index), keys::channel_item(channel_, gid_), seen_,
                               due, [](std::error_code) {});
    next_();
  }

  // Kept in the index on an engine failure: the next scan tries again.
  done_fn retry_later() {
    return [self = shared_from_this()](result r) {
      spdlog::warn("crisis: {} of guidance {} failed: {}", self->n_.event, self->gid_, r.message);
      self->next_();
    };
  }

  context& ctx_;
  const notice& n_;
  std::string channel_, gid_;
  std::int64_t seen_;       // the entry's score when this pass found it due
  std::int64_t as_of_ = 0;  // when it read who is pending
  std::function<void()> next_;
  std::optional<std::int64_t> due_;
  std::string sent_;  // the event's data, when one was appended
};

}  // namespace

void remind(context& ctx, const std::string& channel, const std::string& gid, std::int64_t seen,
            std::function<void()> next) {
  std::make_shared<notice_pass>(ctx, reminder, channel, gid, seen, std::move(next))->start();
}

void overdue(context& ctx, const std::string& channel, const std::string& gid, std::int64_t seen,
             std::function<void()> next) {
  std::make_shared<notice_pass>(ctx, overdue_notice, channel, gid, seen, std::move(next))->start();
}

}  // namespace muster::server::crisis::audience
