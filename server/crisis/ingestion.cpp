#include "server/crisis/ingestion.hpp"

#include <map>
#include <memory>

#include "protocol/codec.hpp"
#include "server/crisis/alerts.hpp"
#include "server/crisis/canonical_url.hpp"
#include "server/crisis/idempotency.hpp"
#include "server/crisis/keys.hpp"
#include "server/crisis/spikes.hpp"
#include "server/crisis/store.hpp"

namespace muster::server::crisis::ingestion {

using protocol::errc;
namespace dom = simdjson::dom;

namespace {

// One trigger as read from a native alert or a PagerDuty body.
struct trigger {
  alert_input input;
  std::string occurred_at;            // JSON text
  std::vector<std::string> channels;  // routed; [0] is home
  std::string target;                 // pushed straight into this channel (no routing)
  std::string dedup_key;
  bool resolve = false;      // PagerDuty "resolve"
  bool acknowledge = false;  // PagerDuty "acknowledge": claim for the sender
};

// Reads a native alert; returns the first field problem.
std::optional<std::string> read_native(fields& f, trigger& in) {
  in.input.source = f.str("source", true, 64);
  in.input.url = f.str("url", true, max_field);
  in.input.author = f.str("author", false, 256);
  in.input.text = f.str("text", false, max_text);
  in.input.severity = f.sev("severity", false).value_or(severity::sev3);
  in.dedup_key = f.str("dedup_key", false, max_field);
  in.input.tags = f.strs("tags");
  if (auto m = f.object("metrics")) {
    fields mf(*m, "metrics.");
    in.input.reach = mf.uint("reach").value_or(0);
    in.input.engagement = mf.uint("engagement").value_or(0);
    f.take_error(mf);
  }
  if (auto occ = f.element("occurred_at")) {
    std::string_view s;
    std::uint64_t ms;
    if (!occ->get_string().get(s) && s.size() <= 64)
      in.occurred_at = simdjson::minify(*occ);
    else if (!occ->get_uint64().get(ms))
      in.occurred_at = std::to_string(ms);
    else
      f.fail("occurred_at", "must be an RFC 3339 string or milliseconds since the Unix epoch");
  }
  if (f.error()) return f.error();
  if (!is_web_url(in.input.url)) return "url must be an http or https URL";
  return std::nullopt;
}

// PagerDuty Events API v2: {routing_key, event_action, dedup_key, payload{summary, source,
// severity, timestamp, component, group, class, custom_details}, links[{href}]}.
std::optional<std::string> read_pagerduty(fields& f, trigger& in) {
  auto action = f.str("event_action", true, 16);
  in.dedup_key = f.str("dedup_key", false, 255);
  if (f.error()) return f.error();
  if (action == "resolve" || action == "acknowledge") {
    if (in.dedup_key.empty()) return "dedup_key is required for " + action;
    (action == "resolve" ? in.resolve : in.acknowledge) = true;
    return std::nullopt;
  }
  if (action != "trigger") return "event_action must be trigger, acknowledge or resolve";
  auto payload = f.object("payload");
  if (!payload) return f.error() ? f.error() : std::optional<std::string>("payload is required");
  fields p(*payload, "payload.");
  in.input.text = p.str("summary", true, 1024);
  auto source = p.str("source", true, 255);
  auto sev = p.str("severity", true, 16);
  auto ts = p.str("timestamp", false, 64);
  // They become tags, which are at most 128 bytes.
  auto component = p.str("component", false, 128);
  auto group = p.str("group", false, 128);
  auto klass = p.str("class", false, 128);
  if (p.error()) return p.error();
  static const std::map<std::string, severity> sevs = {{"critical", severity::sev1},
                                                       {"error", severity::sev2},
                                                       {"warning", severity::sev3},
                                                       {"info", severity::sev4}};
  auto it = sevs.find(sev);
  if (it == sevs.end()) return "payload.severity must be critical, error, warning or info";
  in.input.severity = it->second;
  in.input.source = "pagerduty";
  in.input.author = source;
  for (auto* t : {&component, &group, &klass})
    if (!t->empty()) in.input.tags.push_back(*t);
  if (!ts.empty()) {
    in.occurred_at.clear();
    protocol::append_json_string(in.occurred_at, ts);
  }
  if (auto links = f.element("links")) {
    dom::array arr;
    if (!links->get_array().get(arr))
      for (auto l : arr) {
        std::string_view href;
        if (!l["href"].get_string().get(href) && href.size() <= max_field && is_web_url(href)) {
          in.input.url = std::string(href);
          break;
        }
      }
  }
  if (in.input.url.empty()) in.input.url = "pagerduty://" + source + "/" + in.dedup_key;
  if (in.dedup_key.empty()) in.dedup_key = in.input.url;
  return std::nullopt;
}

result forbidden_channel(std::string_view how, const std::string& channel) {
  return result::failure(errc::forbidden, "the alert " + std::string(how) + " " + channel +
                                              ", which is not in the token's channel allow-list");
}

// One trigger's way to its alert. The dedup pointer is the one place where concurrent first
// triggers for one post meet, whatever channels their routing picks: exactly one chooses the
// home, the others follow it; losing any compare-and-set starts over from the pointer.
class ingest_op : public std::enable_shared_from_this<ingest_op> {
 public:
  ingest_op(context& ctx, trigger in, actor who, done_fn done)
      : ctx_(ctx), in_(std::move(in)), who_(std::move(who)), done_(std::move(done)) {}

