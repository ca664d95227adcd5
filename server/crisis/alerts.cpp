#include "server/crisis/alerts.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <set>

#include "protocol/json_writer.hpp"
#include "server/auth/roles.hpp"
#include "server/crisis/activity.hpp"
#include "server/crisis/approval.hpp"
#include "server/crisis/approvals.hpp"
#include "server/crisis/guidance.hpp"
#include "server/crisis/keys.hpp"
#include "server/crisis/people.hpp"
#include "server/crisis/store.hpp"

namespace muster::server::crisis::alerts {

using protocol::errc;
using protocol::json_writer;

namespace {

constexpr std::size_t max_note = 4096;  // bytes of one note
constexpr unsigned max_notes = 1000;    // notes on one alert

// What an alert verb reads besides `alert`, and who acts.
struct verb_input {
  std::string user, name;
  bool lead = false;
  time_point now;
  std::string to, to_name;                                  // assign
  std::string reply_url, reply_text;                        // respond
  std::function<std::chrono::seconds(severity)> claim_ttl;  // how long a new claim lives
  std::vector<pinned_version> pinned;                       // respond: the guidance in force
  channel_record channel;  // respond: the channel's settings (approval)
};

// One alert verb: the command, its event, its own fields, and its transition of the state
// machine (which also fills the record's names); `changed` false: a repeat that changes nothing.
struct verb {
  std::string_view op;
  std::string_view action;  // for "only the holder or a lead may <action> ..."
  std::string_view event;
  void (*read)(fields& f, verb_input& in);
  outcome (*apply)(alert_record& rec, const verb_input& in, bool& changed);
};

void no_fields(fields&, verb_input&) {}

void assign_fields(fields& f, verb_input& in) {
  in.to = f.str("to", true, 256);
  f.str("to_name", false, 64);  // accepted and ignored: the directory names the holder
}

void respond_fields(fields& f, verb_input& in) {
  in.reply_url = f.str("reply_url", false, max_field);
  in.reply_text = f.str("reply_text", false, max_text);
  if (!f.error() && in.reply_url.empty() && in.reply_text.empty())
    f.fail("reply_url", "or reply_text is required");
  if (!f.error() && !in.reply_url.empty() && !is_web_url(in.reply_url))
    f.fail("reply_url", "must be an http or https URL");
}

outcome apply_claim(alert_record& rec, const verb_input& in, bool& changed) {
  // Claiming what one already holds (claimed or responded) changes nothing.
  bool mine = rec.a.status != alert_status::open && rec.a.holder == in.user;
  auto res = crisis::claim(rec.a, in.user, in.now, in.claim_ttl(rec.a.input.severity));
  changed = res == outcome::ok && !mine;
  if (changed) rec.holder_name = in.name;
  return res;
}

outcome apply_release(alert_record& rec, const verb_input& in, bool& changed) {
  auto res = crisis::release(rec.a, in.user, in.lead);
  changed = res == outcome::ok;
  if (changed) rec.holder_name.clear();
  return res;
}

outcome apply_assign(alert_record& rec, const verb_input& in, bool& changed) {
  auto res = crisis::assign(rec.a, in.to, in.now, in.claim_ttl(rec.a.input.severity));
  changed = res == outcome::ok;
  if (changed) rec.holder_name = in.to_name.empty() ? in.to : in.to_name;
  return res;
}

outcome apply_respond(alert_record& rec, const verb_input& in, bool& changed) {
  auto res = crisis::respond(rec.a, in.user, in.reply_url, in.reply_text, in.lead, in.now);
  changed = res == outcome::ok;
  if (changed) {
    rec.responder = {in.user, in.name};
    rec.guidance = in.pinned;  // what the answer was written under
  }
  return res;
}

outcome apply_resolve(alert_record& rec, const verb_input& in, bool& changed) {
  auto res = crisis::resolve(rec.a, in.user, in.lead);
  changed = res == outcome::ok;
  return res;
}

outcome apply_dismiss(alert_record& rec, const verb_input& in, bool& changed) {
  auto res = crisis::dismiss(rec.a, in.lead);
  changed = res == outcome::ok;
  return res;
}

constexpr std::array verbs{
    verb{"alert.claim", "claim", "alert.claimed", no_fields, apply_claim},
    verb{"alert.release", "release", "alert.released", no_fields, apply_release},
    verb{"alert.assign", "assign", "alert.assigned", assign_fields, apply_assign},
    verb{"alert.respond", "respond", "alert.responded", respond_fields, apply_respond},
    verb{"alert.resolve", "resolve", "alert.resolved", no_fields, apply_resolve},
    verb{"alert.dismiss", "dismiss", "alert.dismissed", no_fields, apply_dismiss},
};

std::optional<result> refusal(outcome res, const verb& v, const alert_record& rec) {
  const auto& id = rec.a.id;
  switch (res) {
    case outcome::ok:
      return std::nullopt;
    case outcome::already_claimed:
      return result::failure(errc::already_claimed,
                             "alert " + id + " is claimed by " + rec.holder_name,
                             "\"holder\":" + encode(person{rec.a.holder, rec.holder_name}));
    case outcome::not_claimed:
      return result::failure(errc::invalid_state, "alert " + id + " is not claimed");
    case outcome::invalid_state:
      return result::failure(errc::invalid_state,
                             "alert " + id + " is " + std::string(status_name(rec.a.status)));
    case outcome::forbidden:
      return result::failure(errc::forbidden, "only the holder or a lead may " +
                                                  std::string(v.action) + " alert " + id);
  }
  return std::nullopt;
}

// The verb's transition on the stored alert, by compare-and-set; `holds` tells afterwards
// whether the actor held the alert when the last attempt decided.
void apply_verb(context& ctx, const std::string& channel, const std::string& id, const actor& who,
                const verb& v, verb_input in, done_fn done, std::shared_ptr<bool> holds = nullptr,
                reply_members_fn more = nullptr) {
  modify(
      ctx, channel, id, who,
      [&ctx, &v, in, holds](alert_record& rec, change& c) mutable -> std::optional<result> {
        in.now = ctx.clock();
        if (v.event == "alert.responded" && !in.lead &&
            approval::required(in.channel, rec.a.input.severity) &&
            rec.a.status == alert_status::claimed && rec.a.holder == in.user) {
          auto check = approval::check_reply(rec, in.reply_url, in.reply_text);
          if (!check.ok) return result::failure(errc::approval_required, check.message);
          in.reply_text = check.text;
          in.reply_url = check.url;
        }
        person before{rec.a.holder, rec.holder_name};
        bool was_claimed = rec.a.status == alert_status::claimed;
        bool changed = false;
        auto res = v.apply(rec, in, changed);
        if (holds) *holds = rec.a.status == alert_status::claimed && rec.a.holder == in.user;
        if (auto err = refusal(res, v, rec)) return err;
        if (finished(rec.a.status) && rec.closed_at == 0) {
          rec.closed_at = to_ms(in.now);
          rec.closed_by = in.user;
        }
        if (!changed) return std::nullopt;
        c.events.emplace_back(v.event);
        if (v.event == "alert.released") c.reason = "released";
        if (v.event == "alert.released" || v.event == "alert.assigned")
          c.previous = was_claimed ? before : person{};
        return std::nullopt;
      },
      std::move(done), std::move(more));
}

result claim_limit_reached(std::size_t held, std::size_t limit) {
  auto n = std::to_string(limit);
  return result::failure(errc::claim_limit,
                         "you hold " + std::to_string(held) +
                             " unanswered claims, the most allowed (claim_limit " + n +
                             "); respond to or release one first",
                         "\"limit\":" + n);
}

// alert.claim under the per-ambassador cap: reserve a place, claim, give the place back if the
// claim did not stick.
void capped_claim(context& ctx, const std::string& channel, const actor& who, const verb& v,
                  verb_input in, const std::string& id, done_fn done, reply_members_fn more) {
  auto item = keys::channel_item(channel, id);
  auto limit = ctx.opts.claim_limit;
  people::reserve(
      ctx, in.user, item, limit,
      [&ctx, &v, in, id, item, limit, channel, who, done, more](bool added, std::size_t held) {
        if (!added) return done(claim_limit_reached(held, limit));
        auto holds = std::make_shared<bool>(false);
        apply_verb(
            ctx, channel, id, who, v, in,
            [&ctx, holds, user = in.user, item, done](result res) {
              // A claim that may have been applied keeps its place (the cap errs on the safe side).
              bool maybe = !res.ok && res.code == errc::outcome_unknown;
              if ((!*holds || !res.ok) && !maybe) people::hold(ctx, user, item, false);
              done(std::move(res));
            },
            holds, more);
      },
      done);
}

// alert.claim: as the verb says, and the reply (or the already_claimed error) names who else
// is drafting a reply to the alert right now.
void claim_seeing_drafts(context& ctx, const std::string& channel, const actor& who, const verb& v,
                         verb_input in, const std::string& id, done_fn done) {
  activity::read(ctx, channel, keys::activity_of(id),
                 [&ctx, &v, channel, who, in, id, done](std::vector<activity_record> entries) {
                   std::vector<activity_record> drafting;
                   for (auto& e : activity::per_person(std::move(entries)))
                     if (e.state == "drafting" && e.user != who.id.subject)
                       drafting.push_back(std::move(e));
                   json_writer names;
                   activity::write_people(names, drafting);
                   auto list = names.take();
                   auto told = [done, list](result r) {
                     if (!r.ok && r.code == errc::already_claimed)
                       r.extra += ",\"drafting\":" + list;
                     done(std::move(r));
                   };
                   reply_members_fn more = [list](json_writer& w, const change&) {
                     w.raw_field("drafting", list);
                   };
                   if (ctx.opts.claim_limit > 0 && who.id.role == auth::role::ambassador)
                     return capped_claim(ctx, channel, who, v, in, id, told, more);
                   apply_verb(ctx, channel, id, who, v, in, told, nullptr, more);
                 });
}

// alert.assign: only to someone in the directory, named as the directory knows them.
void assign_known(context& ctx, request& r, const verb& v, verb_input in, const std::string& id,
                  done_fn done) {
  people::find(
      ctx, in.to,
      [&ctx, &v, in, id, channel = r.channel, who = r.who,
       done](std::optional<person_record> p) mutable {
        if (!p)
          return done(result::failure(errc::unknown_user,
                                      "no user " + in.to + " has connected to this server"));
        if (p->role == auth::role_name(auth::role::bot))
          return done(result::failure(errc::bad_request,
                                      "to names a bot (" + in.to + "), which cannot hold alerts"));
        in.to_name = p->name;
        apply_verb(ctx, channel, id, who, v, in, done);
      },
      done);
}

void run_verb(context& ctx, request& r, const verb& v, done_fn done) {
  auto id = r.f.str("alert", true, 64);
  verb_input in;
  v.read(r.f, in);
  if (!fields_ok(r, done)) return;
  in.user = r.who.id.subject;
  in.name = r.who.id.name;
  in.lead = auth::acts_for_others(r.who.id.role);
  in.claim_ttl = [&ctx](severity s) { return ctx.opts.escalation.claim_ttl_of(s); };
  if (v.event == "alert.assigned") return assign_known(ctx, r, v, in, id, std::move(done));
  if (v.event == "alert.responded") {
    auto respond = [&ctx, &v, in, id, channel = r.channel, who = r.who,
                    done](const channel_record& settings) mutable {
      in.channel = settings;
      guidance::pinned_versions(
          ctx, channel,
          [&ctx, &v, in, id, channel, who, done](std::vector<pinned_version> pins) mutable {
            in.pinned = std::move(pins);
            apply_verb(ctx, channel, id, who, v, std::move(in), done);
          },
          done);
    };
    return approvals::channel_settings(ctx, r.channel, std::move(respond), std::move(done));
  }
  if (v.event == "alert.claimed")
    return claim_seeing_drafts(ctx, r.channel, r.who, v, in, id, std::move(done));
  apply_verb(ctx, r.channel, id, r.who, v, in, std::move(done));
}

// The shared state of one alerts::modify between its decision and its reply.
struct modify_state {
  alert_record rec;
  std::string held_by;  // who held an unanswered claim on it before the change
  change c;
  std::vector<event_spec> events;
  std::string json;
};

// Keeps the held claims the cap counts in step with the alert (claimed by someone new, or no
// longer held unanswered by who held it).
void track_held(context& ctx, const std::string& before, const alert_record& rec) {
  if (ctx.opts.claim_limit == 0) return;
  const auto& a = rec.a;
  auto after = a.status == alert_status::claimed ? a.holder : std::string();
  if (before == after) return;
  auto item = keys::channel_item(rec.channel, a.id);
  if (!before.empty()) people::hold(ctx, before, item, false);
  if (!after.empty()) people::hold(ctx, after, item, true);
}

// `offset` 0: no event was appended (offsets start at 1).
std::string changed_reply(const std::string& alert_json, bool changed, std::uint64_t offset,
                          const reply_members_fn& more = nullptr, const change& c = {}) {
  json_writer w;
  w.begin_object().raw_field("alert", alert_json).field("changed", changed);
  if (offset) w.field("offset", offset);
  if (more) more(w, c);
  return w.end_object().take();
}

}  // namespace

bool finished(alert_status s) {
  return s == alert_status::resolved || s == alert_status::dismissed;
}

std::string_view escalation_reason(unsigned step) {
  return step == 1 ? "unclaimed" : "no_response";
}

std::string event_data(std::string_view alert_json, const person& by, const change& c) {
  json_writer w;
  w.begin_object().raw_field("alert", alert_json).raw_field("by", encode(by));
  if (c.severity_raised) w.field("severity_raised", true);
  if (c.viral) w.field("viral", true);
  if (c.step) w.field("step", *c.step).field("reason", escalation_reason(*c.step));
  if (!c.reason.empty()) w.field("reason", c.reason);
  if (c.previous) w.raw_field("previous", encode(*c.previous));
  if (!c.note.empty()) w.raw_field("note", c.note);
  if (!c.proposal.empty()) w.raw_field("proposal", c.proposal);
  if (c.waited_ms) w.field("waited_ms", *c.waited_ms);
  return w.end_object().take();
}

void modify(context& ctx, const std::string& channel, const std::string& id, const actor& who,
            change_fn fn, done_fn done, reply_members_fn more) {
  auto state = std::make_shared<modify_state>();
  auto decide = [&ctx, fn = std::move(fn), more = std::move(more), state, id,
                 who](const std::vector<doc>& docs) {
    if (docs[0].version == 0)
      return plan::finish(result::failure(errc::not_found, "no alert " + id + " in this channel"));
    if (!decode(docs[0].value, state->rec))
      return plan::finish(result::failure(errc::internal, "stored alert " + id + " is unreadable"));
    state->c = change{};
    state->held_by = state->rec.a.status == alert_status::claimed ? state->rec.a.holder : "";
    if (auto err = fn(state->rec, state->c)) return plan::finish(std::move(*err));
    if (state->c.events.empty())  // nothing changed: answer with the current state
      return plan::finish(result::success(changed_reply(docs[0].value, false, 0, more)));
    approval::withdraw_stale(state->rec);  // the claim may have changed hands
    stamp(ctx, state->rec);
    state->json = encode(state->rec);
    plan p;
    p.writes.push_back({docs[0].key, docs[0].version, state->json, finished(state->rec.a.status)});
    for (auto& w : state->c.writes) p.writes.push_back(w);
    p.indexes = index_changes(ctx, state->rec);
    auto data = event_data(state->json, person{who.id.subject, who.id.name}, state->c);
    for (auto& name : state->c.events) p.events.push_back({name, data, who.info()});
    state->events = p.events;
    p.reply = [&ctx, state, more](const commit_result& r) {
      ctx.stats.add(counter::alert_transitions);
      after_commit(ctx, state->rec, state->events);
      track_held(ctx, state->held_by, state->rec);
      auto offset = r.offsets.empty() ? std::uint64_t{0} : r.offsets[0];
      return result::success(changed_reply(state->json, true, offset, more, state->c));
    };
    return p;
  };
  ctx.st.modify(channel, {keys::alert(id)}, std::move(decide), std::move(done));
}

void after_commit(context& ctx, const alert_record& rec, const std::vector<event_spec>& events) {
  // Copies for the alert's other channels: each keeps its own ordered, recoverable stream.
  for (std::size_t i = 1; i < rec.channels.size(); ++i) {
    if (rec.channels[i] == ctx.opts.leads_channel)  // routed to the leads: their retention
      ctx.tell_leads(events, "alert " + rec.a.id + " event");
    else
      ctx.st.copy_events(rec.channels[i], events, "alert " + rec.a.id + " event");
  }
}

namespace {

// Drops a closed alert's dedup entries, each only while it still points at that alert (or
// home). An engine failure leaves it in the index: the next pass tries again.
class dedup_expiry : public std::enable_shared_from_this<dedup_expiry> {
 public:
  dedup_expiry(context& ctx, std::string channel, std::string id, std::function<void()> next)
      : ctx_(ctx), channel_(std::move(channel)), id_(std::move(id)), next_(std::move(next)) {}