  void start() {
    bool direct = !in_.target.empty();
    in_.channels = direct ? std::vector<std::string>{in_.target}
                          : route(in_.input, ctx_.opts.routes, ctx_.opts.triage_channel);
    if (in_.dedup_key.empty()) in_.dedup_key = canonical_url(in_.input.url);
    in_.input.dedup_key = in_.dedup_key;
    if (!in_.resolve && !in_.acknowledge)
      for (const auto& ch : in_.channels)
        if (!who_.id.may_access(ch)) return done_(forbidden_channel("is routed to", ch));
    if (!direct) return read_pointer();
    // Straight into a channel: a drill keeps its own dedup keys, apart from the real alerts.
    ctx_.st.read(
        in_.target, {std::string(keys::meta)}, "cannot read alerts",
        [self = shared_from_this()](std::vector<doc> d) {
          auto meta = d[0].version > 0 ? decoded<channel_record>(d[0].value) : std::nullopt;
          self->drill_ = meta && meta->drill;
          self->read_pointer();
        },
        done_);
  }

 private:
  // The pointer finds an alert whose repeat routes elsewhere today (a severity that rose past a
  // min_severity rule) and the target of PagerDuty acknowledge/resolve, which carry no post.
  void read_pointer() {
    claim_with_alert_ = false;
    if (drill_) return at_home(in_.channels[0]);
    ctx_.st.read(
        std::string(keys::pointer_channel), {keys::pointer(in_.dedup_key)}, "cannot read alerts",
        [self = shared_from_this()](std::vector<doc> d) {
          if (d[0].version > 0) return self->at_home(d[0].value);
          if (self->in_.resolve || self->in_.acknowledge)
            return self->at_home(self->in_.channels[0]);
          // A post never seen: where one commit can write both channels, the pointer is
          // claimed together with the new alert (one durable write instead of two in a row).
          if (!self->ctx_.docs.linked_writes()) return self->claim_home(0);
          self->claim_with_alert_ = true;
          self->at_home(self->in_.channels[0]);
        },
        done_);
  }

  void claim_home(std::uint64_t expect) {
    std::vector<doc_write> writes{{keys::pointer(in_.dedup_key), expect, in_.channels[0]}};
    ctx_.docs.commit(std::string(keys::pointer_channel), std::move(writes), {}, std::nullopt,
                     [self = shared_from_this()](std::error_code ec, commit_result r) {
                       if (ec)
                         return self->done_(engine_failure("cannot store the alert", ec, true));
                       if (!r.applied) return self->retry();
                       self->at_home(self->in_.channels[0]);
                     });
  }

  // Folding into (or acknowledging, resolving) an alert touches its home channel.
  void at_home(std::string home) {
    if (!who_.id.may_access(home)) return done_(forbidden_channel("lives in", home));
    home_ = std::move(home);
    ctx_.st.read(
        home_, {keys::dedup(in_.dedup_key)}, "cannot read alerts",
        [self = shared_from_this()](std::vector<doc> d) {
          self->dedup_ = d[0];
          if (d[0].version == 0) return self->create();
          // Known here but without a pointer (older data): the pointer first, as elsewhere.
          if (self->claim_with_alert_) {
            self->claim_with_alert_ = false;
            return self->claim_home(0);
          }
          self->read_current(d[0].value);
        },
        done_);
  }