  void read_alert() {
    ctx_.st.read(
        channel_, {keys::alert(id_)}, "",
        [self = shared_from_this()](std::vector<doc> d) {
          auto rec = d[0].version ? decoded<alert_record>(d[0].value) : std::nullopt;
          // Gone, or reopened meanwhile: nothing to forget.
          if (!rec || !finished(rec->a.status)) return self->done();
          self->key_ = rec->a.input.dedup_key;
          self->drop(self->channel_, keys::dedup(self->key_), self->id_, [self] {
            self->drop(std::string(keys::pointer_channel), keys::pointer(self->key_),
                       self->channel_, [self] { self->done(); });
          });
        },
        retry_later());
  }

 private:
  // Deletes `key` of `channel` if it still holds `value`, then `then`.
  void drop(const std::string& channel, const std::string& key, const std::string& value,
            std::function<void()> then) {
    ctx_.st.read(
        channel, {key}, "",
        [self = shared_from_this(), channel, value, then](std::vector<doc> d) {
          std::vector<doc_write> writes;
          if (d[0].version && d[0].value == value) writes.push_back({d[0].key, d[0].version, ""});
          self->ctx_.docs.commit(channel, std::move(writes), {}, std::nullopt,
                                 [self, then](std::error_code ec, commit_result) {
                                   if (ec) return self->next_();
                                   then();
                                 });
        },
        retry_later());
  }

  void done() {
    ctx_.indexes.index_remove(std::string(keys::forget_index), keys::channel_item(channel_, id_),
                              [](std::error_code) {});
    next_();
  }

  done_fn retry_later() {
    return [self = shared_from_this()](result) { self->next_(); };
  }

  context& ctx_;
  std::string channel_, id_, key_;
  std::function<void()> next_;
};

}  // namespace

void forget_dedup(context& ctx, const std::string& channel, const std::string& id,
                  std::function<void()> next) {
  std::make_shared<dedup_expiry>(ctx, channel, id, std::move(next))->read_alert();
}

std::vector<index_write> index_changes(const context& ctx, const alert_record& rec) {
  std::vector<index_write> out{deadline(ctx, rec)};
  // A closed alert catches repeats of its post for a while, then its dedup entries go: memory
  // and storage stay bounded under a steady feed.
  if (finished(rec.a.status)) {
    auto window = std::chrono::duration_cast<std::chrono::milliseconds>(ctx.opts.dedup_window);
    out.push_back({std::string(keys::forget_index), keys::channel_item(rec.channel, rec.a.id),
                   rec.closed_at + window.count()});
  }
  return out;
}

void refile(context& ctx, const alert_record& rec, std::int64_t seen) {
  auto next = deadline(ctx, rec);
  ctx.indexes.index_replace(
      next.index, next.member, seen, next.score, [id = rec.a.id](std::error_code ec) {
        if (ec) spdlog::error("crisis: deadline of alert {} not refiled: {}", id, ec.message());
      });
}

void stamp(const context& ctx, alert_record& rec) {
  auto next = next_escalation(rec.a, ctx.opts.escalation);
  rec.next_escalation_step = next ? next->step : 0;
  rec.next_escalation_at = next ? to_ms(next->at) : 0;
}

index_write deadline(const context& ctx, const alert_record& rec) {
  const auto& a = rec.a;
  std::optional<time_point> due;
  if (auto next = next_escalation(a, ctx.opts.escalation)) due = next->at;
  if (a.status == alert_status::claimed) {
    // The claim's expiry is the scheduler's business too (it releases the alert).
    if (a.claim_expires_at != time_point{})
      due = due ? std::min(*due, a.claim_expires_at) : a.claim_expires_at;
    // So is a proposal waiting too long for a lead.
    if (auto overdue = approval::deadline(rec, ctx.opts.approval_escalate_after))
      due = due ? std::min(*due, from_ms(overdue)) : from_ms(overdue);
  }
  index_write w{std::string(keys::due_index), keys::channel_item(rec.channel, a.id), {}};
  if (due) w.score = to_ms(*due);
  return w;
}

void act(context& ctx, request& r, done_fn done) {
  for (const auto& v : verbs)
    if (v.op == r.cmd.op()) return run_verb(ctx, r, v, std::move(done));
  done(result::failure(errc::unknown_op, "not an alert verb"));
}

void get(context& ctx, request& r, done_fn done) {
  auto id = r.f.str("alert", true, 64);
  if (!fields_ok(r, done)) return;
  auto channel = r.channel;
  ctx.st.read(
      channel, {keys::alert(id)}, "",
      [&ctx, done, id, channel](std::vector<doc> d) {
        if (d[0].version == 0) return done(result::failure(errc::not_found, "no alert " + id));
        auto rec = decoded<alert_record>(d[0].value);
        // Listing notes reads the channel's documents: only for an alert that has some.
        auto prefix = rec && rec->a.notes ? keys::notes_of(id) : std::string();
        auto list = [&ctx, channel, prefix](store::docs_fn then, done_fn failed) {
          if (prefix.empty()) return then({});
          ctx.st.list(channel, prefix, "", std::move(then), std::move(failed));
        };
        list(
            [&ctx, done, id, channel, alert = std::move(d[0].value)](std::vector<doc> notes) {
              activity::read(
                  ctx, channel, keys::activity_of(id),
                  [done, alert, notes](std::vector<activity_record> on) {
                    json_writer w;
                    w.begin_object().raw_field("alert", alert).key("notes").begin_array();
                    for (auto& n : notes) w.raw(n.value);  // ids sort by time
                    w.end_array();
                    activity::write_people(w.key("activity"), activity::per_person(std::move(on)));
                    done(result::success(w.end_object().take()));
                  });
            },
            done);
      },
      done);
}

void note(context& ctx, request& r, done_fn done) {
  auto id = r.f.str("alert", true, 64);
  auto text = r.f.str("text", true, max_note);
  if (!fields_ok(r, done)) return;
  note_record n{
      new_id('n', ctx.clock()), id, text, {r.who.id.subject, r.who.id.name}, ctx.now_ms()};
  auto json = std::make_shared<std::string>(encode(n));
  modify(
      ctx, r.channel, id, r.who,
      [json, n](alert_record& rec, change& c) -> std::optional<result> {
        if (rec.a.notes >= max_notes)
          return result::failure(errc::invalid_state, "alert " + rec.a.id + " has " +
                                                          std::to_string(max_notes) +
                                                          " notes, the most it can hold");
        ++rec.a.notes;
        c.events.emplace_back("alert.noted");
        c.writes.push_back({keys::notes_of(rec.a.id) + n.id, 0, *json});
        c.note = *json;
        return std::nullopt;
      },
      std::move(done), [json](json_writer& w, const change&) { w.raw_field("note", *json); });
}

namespace {

// `{"<alert id>":[<person on it>,…],…}` for the listed alerts someone is on.
void write_activity(json_writer& w, const std::vector<activity_record>& on,
                    const std::set<std::string>& listed) {
  std::map<std::string, std::vector<activity_record>> by_alert;
  for (auto& e : on)
    if (listed.count(e.alert)) by_alert[e.alert].push_back(e);
  w.begin_object();
  for (auto& [id, entries] : by_alert)
    activity::write_people(w.key(id), activity::per_person(entries));
  w.end_object();
}

}  // namespace

void list(context& ctx, request& r, done_fn done) {
  auto status = r.f.str("status", false, 16);
  if (!fields_ok(r, done)) return;
  auto limit = r.cmd.limit.value_or(1000);
  auto channel = r.channel;
  activity::read(ctx, channel, "", [&ctx, done, status, limit, channel](auto on) {
    ctx.st.list(
        channel, std::string(keys::alert_prefix), "",
        [done, status, limit, channel, on = std::move(on)](std::vector<doc> d) {
          struct row {
            time_point first_seen;
            std::string id;
            const std::string* json;
          };
          std::vector<row> rows;
          for (auto& x : d) {
            alert_record rec;
            if (!decode(x.value, rec)) {
              spdlog::error("crisis: stored {} in {} is unreadable; left out", x.key, channel);
              continue;
            }
            if (!status.empty() && status_name(rec.a.status) != status) continue;
            rows.push_back({rec.a.first_seen, rec.a.id, &x.value});
          }
          std::stable_sort(rows.begin(), rows.end(),
                           [](const row& a, const row& b) { return a.first_seen < b.first_seen; });
          // The newest `limit`, oldest first.
          std::size_t from = rows.size() > limit ? rows.size() - limit : 0;
          json_writer w;
          std::set<std::string> listed;
          w.begin_object().key("alerts").begin_array();
          for (std::size_t i = from; i < rows.size(); ++i) {
            w.raw(*rows[i].json);
            listed.insert(rows[i].id);
          }
          w.end_array().field("total", static_cast<std::uint64_t>(rows.size()));
          w.field("truncated", from > 0);
          write_activity(w.key("activity"), on, listed);
          done(result::success(w.end_object().take()));
        },
        done);
  });
}

}  // namespace muster::server::crisis::alerts