  // An alert exists for this key: fold into it unless it is closed.
  void read_current(const std::string& id) {
    ctx_.st.read(
        home_, {keys::alert(id)}, "cannot read alerts",
        [self = shared_from_this()](std::vector<doc> d) {
          alert_record cur;
          if (d[0].version == 0 || !decode(d[0].value, cur) || alerts::finished(cur.a.status))
            return self->create();
          self->fold(cur.a.id);
        },
        done_);
  }

  void create() {
    if (in_.resolve || in_.acknowledge)
      return done_(
          result::failure(errc::not_found, "no open alert with dedup_key " + in_.dedup_key));
    // The key's last alert is closed and lived elsewhere: today's routing decides anew. (No
    // alert there at all means a trigger on another node chose that home and is creating it:
    // create there too, and the dedup entry lets only one of us win.)
    if (home_ != in_.channels[0] && dedup_.version > 0) return repoint();
    alert_record rec;
    rec.a.first_seen = rec.a.last_seen = ctx_.clock();
    rec.a.id = new_id('a', rec.a.first_seen);
    rec.a.input = in_.input;
    rec.channel = home_;
    // Following another trigger's home: it comes first, today's routes get the copies.
    rec.channels = in_.channels;
    std::erase(rec.channels, home_);
    rec.channels.insert(rec.channels.begin(), home_);
    rec.occurred_at = in_.occurred_at;
    rec.drill = drill_;
    alerts::stamp(ctx_, rec);
    auto json = encode(rec);
    protocol::json_writer data;
    data.begin_object().raw_field("alert", json).end_object();
    std::vector<event_spec> events{{"alert.new", data.take(), who_.info()}};
    std::vector<doc_write> writes{{keys::dedup(in_.dedup_key), dedup_.version, rec.a.id},
                                  {keys::alert(rec.a.id), 0, json}};
    if (claim_with_alert_)
      writes.push_back(
          {keys::pointer(in_.dedup_key), 0, home_, false, std::string(keys::pointer_channel)});
    auto commit = [self = shared_from_this(), rec, json, events,
                   writes = std::move(writes)]() mutable {
      auto& ctx = self->ctx_;
      auto indexes =
          ctx.docs.linked_writes() ? alerts::index_changes(ctx, rec) : std::vector<index_write>{};
      ctx.docs.commit_with_indexes(self->home_, std::move(writes), events, std::nullopt,
                                   std::move(indexes),
                                   [self, rec, json, events](std::error_code ec, commit_result r) {
                                     self->on_created(ec, r, rec, json, events);
                                   });
    };
    // Where the indexes cannot go with the commit, the deadline is filed first: a crash in
    // between leaves an early entry, never an alert nobody escalates.
    if (ctx_.docs.linked_writes()) return commit();
    ctx_.st.file_early(ctx_.indexes, alerts::index_changes(ctx_, rec), std::move(commit));
  }

  void on_created(std::error_code ec, const commit_result& r, const alert_record& rec,
                  const std::string& json, const std::vector<event_spec>& events) {
    if (ec) return done_(engine_failure("cannot store the alert", ec, true));
    if (!r.applied) return retry();  // another trigger for the same key won: fold into it
    ctx_.stats.add(rec.drill ? counter::drill_alerts : counter::alerts_new);
    if (!ctx_.spikes.add(rec.channel,
                         {rec.a.id, rec.a.input.url, rec.a.input.author, rec.a.input.reach,
                          rec.a.input.severity, to_ms(rec.a.first_seen)}))
      ctx_.stats.add(counter::spike_arrivals_dropped);
    alerts::after_commit(ctx_, rec, events);
    protocol::json_writer w;
    w.begin_object().raw_field("alert", json).field("deduplicated", false);
    done_(result::success(w.field("offset", r.offsets[0]).end_object().take()));
  }

  void repoint() {
    ctx_.st.read(
        std::string(keys::pointer_channel), {keys::pointer(in_.dedup_key)}, "cannot read alerts",
        [self = shared_from_this()](std::vector<doc> p) {
          // Moved meanwhile: start over.
          if (p[0].version == 0 || p[0].value != self->home_) return self->retry();
          self->claim_home(p[0].version);
        },
        done_);
  }

  void fold(const std::string& id) {
    auto self = shared_from_this();
    bool folding = !in_.resolve && !in_.acknowledge;
    alerts::modify(
        ctx_, home_, id, who_,
        [self](alert_record& rec, alerts::change& c) { return self->apply(rec, c); },
        [self, folding](result r) {
          if (!r.ok && r.code == errc::conflict && self->attempt_ + 1 < max_attempts)
            return self->retry();
          if (r.ok && folding) self->ctx_.stats.add(counter::alerts_deduplicated);
          self->done_(std::move(r));
        },
        [folding](protocol::json_writer& w, const alerts::change& c) {
          if (folding)
            w.field("deduplicated", true)
                .field("severity_raised", c.severity_raised)
                .field("viral", c.viral);
        });
  }

  std::optional<result> apply(alert_record& rec, alerts::change& c) {
    auto now = ctx_.clock();
    if (alerts::finished(rec.a.status))
      return result::failure(errc::conflict, "alert closed meanwhile");
    if (in_.resolve) {
      crisis::resolve(rec.a, who_.id.subject, true);  // PagerDuty closes it whoever holds it
      rec.closed_at = to_ms(now);
      rec.closed_by = who_.id.subject;
      c.events.emplace_back("alert.resolved");
    } else if (in_.acknowledge) {
      auto ttl = ctx_.opts.escalation.claim_ttl_of(rec.a.input.severity);
      if (crisis::claim(rec.a, who_.id.subject, now, ttl) == outcome::ok &&
          rec.holder_name != who_.id.name) {
        rec.holder_name = who_.id.name;
        c.events.emplace_back("alert.claimed");
      }
    } else {
      auto jumps = rec.a.reach_jumps;
      c.severity_raised = fold_trigger(rec.a, in_.input, now, ctx_.opts.viral);
      c.viral = rec.a.reach_jumps > jumps;
      c.events.emplace_back("alert.updated");
    }
    return std::nullopt;
  }

  void retry() {
    ctx_.stats.add(counter::crisis_conflicts);
    if (++attempt_ >= max_attempts)
      return done_(result::failure(errc::conflict, "too many concurrent triggers"));
    read_pointer();
  }

  context& ctx_;
  trigger in_;
  actor who_;
  done_fn done_;
  std::string home_;
  doc dedup_;
  bool claim_with_alert_ = false;  // the pointer is written by create()'s commit
  bool drill_ = false;             // pushed into a drill channel: no global dedup pointer
  int attempt_ = 0;
};

// Ingests `in`, at most once per idempotency key when one is given.
void ingest(context& ctx, trigger in, const actor& who, const std::string& key, done_fn done) {
  auto run = [&ctx, in = std::move(in), who](done_fn d) mutable {
    std::make_shared<ingest_op>(ctx, std::move(in), who, std::move(d))->start();
  };
  if (key.empty()) return run(std::move(done));
  idempotency::once(ctx, key, std::move(run), std::move(done));
}

}  // namespace

void push(context& ctx, request& r, done_fn done) {
  trigger in;
  if (auto err = read_native(r.f, in)) return done(result::failure(errc::bad_request, *err));
  in.target = r.channel;
  ingest(ctx, std::move(in), r.who, r.cmd.idempotency_key, std::move(done));
}

void push_body(context& ctx, std::string_view body, const std::string& idempotency_key,
               const actor& who, done_fn done) {
  fields f(body);
  if (f.error()) return done(result::failure(errc::bad_json, "body must be a JSON object"));
  trigger in;
  bool pagerduty = f.has("event_action");
  auto err = pagerduty ? read_pagerduty(f, in) : read_native(f, in);
  if (err) return done(result::failure(errc::bad_request, *err));
  if (!pagerduty) {
    in.target = f.str("channel", false, 4096);  // the name's own rules bound it
    if (f.error()) return done(result::failure(errc::bad_request, *f.error()));
    if (!in.target.empty() && !protocol::valid_channel_name(in.target))
      return done(result::failure(errc::bad_channel, "channel is not a valid channel name"));
  }
  ingest(ctx, std::move(in), who, idempotency_key, std::move(done));
}

}  // namespace muster::server::crisis::ingestion
