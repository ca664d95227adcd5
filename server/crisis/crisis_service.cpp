#include "server/crisis/crisis_service.hpp"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>

#include "protocol/codec.hpp"
#include "server/auth/permissions.hpp"

namespace muster::server::crisis {

using protocol::append_json_string;
using protocol::errc;
namespace dom = simdjson::dom;

namespace {

constexpr int max_attempts = 8;
constexpr std::size_t max_text = 8192;
constexpr std::size_t max_field = 2048;
constexpr std::size_t max_scan = 256;

std::int64_t to_ms(time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
time_point from_ms(std::int64_t ms) {
  return time_point(std::chrono::milliseconds(ms));
}

std::string random_id(char prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string id(1, prefix);
  id += '-';
  auto v = rng();
  for (int i = 0; i < 12; ++i, v >>= 4) id.push_back(hex[v & 15]);
  return id;
}

void add_str(std::string& out, std::string_view key, std::string_view v, bool first = false) {
  if (!first) out += ',';
  append_json_string(out, key);
  out += ':';
  append_json_string(out, v);
}
void add_int(std::string& out, std::string_view key, std::int64_t v) {
  out += ',';
  append_json_string(out, key);
  out += ':';
  out += std::to_string(v);
}
void add_raw(std::string& out, std::string_view key, std::string_view json) {
  out += ',';
  append_json_string(out, key);
  out += ':';
  out += json;
}
std::string str_array(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, v[i]);
  }
  return out + "]";
}
std::string person(std::string_view user, std::string_view name) {
  if (user.empty()) return "null";
  std::string out = "{";
  add_str(out, "user", user, true);
  add_str(out, "name", name);
  return out + "}";
}

// Reads typed fields of one JSON object; the first problem names its field.
struct fields {
  dom::object obj;
  std::optional<std::string> error;

  void fail(std::string_view key, std::string_view what) {
    if (!error) error = std::string(key) + " " + std::string(what);
  }
  bool has(std::string_view key) {
    dom::element e;
    return !obj[key].get(e) && !e.is_null();
  }
  std::string str(std::string_view key, bool required, std::size_t max = max_field) {
    dom::element e;
    if (obj[key].get(e) || e.is_null()) {
      if (required) fail(key, "is required");
      return {};
    }
    std::string_view s;
    if (e.get_string().get(s)) {
      fail(key, "must be a string");
      return {};
    }
    if (s.size() > max) {
      fail(key, "must be at most " + std::to_string(max) + " bytes");
      return {};
    }
    if (required && s.empty()) fail(key, "must not be empty");
    return std::string(s);
  }
  std::optional<std::uint64_t> uint(std::string_view key) {
    dom::element e;
    if (obj[key].get(e) || e.is_null()) return std::nullopt;
    std::uint64_t v;
    if (e.get_uint64().get(v)) {
      fail(key, "must be a non-negative integer");
      return std::nullopt;
    }
    return v;
  }
  std::vector<std::string> strs(std::string_view key, std::size_t max_items = 32) {
    std::vector<std::string> out;
    dom::element e;
    if (obj[key].get(e) || e.is_null()) return out;
    dom::array a;
    if (e.get_array().get(a)) {
      fail(key, "must be an array of strings");
      return out;
    }
    for (auto item : a) {
      std::string_view s;
      if (item.get_string().get(s) || s.empty() || s.size() > 128) {
        fail(key, "must be an array of non-empty strings (at most 128 bytes each)");
        return {};
      }
      out.emplace_back(s);
    }
    if (out.size() > max_items)
      fail(key, "must have at most " + std::to_string(max_items) + " items");
    return out;
  }
  std::optional<dom::object> object(std::string_view key) {
    dom::element e;
    if (obj[key].get(e) || e.is_null()) return std::nullopt;
    dom::object o;
    if (e.get_object().get(o)) {
      fail(key, "must be an object");
      return std::nullopt;
    }
    return o;
  }
  std::optional<severity> sev(std::string_view key, bool required) {
    auto s = str(key, required, 16);
    if (s.empty()) return std::nullopt;
    auto v = parse_severity(s);
    if (!v) fail(key, "must be one of sev1 sev2 sev3 sev4");
    return v;
  }
};

result bad(const std::string& why) {
  return result::failure(errc::bad_request, why);
}

std::optional<std::string> channel_field(fields& f, std::string_view key = "channel") {
  auto ch = f.str(key, true, protocol::max_channel_length);
  if (f.error) return std::nullopt;
  if (!protocol::valid_channel_name(ch)) {
    f.fail(key, "is not a valid channel name");
    return std::nullopt;
  }
  return ch;
}

std::string_view guidance_kinds[] = {"holding_statement", "talking_points", "do_dont", "update"};

std::string deleted_json(const std::string& name) {
  std::string out = "{\"deleted\":";
  append_json_string(out, name);
  return out + "}";
}

std::int64_t median(std::vector<std::int64_t> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  auto n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Alert documents

struct service::alert_record {
  alert a;
  std::string channel;  // home: where its document and events live
  std::vector<std::string> channels;
  std::string holder_name;
  std::string responder, responder_name;
  std::string occurred_at;  // as given (JSON text)
  std::int64_t closed_at = 0;
  std::string closed_by;
  bool raised = false;      // this change raised the severity: events say so (not stored)
  std::string event_extra;  // more fields for this change's events, e.g. "step":1 (not stored)
};

namespace {

std::string alert_json(const service::alert_record& r) {
  const auto& a = r.a;
  std::string out = "{";
  add_str(out, "id", a.id, true);
  add_str(out, "channel", r.channel);
  add_raw(out, "channels", str_array(r.channels));
  add_str(out, "status", status_name(a.status));
  add_str(out, "source", a.input.source);
  add_str(out, "url", a.input.url);
  add_str(out, "author", a.input.author);
  add_str(out, "text", a.input.text);
  add_str(out, "severity", severity_name(a.input.severity));
  add_str(out, "dedup_key", a.input.dedup_key);
  add_raw(out, "tags", str_array(a.input.tags));
  out += ",\"metrics\":{\"reach\":" + std::to_string(a.input.reach) +
         ",\"engagement\":" + std::to_string(a.input.engagement) + "}";
  add_raw(out, "occurred_at", r.occurred_at.empty() ? "null" : r.occurred_at);
  add_raw(out, "holder", person(a.holder, r.holder_name));
  add_raw(out, "responder", person(r.responder, r.responder_name));
  add_str(out, "reply_url", a.reply_url);
  add_str(out, "reply_text", a.reply_text);
  add_int(out, "count", a.count);
  add_int(out, "first_seen", to_ms(a.first_seen));
  add_int(out, "last_seen", to_ms(a.last_seen));
  add_int(out, "claimed_at", to_ms(a.claimed_at));
  add_int(out, "responded_at", to_ms(a.responded_at));
  add_int(out, "closed_at", r.closed_at);
  add_str(out, "closed_by", r.closed_by);
  add_int(out, "escalations", a.escalations);
  return out + "}";
}

bool parse_alert(std::string_view json, service::alert_record& r) {
  dom::parser p;
  dom::object o;
  if (p.parse(json.data(), json.size()).get_object().get(o)) return false;
  fields f{o, {}};
  auto& a = r.a;
  a.id = f.str("id", true);
  r.channel = f.str("channel", true);
  r.channels = f.strs("channels", 64);
  auto st = f.str("status", true);
  for (auto s : {alert_status::open, alert_status::claimed, alert_status::responded,
                 alert_status::resolved, alert_status::dismissed})
    if (status_name(s) == st) a.status = s;
  a.input.source = f.str("source", false);
  a.input.url = f.str("url", false, max_text);
  a.input.author = f.str("author", false);
  a.input.text = f.str("text", false, max_text);
  a.input.severity = f.sev("severity", true).value_or(severity::sev3);
  a.input.dedup_key = f.str("dedup_key", false, max_text);
  a.input.tags = f.strs("tags");
  if (auto m = f.object("metrics")) {
    fields mf{*m, {}};
    a.input.reach = mf.uint("reach").value_or(0);
    a.input.engagement = mf.uint("engagement").value_or(0);
  }
  dom::element occ;
  if (!o["occurred_at"].get(occ) && !occ.is_null()) r.occurred_at = simdjson::minify(occ);
  auto who = [&](std::string_view key, std::string& user, std::string& name) {
    if (auto h = f.object(key)) {
      fields hf{*h, {}};
      user = hf.str("user", false);
      name = hf.str("name", false);
    }
  };
  who("holder", a.holder, r.holder_name);
  who("responder", r.responder, r.responder_name);
  a.reply_url = f.str("reply_url", false, max_text);
  a.reply_text = f.str("reply_text", false, max_text);
  a.count = static_cast<std::uint32_t>(f.uint("count").value_or(1));
  a.first_seen = from_ms(static_cast<std::int64_t>(f.uint("first_seen").value_or(0)));
  a.last_seen = from_ms(static_cast<std::int64_t>(f.uint("last_seen").value_or(0)));
  a.claimed_at = from_ms(static_cast<std::int64_t>(f.uint("claimed_at").value_or(0)));
  a.responded_at = from_ms(static_cast<std::int64_t>(f.uint("responded_at").value_or(0)));
  r.closed_at = static_cast<std::int64_t>(f.uint("closed_at").value_or(0));
  r.closed_by = f.str("closed_by", false);
  a.escalations = static_cast<unsigned>(f.uint("escalations").value_or(0));
  return !f.error;
}

bool finished(alert_status s) {
  return s == alert_status::resolved || s == alert_status::dismissed;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Commits with retry

struct service::plan {
  std::optional<result> stop;  // finish now with this (an error, or nothing to change)
  std::vector<doc_write> writes;
  std::vector<event_spec> events;
  std::function<result(const commit_result&)> reply;  // once applied
};

struct ingest_request {
  alert_input input;
  std::string occurred_at;
  std::vector<std::string> channels;  // routed; [0] is home
  std::string dedup_key;
  bool resolve = false;      // PagerDuty "resolve"
  bool acknowledge = false;  // PagerDuty "acknowledge": claim for the sender
};

service::service(engine& eng, const config& cfg, metrics& m, clock_fn clock)
    : eng_(eng), cfg_(cfg), metrics_(m), clock_(std::move(clock)) {}

std::int64_t service::now_ms() const {
  return to_ms(clock_());
}

void service::modify(std::string channel, std::vector<std::string> keys, mutate_fn fn, done_fn done,
                     std::optional<retention> keep, int attempt) {
  auto ch = channel;
  eng_.read_docs(
      ch, keys,
      [this, channel = std::move(channel), keys, fn = std::move(fn), done, keep, attempt](
          std::error_code ec, std::vector<doc> docs) mutable {
        if (ec)
          return done(
              result::failure(errc::unavailable, "cannot read crisis state: " + ec.message()));
        auto p = std::make_shared<plan>(fn(docs));
        if (p->stop) return done(std::move(*p->stop));
        auto target = channel;
        eng_.commit(
            target, std::move(p->writes), std::move(p->events), keep,
            [this, channel = std::move(channel), keys = std::move(keys), fn = std::move(fn),
             done = std::move(done), keep, attempt,
             p](std::error_code cec, commit_result r) mutable {
              if (cec)
                return done(result::failure(errc::unavailable,
                                            "cannot store crisis state: " + cec.message()));
              if (r.applied) return done(p->reply(r));
              metrics_.add(counter::crisis_conflicts);
              if (attempt + 1 >= max_attempts)
                return done(result::failure(errc::conflict, "too many concurrent updates; retry"));
              modify(std::move(channel), std::move(keys), std::move(fn), std::move(done), keep,
                     attempt + 1);
            });
      });
}

void service::modify_alert(const std::string& channel, const std::string& id, const actor& who,
                           alert_fn fn, done_fn done) {
  auto by = who.info();
  auto by_json = person(who.id.subject, who.id.name);
  auto rec = std::make_shared<alert_record>();
  auto events = std::make_shared<std::vector<event_spec>>();
  modify(
      channel, {"alert:" + id},
      [this, fn = std::move(fn), by, by_json, rec, events, id](const std::vector<doc>& docs) {
        plan p;
        if (docs[0].version == 0) {
          p.stop = result::failure(errc::not_found, "no alert " + id + " in this channel");
          return p;
        }
        *rec = alert_record{};
        if (!parse_alert(docs[0].value, *rec)) {
          p.stop = result::failure(errc::internal, "stored alert " + id + " is unreadable");
          return p;
        }
        std::vector<std::string> names;
        if (auto err = fn(*rec, names)) {
          p.stop = std::move(*err);
          return p;
        }
        if (names.empty()) {  // nothing changed: answer with the current state
          p.stop = result::success("{\"alert\":" + alert_json(*rec) + ",\"changed\":false}");
          return p;
        }
        auto json = alert_json(*rec);
        p.writes.push_back({docs[0].key, docs[0].version, json});
        events->clear();
        for (auto& n : names) {
          std::string data = "{\"alert\":" + json;
          add_raw(data, "by", by_json);
          // A post going viral: clients re-notify on this flag.
          if (rec->raised) add_raw(data, "severity_raised", "true");
          if (!rec->event_extra.empty()) data += "," + rec->event_extra;
          data += '}';
          p.events.push_back({n, std::move(data), by});
        }
        *events = p.events;
        p.reply = [this, rec, events, json](const commit_result& r) {
          metrics_.add(counter::alert_transitions);
          after_alert_commit(*rec, *events);
          std::string out = "{\"alert\":" + json + ",\"changed\":true";
          if (!r.offsets.empty()) add_int(out, "offset", static_cast<std::int64_t>(r.offsets[0]));
          return result::success(out + "}");
        };
        return p;
      },
      std::move(done));
}

void service::after_alert_commit(const alert_record& rec, const std::vector<event_spec>& events) {
  schedule(rec);
  // Copies for the alert's other channels: each keeps its own ordered, recoverable stream.
  for (std::size_t i = 1; i < rec.channels.size(); ++i) {
    std::vector<event_spec> copy = events;
    eng_.commit(rec.channels[i], {}, std::move(copy), std::nullopt,
                [this, ch = rec.channels[i], id = rec.a.id](std::error_code ec, commit_result) {
                  if (!ec) return;
                  metrics_.add(counter::crisis_mirror_failures);
                  spdlog::error("crisis: alert {} event not copied to channel {}: {}", id, ch,
                                ec.message());
                });
  }
}

void service::schedule(const alert_record& rec) {
  const auto& a = rec.a;
  std::optional<time_point> due;
  auto sev = a.input.severity;
  if (a.status == alert_status::open && a.escalations < 1) {
    auto it = cfg_.escalation.escalate_after.find(sev);
    if (it != cfg_.escalation.escalate_after.end()) due = a.first_seen + it->second;
  } else if (a.status == alert_status::claimed && a.escalations < 2) {
    auto it = cfg_.escalation.respond_within.find(sev);
    if (it != cfg_.escalation.respond_within.end()) due = a.claimed_at + it->second;
  }
  std::string member = rec.channel + " " + a.id;
  auto log = [id = a.id](std::error_code ec) {
    if (ec)
      spdlog::error("crisis: escalation schedule of alert {} not saved: {}", id, ec.message());
  };
  if (due)
    eng_.index_put(std::string(due_index), std::move(member), to_ms(*due), log);
  else
    eng_.index_remove(std::string(due_index), std::move(member), log);
}

// ---------------------------------------------------------------------------------------------
// Ingestion

namespace {

// Reads a native alert body into `in`; returns the first field error.
std::optional<std::string> read_alert(fields& f, ingest_request& in) {
  in.input.source = f.str("source", true, 64);
  in.input.url = f.str("url", true, max_field);
  in.input.author = f.str("author", false, 256);
  in.input.text = f.str("text", false, max_text);
  in.input.severity = f.sev("severity", false).value_or(severity::sev3);
  in.dedup_key = f.str("dedup_key", false, max_field);
  in.input.tags = f.strs("tags");
  if (auto m = f.object("metrics")) {
    fields mf{*m, {}};
    in.input.reach = mf.uint("reach").value_or(0);
    in.input.engagement = mf.uint("engagement").value_or(0);
    if (mf.error && !f.error) f.error = "metrics." + *mf.error;
  }
  dom::element occ;
  if (!f.obj["occurred_at"].get(occ) && !occ.is_null()) {
    std::string_view s;
    std::uint64_t ms;
    if (!occ.get_string().get(s) && s.size() <= 64)
      in.occurred_at = simdjson::minify(occ);
    else if (!occ.get_uint64().get(ms))
      in.occurred_at = std::to_string(ms);
    else
      f.fail("occurred_at", "must be an RFC 3339 string or milliseconds since the Unix epoch");
  }
  if (f.error) return f.error;
  if (in.input.url.find("://") == std::string::npos) return "url must be an absolute URL";
  return std::nullopt;
}

// PagerDuty Events API v2: {routing_key, event_action, dedup_key, payload{summary, source,
// severity, timestamp, component, group, class, custom_details}, links[{href}]}.
std::optional<std::string> read_pagerduty(fields& f, ingest_request& in) {
  auto action = f.str("event_action", true, 16);
  in.dedup_key = f.str("dedup_key", false, 255);
  if (f.error) return f.error;
  if (action == "resolve" || action == "acknowledge") {
    if (in.dedup_key.empty()) return "dedup_key is required for " + action;
    (action == "resolve" ? in.resolve : in.acknowledge) = true;
    return std::nullopt;
  }
  if (action != "trigger") return "event_action must be trigger, acknowledge or resolve";
  auto payload = f.object("payload");
  if (!payload) return f.error ? f.error : std::optional<std::string>("payload is required");
  fields p{*payload, {}};
  in.input.text = p.str("summary", true, 1024);
  auto source = p.str("source", true, 255);
  auto sev = p.str("severity", true, 16);
  auto ts = p.str("timestamp", false, 64);
  // They become tags, which are at most 128 bytes.
  auto component = p.str("component", false, 128);
  auto group = p.str("group", false, 128);
  auto klass = p.str("class", false, 128);
  if (p.error) return "payload." + *p.error;
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
    append_json_string(in.occurred_at, ts);
  }
  dom::element links;
  if (!f.obj["links"].get(links)) {
    dom::array arr;
    if (!links.get_array().get(arr))
      for (auto l : arr) {
        std::string_view href;
        if (!l["href"].get_string().get(href) && href.size() <= max_field) {
          in.input.url = std::string(href);
          break;
        }
      }
  }
  if (in.input.url.empty()) in.input.url = "pagerduty://" + source + "/" + in.dedup_key;
  if (in.dedup_key.empty()) in.dedup_key = in.input.url;
  return std::nullopt;
}

}  // namespace

void service::push_http(std::string_view body, const actor& who, done_fn done) {
  if (!auth::allowed(who.id.role, "http.alerts"))
    return done(result::failure(
        errc::forbidden,
        "role " + std::string(auth::role_name(who.id.role)) + " may not push alerts"));
  dom::parser parser;
  dom::object o;
  if (parser.parse(body.data(), body.size()).get_object().get(o))
    return done(result::failure(errc::bad_json, "body must be a JSON object"));
  fields f{o, {}};
  ingest_request in;
  auto err = f.has("event_action") ? read_pagerduty(f, in) : read_alert(f, in);
  if (err) return done(bad(*err));
  ingest(std::move(in), who, std::move(done));
}

void service::ingest(ingest_request in, const actor& who, done_fn done, int attempt) {
  if (in.channels.empty()) {
    in.channels = route(in.input, cfg_.routes, cfg_.triage_channel);
    if (in.dedup_key.empty()) in.dedup_key = canonical_url(in.input.url);
    in.input.dedup_key = in.dedup_key;
    if (!in.resolve && !in.acknowledge)
      for (const auto& ch : in.channels)
        if (!who.id.may_access(ch))
          return done(result::failure(errc::forbidden, "the alert is routed to " + ch +
                                                           ", which is not in the token's "
                                                           "channel allow-list"));
  }
  // The pointer finds an alert whose repeat routes elsewhere today (a severity that rose past
  // a min_severity rule) and the target of PagerDuty acknowledge/resolve, which carry no post.
  std::vector<std::string> keys{"ptr:" + in.dedup_key};  // before `in` is moved away
  eng_.read_docs(
      std::string(dedup_channel), std::move(keys),
      [this, in = std::move(in), who, done = std::move(done), attempt](std::error_code ec,
                                                                       std::vector<doc> d) mutable {
        if (ec)
          return done(result::failure(errc::unavailable, "cannot read alerts: " + ec.message()));
        if (d[0].version > 0 || in.resolve || in.acknowledge) {
          std::string home = d[0].version > 0 ? d[0].value : in.channels[0];
          return ingest_at(std::move(in), std::move(home), who, std::move(done), attempt);
        }
        claim_home(std::move(in), 0, who, std::move(done), attempt);
      });
}

void service::claim_home(ingest_request in, std::uint64_t expect, const actor& who, done_fn done,
                         int attempt) {
  // The pointer is the one place where concurrent first triggers for one post meet, whatever
  // channels their routing picks: exactly one chooses the home, the others follow it.
  std::vector<doc_write> writes{{"ptr:" + in.dedup_key, expect, in.channels[0]}};
  eng_.commit(std::string(dedup_channel), std::move(writes), {}, std::nullopt,
              [this, in = std::move(in), who, done = std::move(done), attempt](
                  std::error_code ec, commit_result r) mutable {
                if (ec)
                  return done(result::failure(errc::unavailable,
                                              "cannot store the alert: " + ec.message()));
                if (!r.applied) {
                  metrics_.add(counter::crisis_conflicts);
                  if (attempt + 1 >= max_attempts)
                    return done(result::failure(errc::conflict, "too many concurrent triggers"));
                  return ingest(std::move(in), who, std::move(done), attempt + 1);
                }
                auto home = in.channels[0];  // copied before `in` is moved
                ingest_at(std::move(in), std::move(home), who, std::move(done), attempt);
              });
}

void service::ingest_at(ingest_request in, std::string home, const actor& who, done_fn done,
                        int attempt) {
  // Folding into (or acknowledging, resolving) an alert touches its home channel.
  if (!who.id.may_access(home))
    return done(result::failure(errc::forbidden, "the alert lives in " + home +
                                                     ", which is not in the token's channel "
                                                     "allow-list"));
  std::string dkey = "dedup:" + in.dedup_key;
  eng_.read_docs(
      home, {dkey},
      [this, in = std::move(in), who, done = std::move(done), attempt, home, dkey](
          std::error_code ec, std::vector<doc> d) mutable {
        if (ec)
          return done(result::failure(errc::unavailable, "cannot read alerts: " + ec.message()));
        auto dedup = d[0];
        auto create = [this, in, who, done, attempt, home, dkey, dedup]() mutable {
          if (in.resolve || in.acknowledge)
            return done(
                result::failure(errc::not_found, "no open alert with dedup_key " + in.dedup_key));
          // The key's last alert is closed and lived elsewhere: today's routing decides anew.
          // (No alert there at all means a trigger on another node chose that home and is
          // creating it: create there too, and the dedup entry lets only one of us win.)
          if (home != in.channels[0] && dedup.version > 0) {
            std::vector<std::string> key{"ptr:" + in.dedup_key};
            return eng_.read_docs(
                std::string(dedup_channel), std::move(key),
                [this, in = std::move(in), who, done = std::move(done), attempt, home](
                    std::error_code pec, std::vector<doc> p) mutable {
                  if (pec)
                    return done(
                        result::failure(errc::unavailable, "cannot read alerts: " + pec.message()));
                  if (p[0].version == 0 || p[0].value != home)  // moved meanwhile: start over
                    return ingest(std::move(in), who, std::move(done), attempt + 1);
                  claim_home(std::move(in), p[0].version, who, std::move(done), attempt);
                });
          }
          auto rec = std::make_shared<alert_record>();
          auto now = clock_();
          rec->a.id = random_id('a');
          rec->a.input = in.input;
          rec->a.first_seen = rec->a.last_seen = now;
          rec->channel = home;
          rec->channels = in.channels;
          // Following another trigger's home: it comes first, today's routes get the copies.
          std::erase(rec->channels, home);
          rec->channels.insert(rec->channels.begin(), home);
          rec->occurred_at = in.occurred_at;
          auto json = alert_json(*rec);
          std::vector<event_spec> events{{"alert.new", "{\"alert\":" + json + "}", who.info()}};
          eng_.commit(
              home, {{dkey, dedup.version, rec->a.id}, {"alert:" + rec->a.id, 0, json}}, events,
              std::nullopt,
              [this, in = std::move(in), who, done = std::move(done), attempt, rec, json, events](
                  std::error_code cec, commit_result r) mutable {
                if (cec)
                  return done(result::failure(errc::unavailable,
                                              "cannot store the alert: " + cec.message()));
                if (!r.applied) {  // another trigger for the same key won: fold into it
                  metrics_.add(counter::crisis_conflicts);
                  if (attempt + 1 >= max_attempts)
                    return done(result::failure(errc::conflict, "too many concurrent triggers"));
                  return ingest(std::move(in), who, std::move(done), attempt + 1);
                }
                metrics_.add(counter::alerts_new);
                after_alert_commit(*rec, events);
                std::string out = "{\"alert\":" + json + ",\"deduplicated\":false";
                add_int(out, "offset", static_cast<std::int64_t>(r.offsets[0]));
                done(result::success(out + "}"));
              });
        };
        if (dedup.version == 0) return create();
        // An alert exists for this key: fold into it unless it is closed.
        eng_.read_docs(
            home, {"alert:" + dedup.value},
            [this, in, who, done, attempt, create, home](std::error_code rec_ec,
                                                         std::vector<doc> ad) mutable {
              if (rec_ec)
                return done(
                    result::failure(errc::unavailable, "cannot read alerts: " + rec_ec.message()));
              alert_record cur;
              if (ad[0].version == 0 || !parse_alert(ad[0].value, cur) || finished(cur.a.status))
                return create();
              auto rose = std::make_shared<bool>(false);
              auto folded = std::make_shared<bool>(false);
              modify_alert(
                  home, cur.a.id, who,
                  [this, in, rose, folded, who](
                      alert_record& rec, std::vector<std::string>& names) -> std::optional<result> {
                    auto now = clock_();
                    if (finished(rec.a.status))
                      return result::failure(errc::conflict, "alert closed meanwhile");
                    if (in.resolve) {
                      rec.a.status = alert_status::resolved;
                      rec.closed_at = to_ms(now);
                      rec.closed_by = who.id.subject;
                      names.push_back("alert.resolved");
                      return std::nullopt;
                    }
                    if (in.acknowledge) {
                      if (claim(rec.a, who.id.subject, now) == outcome::ok &&
                          rec.holder_name != who.id.name) {
                        rec.holder_name = who.id.name;
                        names.push_back("alert.claimed");
                      }
                      return std::nullopt;
                    }
                    *rose = fold_trigger(rec.a, in.input, now);
                    rec.raised = *rose;
                    *folded = true;
                    names.push_back("alert.updated");
                    return std::nullopt;
                  },
                  [this, done, rose, folded, in, who, attempt](result r) mutable {
                    if (!r.ok && r.code == errc::conflict && attempt + 1 < max_attempts)
                      return ingest(std::move(in), who, std::move(done), attempt + 1);
                    if (r.ok && *folded) {
                      metrics_.add(counter::alerts_deduplicated);
                      r.json.pop_back();
                      r.json += ",\"deduplicated\":true,\"severity_raised\":";
                      r.json += *rose ? "true}" : "false}";
                    }
                    done(std::move(r));
                  });
            });
      });
}

// ---------------------------------------------------------------------------------------------
// Commands

void service::run(std::string_view op, std::string_view frame, const actor& who, done_fn done) {
  if (!auth::allowed(who.id.role, op))
    return done(result::failure(
        errc::forbidden,
        "role " + std::string(auth::role_name(who.id.role)) + " may not " + std::string(op)));
  dom::parser parser;
  dom::object o;
  if (parser.parse(frame.data(), frame.size()).get_object().get(o))
    return done(result::failure(errc::bad_json, "frame must be a JSON object"));
  fields f{o, {}};
  auto by = who.info();
  auto now = now_ms();
  bool denied = false;  // the channel is outside the allow-list: forbidden, not bad_request
  auto need_channel = [&]() -> std::optional<std::string> {
    auto ch = channel_field(f);
    if (!ch) return std::nullopt;
    if (!who.id.may_access(*ch)) {
      denied = !f.error;  // this is the first problem, so it is the one reported
      f.fail("channel", "is not in the token's channel allow-list");
      return std::nullopt;
    }
    return ch;
  };
  auto fail_fields = [&]() {
    done(result::failure(denied ? errc::forbidden : errc::bad_request, *f.error));
  };

  if (op == "alert.push") {
    ingest_request in;
    if (auto err = read_alert(f, in)) return done(bad(*err));
    return ingest(std::move(in), who, std::move(done));
  }

  if (op == "channel.list") {
    return eng_.index_range(
        std::string(channels_index), std::numeric_limits<std::int64_t>::max(), 10000,
        [this, who, done](std::error_code ec, std::vector<std::pair<std::string, std::int64_t>> v) {
          if (ec) return done(result::failure(errc::unavailable, ec.message()));
          struct gather {
            std::mutex m;
            std::map<std::string, std::string> metas;
            std::size_t left = 0;
            bool failed = false;
          };
          auto g = std::make_shared<gather>();
          std::vector<std::string> names;
          for (auto& [ch, score] : v)
            if (who.id.may_access(ch)) names.push_back(ch);
          g->left = names.size();
          auto finish = [g, done] {
            if (g->failed) return done(result::failure(errc::unavailable, "cannot read channels"));
            std::string out = "{\"channels\":[";
            bool first = true;
            for (auto& [ch, meta] : g->metas) {
              if (!first) out += ',';
              first = false;
              out += meta;
            }
            done(result::success(out + "]}"));
          };
          if (names.empty()) return finish();
          for (auto& ch : names)
            eng_.read_docs(ch, {"meta"}, [g, finish, ch](std::error_code rec, std::vector<doc> d) {
              bool last;
              {
                std::lock_guard l(g->m);
                if (rec) g->failed = true;
                if (!rec && d[0].version > 0) g->metas[ch] = d[0].value;
                last = --g->left == 0;
              }
              if (last) finish();
            });
        });
  }

  if (op == "stats") {
    std::optional<std::string> ch;
    if (f.has("channel")) {
      ch = need_channel();
      if (!ch) return fail_fields();
    }
    return stats(ch, who, std::move(done));
  }

  if (op == "guidance.post" && f.str("channel", false) == "*") {
    // To everyone: posted in every crisis channel that is not resolved, each with its own acks.
    auto kind = f.str("kind", true, 32);
    auto title = f.str("title", true, 256);
    auto body = f.str("body", true, 32 * 1024);
    if (!f.error && std::find(std::begin(guidance_kinds), std::end(guidance_kinds), kind) ==
                        std::end(guidance_kinds))
      f.fail("kind", "must be one of holding_statement talking_points do_dont update");
    if (f.error) return fail_fields();
    return run("channel.list", "{}", who, [this, kind, title, body, who, done](result r) {
      if (!r.ok) return done(std::move(r));
      dom::parser p;
      dom::element e;
      std::vector<std::string> targets;
      if (!p.parse(r.json).get(e)) {
        dom::array a;
        if (!e["channels"].get_array().get(a))
          for (auto c : a) {
            std::string_view name, status;
            if (c["channel"].get_string().get(name) || c["status"].get_string().get(status))
              continue;
            if (status != "resolved" && who.id.may_access(name)) targets.emplace_back(name);
          }
      }
      if (targets.empty()) return done(result::failure(errc::not_found, "no open crisis channel"));
      struct gather {
        std::mutex m;
        std::vector<std::string> posted;
        std::size_t left;
        std::optional<result> error;
      };
      auto g = std::make_shared<gather>();
      g->left = targets.size();
      for (auto& t : targets)
        post_guidance(t, kind, title, body, who, [g, done](result pr) {
          bool last;
          {
            std::lock_guard l(g->m);
            if (pr.ok)
              g->posted.push_back(pr.json);
            else if (!g->error)
              g->error = pr;
            last = --g->left == 0;
          }
          if (!last) return;
          if (g->posted.empty()) return done(std::move(*g->error));
          std::string out = "{\"posted\":[";
          for (std::size_t i = 0; i < g->posted.size(); ++i) {
            if (i) out += ',';
            out += g->posted[i];
          }
          out += "]";
          if (g->error) {
            out += ",\"failed\":";
            append_json_string(out, g->error->message);
          }
          done(result::success(out + "}"));
        });
    });
  }

  auto ch = need_channel();
  if (!ch) return fail_fields();
  const std::string channel = *ch;

  if (op == "channel.create" || op == "channel.update") {
    bool create = op == "channel.create";
    auto title = f.str("title", create, 256);
    auto sev = f.sev("severity", false);
    auto status = f.str("status", false, 16);
    if (!status.empty() && status != "open" && status != "monitoring" && status != "resolved")
      f.fail("status", "must be one of open monitoring resolved");
    if (f.error) return fail_fields();
    auto keep = create ? std::optional<retention>(retention{cfg_.timeline_size, cfg_.timeline_ttl})
                       : std::nullopt;
    return modify(
        channel, {"meta"},
        [=, this](const std::vector<doc>& d) {
          plan p;
          if (create && d[0].version > 0) {
            p.stop = result::failure(errc::already_exists, "channel " + channel + " exists");
            return p;
          }
          if (!create && d[0].version == 0) {
            p.stop = result::failure(errc::not_found, "no crisis channel " + channel);
            return p;
          }
          std::string cur_title = title, cur_sev = sev ? std::string(severity_name(*sev)) : "sev3",
                      cur_status = status.empty() ? "open" : status;
          std::string created_by = person(who.id.subject, who.id.name), changed = "[";
          std::int64_t created_at = now;
          if (!create) {
            dom::parser mp;
            dom::object m;
            if (!mp.parse(d[0].value).get_object().get(m)) {
              fields mf{m, {}};
              auto old_title = mf.str("title", false, 256);
              auto old_sev = mf.str("severity", false);
              auto old_status = mf.str("status", false);
              created_at = static_cast<std::int64_t>(mf.uint("created_at").value_or(0));
              dom::element cb;
              if (!m["created_by"].get(cb)) created_by = simdjson::minify(cb);
              auto diff = [&](const char* name, std::string& cur, const std::string& given,
                              const std::string& old) {
                if (given.empty() || given == old) {
                  cur = old;
                  return;
                }
                cur = given;
                if (changed.size() > 1) changed += ',';
                append_json_string(changed, name);
              };
              diff("title", cur_title, title, old_title);
              diff("severity", cur_sev, sev ? std::string(severity_name(*sev)) : "", old_sev);
              diff("status", cur_status, status, old_status);
            }
          }
          changed += ']';
          std::string meta = "{";
          add_str(meta, "channel", channel, true);
          add_str(meta, "title", cur_title);
          add_str(meta, "severity", cur_sev);
          add_str(meta, "status", cur_status);
          add_raw(meta, "created_by", created_by);
          add_int(meta, "created_at", created_at);
          add_int(meta, "updated_at", now);
          meta += '}';
          if (!create && changed == "[]") {
            p.stop = result::success("{\"channel\":" + d[0].value + ",\"changed\":false}");
            return p;
          }
          p.writes.push_back({"meta", d[0].version, meta});
          std::string data = "{\"channel\":" + meta;
          if (!create) add_raw(data, "changed", changed);
          add_raw(data, "by", person(who.id.subject, who.id.name));
          p.events.push_back({create ? "channel.created" : "channel.updated", data + "}", by});
          p.reply = [this, meta, channel, create, created_at](const commit_result& r) {
            if (create)
              eng_.index_put(
                  std::string(channels_index), channel, created_at, [channel](std::error_code ec) {
                    if (ec)
                      spdlog::error("crisis: channel {} not listed: {}", channel, ec.message());
                  });
            std::string out = "{\"channel\":" + meta + ",\"changed\":true";
            add_int(out, "offset", static_cast<std::int64_t>(r.offsets[0]));
            return result::success(out + "}");
          };
          return p;
        },
        std::move(done), keep);
  }

  if (op == "channel.get") {
    return eng_.read_docs(
        channel, {"meta"}, [done, channel](std::error_code ec, std::vector<doc> d) {
          if (ec) return done(result::failure(errc::unavailable, ec.message()));
          if (d[0].version == 0)
            return done(result::failure(errc::not_found, "no crisis channel " + channel));
          done(result::success("{\"channel\":" + d[0].value + "}"));
        });
  }

  if (op == "alert.get" || op == "alert.list") {
    if (op == "alert.get") {
      auto id = f.str("alert", true, 64);
      if (f.error) return fail_fields();
      return eng_.read_docs(channel, {"alert:" + id},
                            [done, id](std::error_code ec, std::vector<doc> d) {
                              if (ec) return done(result::failure(errc::unavailable, ec.message()));
                              if (d[0].version == 0)
                                return done(result::failure(errc::not_found, "no alert " + id));
                              done(result::success("{\"alert\":" + d[0].value + "}"));
                            });
    }
    auto status = f.str("status", false, 16);
    auto limit = f.uint("limit").value_or(1000);
    if (!f.error && (limit < 1 || limit > 10000)) f.fail("limit", "must be between 1 and 10000");
    if (f.error) return fail_fields();
    return eng_.list_docs(
        channel, "alert:", [done, status, limit, channel](std::error_code ec, std::vector<doc> d) {
          if (ec) return done(result::failure(errc::unavailable, ec.message()));
          std::vector<std::pair<std::int64_t, const std::string*>> rows;
          for (auto& x : d) {
            alert_record r;
            if (!parse_alert(x.value, r)) {
              spdlog::error("crisis: stored {} in {} is unreadable; left out", x.key, channel);
              continue;
            }
            if (!status.empty() && status_name(r.a.status) != status) continue;
            rows.emplace_back(to_ms(r.a.first_seen), &x.value);
          }
          std::stable_sort(rows.begin(), rows.end(),
                           [](const auto& a, const auto& b) { return a.first < b.first; });
          // The newest `limit`, oldest first.
          std::size_t from = rows.size() > limit ? rows.size() - limit : 0;
          std::string out = "{\"alerts\":[";
          for (std::size_t i = from; i < rows.size(); ++i) {
            if (i > from) out += ',';
            out += *rows[i].second;
          }
          out += "],\"total\":" + std::to_string(rows.size());
          out += from > 0 ? ",\"truncated\":true}" : ",\"truncated\":false}";
          done(result::success(std::move(out)));
        });
  }

  if (op.starts_with("alert.")) {
    auto id = f.str("alert", true, 64);
    std::string to, to_name, reply_url, reply_text;
    if (op == "alert.assign") {
      to = f.str("to", true, 256);
      to_name = f.str("to_name", false, 64);
    }
    if (op == "alert.respond") {
      reply_url = f.str("reply_url", false, max_field);
      reply_text = f.str("reply_text", false, max_text);
      if (!f.error && reply_url.empty() && reply_text.empty())
        f.fail("reply_url", "or reply_text is required");
    }
    if (f.error) return fail_fields();
    bool lead = auth::acts_for_others(who.id.role);
    std::string user = who.id.subject, name = who.id.name;
    std::string action(op.substr(6));
    return modify_alert(
        channel, id, who,
        [=, this](alert_record& rec, std::vector<std::string>& names) -> std::optional<result> {
          auto t = clock_();
          outcome res = outcome::ok;
          std::string event;
          if (action == "claim") {
            // Claiming what one already holds (claimed or responded) changes nothing.
            bool mine = rec.a.status != alert_status::open && rec.a.holder == user;
            res = claim(rec.a, user, t);
            if (res == outcome::ok && !mine) {
              rec.holder_name = name;
              event = "alert.claimed";
            }
          } else if (action == "release") {
            res = release(rec.a, user, lead);
            if (res == outcome::ok) {
              rec.holder_name.clear();
              event = "alert.released";
            }
          } else if (action == "assign") {
            res = assign(rec.a, to, t);
            if (res == outcome::ok) {
              rec.holder_name = to_name.empty() ? to : to_name;
              event = "alert.assigned";
            }
          } else if (action == "respond") {
            res = respond(rec.a, user, reply_url, reply_text, lead, t);
            if (res == outcome::ok) {
              rec.responder = user;
              rec.responder_name = name;
              event = "alert.responded";
            }
          } else if (action == "resolve") {
            res = resolve(rec.a, user, lead);
            if (res == outcome::ok) event = "alert.resolved";
          } else if (action == "dismiss") {
            res = dismiss(rec.a, lead);
            if (res == outcome::ok) event = "alert.dismissed";
          } else {
            return result::failure(errc::bad_request, "unknown alert command");
          }
          switch (res) {
            case outcome::ok:
              break;
            case outcome::already_claimed:
              return result::failure(errc::already_claimed,
                                     "alert " + rec.a.id + " is claimed by " + rec.holder_name,
                                     "\"holder\":" + person(rec.a.holder, rec.holder_name));
            case outcome::not_claimed:
              return result::failure(errc::invalid_state, "alert " + rec.a.id + " is not claimed");
            case outcome::invalid_state:
              return result::failure(
                  errc::invalid_state,
                  "alert " + rec.a.id + " is " + std::string(status_name(rec.a.status)));
            case outcome::forbidden:
              return result::failure(errc::forbidden, "only the holder or a lead may " + action +
                                                          " alert " + rec.a.id);
          }
          if (finished(rec.a.status) && rec.closed_at == 0) {
            rec.closed_at = to_ms(t);
            rec.closed_by = user;
          }
          if (!event.empty()) names.push_back(event);
          return std::nullopt;
        },
        std::move(done));
  }

  if (op == "guidance.post") {
    auto kind = f.str("kind", true, 32);
    auto title = f.str("title", true, 256);
    auto body = f.str("body", true, 32 * 1024);
    if (!f.error && std::find(std::begin(guidance_kinds), std::end(guidance_kinds), kind) ==
                        std::end(guidance_kinds))
      f.fail("kind", "must be one of holding_statement talking_points do_dont update");
    if (f.error) return fail_fields();
    return post_guidance(channel, kind, title, body, who, std::move(done));
  }

  if (op == "guidance.ack") {
    auto gid = f.str("guidance", true, 64);
    if (f.error) return fail_fields();
    return eng_.read_docs(
        channel, {"guidance:" + gid},
        [this, channel, gid, who, by, now, done](std::error_code ec, std::vector<doc> d) {
          if (ec) return done(result::failure(errc::unavailable, ec.message()));
          if (d[0].version == 0)
            return done(result::failure(errc::not_found, "no guidance " + gid + " in " + channel));
          dom::parser gp;
          std::int64_t posted = 0;
          std::string kind;
          dom::object g;
          if (!gp.parse(d[0].value).get_object().get(g)) {
            fields gf{g, {}};
            posted = static_cast<std::int64_t>(gf.uint("posted_at").value_or(0));
            kind = gf.str("kind", false);
          }
          std::string ack = "{";
          add_str(ack, "guidance", gid, true);
          add_str(ack, "kind", kind);
          add_str(ack, "user", who.id.subject);
          add_str(ack, "name", who.id.name);
          add_int(ack, "at", now);
          add_int(ack, "delay_ms", std::max<std::int64_t>(0, now - posted));
          ack += '}';
          eng_.commit(channel, {{"ack:" + gid + ":" + who.id.subject, 0, ack}},
                      {{"guidance.acked", ack, by}}, std::nullopt,
                      [done, ack](std::error_code cec, commit_result r) {
                        if (cec) return done(result::failure(errc::unavailable, cec.message()));
                        if (!r.applied)
                          return done(result::success("{\"ack\":" + r.current[0].value +
                                                      ",\"already\":true}"));
                        done(result::success("{\"ack\":" + ack + ",\"already\":false}"));
                      });
        });
  }

  if (op == "guidance.status") {
    auto gid = f.str("guidance", true, 64);
    if (f.error) return fail_fields();
    return eng_.read_docs(
        channel, {"guidance:" + gid},
        [this, channel, gid, done](std::error_code ec, std::vector<doc> g) {
          if (ec) return done(result::failure(errc::unavailable, ec.message()));
          if (g[0].version == 0)
            return done(result::failure(errc::not_found, "no guidance " + gid + " in " + channel));
          eng_.list_docs(
              channel, "ack:" + gid + ":",
              [this, channel, g, gid, done](std::error_code aec, std::vector<doc> acks) {
                if (aec) return done(result::failure(errc::unavailable, aec.message()));
                eng_.list_docs(
                    channel,
                    "member:", [g, gid, acks, done](std::error_code mec, std::vector<doc> members) {
                      if (mec) return done(result::failure(errc::unavailable, mec.message()));
                      std::set<std::string> acked;
                      std::string out = "{\"guidance\":" + g[0].value + ",\"acknowledged\":[";
                      for (std::size_t i = 0; i < acks.size(); ++i) {
                        if (i) out += ',';
                        out += acks[i].value;
                        // The user is everything after "ack:<gid>:" (it may contain ':').
                        acked.insert(acks[i].key.substr(5 + gid.size()));
                      }
                      out += "],\"pending\":[";
                      bool first = true;
                      for (auto& m : members) {
                        auto user = m.key.substr(7);
                        if (acked.count(user)) continue;
                        if (!first) out += ',';
                        first = false;
                        out += m.value;
                      }
                      done(result::success(out + "]}"));
                    });
              });
        });
  }

  if (op == "guidance.list") {
    return eng_.list_docs(
        channel, "pinned:", [this, channel, done](std::error_code ec, std::vector<doc> pins) {
          if (ec) return done(result::failure(errc::unavailable, ec.message()));
          std::vector<std::string> keys;
          for (auto& p : pins) keys.push_back("guidance:" + p.value);
          if (keys.empty()) return done(result::success("{\"pinned\":[]}"));
          eng_.read_docs(channel, keys, [done](std::error_code gec, std::vector<doc> g) {
            if (gec) return done(result::failure(errc::unavailable, gec.message()));
            std::string out = "{\"pinned\":[";
            bool first = true;
            for (auto& x : g) {
              if (x.version == 0) continue;
              if (!first) out += ',';
              first = false;
              out += x.value;
            }
            done(result::success(out + "]}"));
          });
        });
  }

  if (op == "template.put" || op == "template.delete") {
    bool put = op == "template.put";
    auto name = f.str("name", true, 64);
    auto title = put ? f.str("title", false, 256) : std::string();
    auto text = put ? f.str("text", true, max_text) : std::string();
    if (f.error) return fail_fields();
    std::string tpl;
    if (put) {
      tpl = "{";
      add_str(tpl, "name", name, true);
      add_str(tpl, "title", title.empty() ? name : title);
      add_str(tpl, "text", text);
      add_raw(tpl, "by", person(who.id.subject, who.id.name));
      add_int(tpl, "updated_at", now);
      tpl += '}';
    }
    return modify(
        channel, {"template:" + name},
        [=](const std::vector<doc>& d) {
          plan p;
          if (!put && d[0].version == 0) {
            p.stop = result::failure(errc::not_found, "no template " + name);
            return p;
          }
          p.writes.push_back({d[0].key, d[0].version, tpl});
          std::string data = "{";
          add_str(data, "name", name, true);
          if (put) add_raw(data, "template", tpl);
          add_raw(data, "by", person(who.id.subject, who.id.name));
          p.events.push_back({put ? "template.updated" : "template.deleted", data + "}", by});
          p.reply = [tpl, name](const commit_result&) {
            return result::success(tpl.empty() ? deleted_json(name) : "{\"template\":" + tpl + "}");
          };
          return p;
        },
        std::move(done));
  }

  if (op == "template.list") {
    return eng_.list_docs(channel, "template:", [done](std::error_code ec, std::vector<doc> d) {
      if (ec) return done(result::failure(errc::unavailable, ec.message()));
      std::string out = "{\"templates\":[";
      for (std::size_t i = 0; i < d.size(); ++i) {
        if (i) out += ',';
        out += d[i].value;
      }
      done(result::success(out + "]}"));
    });
  }

  done(result::failure(errc::unknown_op, "unknown op " + std::string(op)));
}

// ---------------------------------------------------------------------------------------------
// Guidance

void service::post_guidance(const std::string& channel, const std::string& kind,
                            const std::string& title, const std::string& body, const actor& who,
                            done_fn done) {
  auto by = who.info();
  auto gid = random_id('g');
  auto now = now_ms();
  modify(
      channel, {"pinned:" + kind},
      [=, this](const std::vector<doc>& d) {
        plan p;
        std::string g = "{";
        add_str(g, "id", gid, true);
        add_str(g, "channel", channel);
        add_str(g, "kind", kind);
        add_str(g, "title", title);
        add_str(g, "body", body);
        add_raw(g, "by", person(who.id.subject, who.id.name));
        add_int(g, "posted_at", now);
        add_raw(g, "supersedes", d[0].version ? "\"" + d[0].value + "\"" : std::string("null"));
        add_raw(g, "reminded", "false");
        g += '}';
        p.writes.push_back({"guidance:" + gid, 0, g});
        p.writes.push_back({d[0].key, d[0].version, gid});
        p.events.push_back({"guidance.posted", "{\"guidance\":" + g + "}", by});
        p.reply = [this, g, gid, channel, now](const commit_result& r) {
          metrics_.add(counter::guidance_posted);
          auto due =
              now +
              std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.reminder_after).count();
          eng_.index_put(std::string(remind_index), channel + " " + gid, due,
                         [gid](std::error_code ec) {
                           if (ec)
                             spdlog::error("crisis: reminder for guidance {} not scheduled: {}",
                                           gid, ec.message());
                         });
          std::string out = "{\"guidance\":" + g;
          add_int(out, "offset", static_cast<std::int64_t>(r.offsets[0]));
          return result::success(out + "}");
        };
        return p;
      },
      std::move(done));
}

void service::note_member(const std::string& channel, const actor& who) {
  if (who.id.role != auth::role::ambassador) return;
  std::string m = "{";
  add_str(m, "user", who.id.subject, true);
  add_str(m, "name", who.id.name);
  add_int(m, "since", now_ms());
  m += '}';
  // Conditional on absence: the first subscription records the member, later ones are no-ops.
  eng_.commit(channel, {{"member:" + who.id.subject, 0, m}}, {}, std::nullopt,
              [channel](std::error_code ec, commit_result) {
                if (ec)
                  spdlog::warn("crisis: member of {} not recorded: {}", channel, ec.message());
              });
}

// ---------------------------------------------------------------------------------------------
// Escalation and reminders

void service::scan(std::function<void()> done) {
  auto now = now_ms();
  eng_.index_range(
      std::string(due_index), now, max_scan,
      [this, now, done = std::move(done)](std::error_code ec,
                                          std::vector<std::pair<std::string, std::int64_t>> due) {
        if (ec) {
          spdlog::warn("crisis: escalation scan failed: {}", ec.message());
          return done();
        }
        // One item at a time: bounded work and no burst of commits against the engine.
        auto items = std::make_shared<std::vector<std::pair<bool, std::string>>>();
        for (auto& [m, s] : due) items->emplace_back(true, m);
        eng_.index_range(
            std::string(remind_index), now, max_scan,
            [this, items, done](std::error_code rec,
                                std::vector<std::pair<std::string, std::int64_t>> rem) {
              if (!rec)
                for (auto& [m, s] : rem) items->emplace_back(false, m);
              auto step = std::make_shared<std::function<void(std::size_t)>>();
              *step = [this, items, done, step](std::size_t i) {
                if (i >= items->size()) {
                  // Break the self-reference once finished. Clearing *step destroys this very
                  // lambda, so nothing captured may be touched afterwards: copy first.
                  auto finish = done;
                  auto keep = step;
                  *step = nullptr;
                  return finish();
                }
                auto& [esc, member] = (*items)[i];
                auto space = member.find(' ');
                if (space == std::string::npos) return (*step)(i + 1);
                auto next = [step, i] { (*step)(i + 1); };
                if (esc)
                  escalate(member.substr(0, space), member.substr(space + 1), next);
                else
                  remind(member.substr(0, space), member.substr(space + 1), next);
              };
              (*step)(0);
            });
      });
}

void service::escalate(const std::string& channel, const std::string& id,
                       std::function<void()> next) {
  actor system;
  system.id.subject = "muster";
  system.id.name = "muster";
  system.client = "scheduler";
  auto step = std::make_shared<unsigned>(0);
  auto rec_copy = std::make_shared<alert_record>();
  modify_alert(
      channel, id, system,
      [this, step, rec_copy](alert_record& rec,
                             std::vector<std::string>& names) -> std::optional<result> {
        *step = 0;  // a retry after a lost race decides afresh
        auto due = escalation_due(rec.a, cfg_.escalation, clock_());
        if (!due) {
          *rec_copy = rec;
          return std::nullopt;  // nothing due (claimed, answered or escalated meanwhile)
        }
        *step = *due;
        rec.a.escalations = *due;
        rec.event_extra = "\"step\":" + std::to_string(*due) + ",\"reason\":\"" +
                          (*due == 1 ? "unclaimed" : "no_response") + "\"";
        *rec_copy = rec;
        names.push_back("alert.escalated");
        return std::nullopt;
      },
      [this, step, rec_copy, channel, id, next](result r) {
        if (!r.ok && r.code == errc::not_found) {
          eng_.index_remove(std::string(due_index), channel + " " + id, [](std::error_code) {});
        } else if (r.ok && *step == 0) {
          schedule(*rec_copy);  // not due: the deadline moved (e.g. claimed): file it anew
        } else if (r.ok) {
          metrics_.add(counter::escalations);
          spdlog::info("crisis: alert {} in {} escalated (step {})", id, channel, *step);
          // Leads hear of it in their own channel too.
          std::string data = "{\"alert\":" + alert_json(*rec_copy);
          add_int(data, "step", *step);
          add_str(data, "reason", *step == 1 ? "unclaimed" : "no_response");
          data += '}';
          if (cfg_.leads_channel != channel &&
              std::find(rec_copy->channels.begin(), rec_copy->channels.end(), cfg_.leads_channel) ==
                  rec_copy->channels.end())
            eng_.commit(
                cfg_.leads_channel, {}, {{"alert.escalated", data, {"scheduler", "muster"}}},
                std::nullopt, [this, id](std::error_code ec, commit_result) {
                  if (!ec) return;
                  metrics_.add(counter::crisis_mirror_failures);
                  spdlog::error("crisis: escalation of {} not sent to leads: {}", id, ec.message());
                });
        } else {
          spdlog::warn("crisis: escalation of alert {} failed: {}", id, r.message);
        }
        next();
      });
}

void service::remind(const std::string& channel, const std::string& gid,
                     std::function<void()> next) {
  auto finish = [this, channel, gid, next] {
    eng_.index_remove(std::string(remind_index), channel + " " + gid, [](std::error_code) {});
    next();
  };
  eng_.list_docs(
      channel,
      "pinned:", [this, channel, gid, next, finish](std::error_code pec, std::vector<doc> pins) {
        if (pec) return next();
        // Superseded by a newer post of its kind: nobody is reminded of outdated guidance.
        if (std::none_of(pins.begin(), pins.end(), [&](const doc& p) { return p.value == gid; }))
          return finish();
        eng_.list_docs(
            channel, "ack:" + gid + ":",
            [this, channel, gid, next, finish](std::error_code ec, std::vector<doc> acks) {
              if (ec) return next();
              eng_.list_docs(channel, "member:",
                             [this, channel, gid, next, finish, acks](std::error_code mec,
                                                                      std::vector<doc> members) {
                               if (mec) return next();
                               std::set<std::string> acked;
                               for (auto& a : acks) acked.insert(a.key.substr(5 + gid.size()));
                               std::string pending = "[";
                               std::size_t n = 0;
                               for (auto& m : members)
                                 if (!acked.count(m.key.substr(7))) {
                                   if (n++) pending += ',';
                                   pending += m.value;
                                 }
                               pending += ']';
                               modify(
                                   channel, {"guidance:" + gid},
                                   [pending, n, gid](const std::vector<doc>& d) {
                                     plan p;
                                     if (d[0].version == 0 ||
                                         // `reminded` is the document's last field (see
                                         // post_guidance): text in the body cannot be taken for it.
                                         d[0].value.ends_with("\"reminded\":true}")) {
                                       p.stop = result::success(
                                           "{}");  // gone, or another node reminded already
                                       return p;
                                     }
                                     std::string g = d[0].value;
                                     if (g.ends_with("\"reminded\":false}"))
                                       g.replace(g.size() - 17, 16, "\"reminded\":true");
                                     p.writes.push_back({d[0].key, d[0].version, g});
                                     if (n > 0)
                                       p.events.push_back(
                                           {"guidance.reminder",
                                            "{\"guidance\":" + g + ",\"pending\":" + pending + "}",
                                            {"scheduler", "muster"}});
                                     p.reply = [](const commit_result&) {
                                       return result::success("{\"reminded\":true}");
                                     };
                                     return p;
                                   },
                                   [this, finish, next, gid, n](result r) {
                                     if (r.ok && r.json == "{\"reminded\":true}" && n > 0)
                                       metrics_.add(counter::guidance_reminders);
                                     if (!r.ok) {
                                       // Kept in the index: the next scan tries again.
                                       spdlog::warn("crisis: reminder for guidance {} failed: {}",
                                                    gid, r.message);
                                       return next();
                                     }
                                     finish();
                                   });
                             });
            });
      });
}

// ---------------------------------------------------------------------------------------------
// Timeline and stats

void service::timeline(std::string channel, timeline_fn done) {
  struct job {
    std::string channel;
    std::string lines;
    std::uint64_t first = 0;
    timeline_fn done;
  };
  auto j = std::make_shared<job>(job{std::move(channel), {}, 0, std::move(done)});
  auto page = std::make_shared<std::function<void(std::uint64_t)>>();
  *page = [this, j, page](std::uint64_t since) {
    eng_.history(j->channel, {since, protocol::max_history_limit},
                 [this, j, page, since](std::error_code ec, history_result h) {
                   auto finish = [&](std::error_code e) {
                     auto keep = page;
                     *page = nullptr;
                     j->done(e, std::move(j->lines), j->first);
                   };
                   if (ec) return finish(ec);
                   if (since == 0) j->first = h.first_offset;
                   std::uint64_t last = since;
                   for (auto& p : h.publications) {
                     j->lines += *p.frame;
                     j->lines += '\n';
                     last = p.offset;
                   }
                   if (h.publications.empty() || last >= h.top.offset) return finish({});
                   (*page)(last);
                 });
  };
  (*page)(0);
}

struct service::person_totals {
  std::string name;
  std::uint64_t claimed = 0, responded = 0, acks = 0;
  std::vector<std::int64_t> to_claim, to_respond, ack_delay;
};

namespace {
std::string people_json(const service::people_map& people) {
  std::string out = "[";
  bool first = true;
  for (auto& [user, p] : people) {
    if (user.empty()) continue;
    if (!first) out += ',';
    first = false;
    out += '{';
    add_str(out, "user", user, true);
    add_str(out, "name", p.name);
    add_int(out, "claimed", static_cast<std::int64_t>(p.claimed));
    add_int(out, "responded", static_cast<std::int64_t>(p.responded));
    add_int(out, "median_time_to_claim_ms", median(p.to_claim));
    add_int(out, "median_time_to_respond_ms", median(p.to_respond));
    add_int(out, "acks", static_cast<std::int64_t>(p.acks));
    add_int(out, "median_ack_delay_ms", median(p.ack_delay));
    out += '}';
  }
  return out + "]";
}
}  // namespace

void service::channel_stats(const std::string& channel,
                            std::function<void(std::error_code, std::string, people_map)> done) {
  eng_.list_docs(channel, "", [channel, done](std::error_code ec, std::vector<doc> all) {
    if (ec) return done(ec, {}, {});
    people_map people;
    std::map<std::string, std::uint64_t> by_status;
    std::uint64_t total = 0, escalated = 0, guidance = 0, acks = 0, triggers = 0;
    std::vector<std::int64_t> to_claim, to_respond, ack_delay;
    for (auto& d : all) {
      if (d.key.starts_with("alert:")) {
        service::alert_record r;
        if (!parse_alert(d.value, r)) continue;
        ++total;
        triggers += r.a.count;
        ++by_status[std::string(status_name(r.a.status))];
        if (r.a.escalations) ++escalated;
        auto claimed_at = to_ms(r.a.claimed_at), first = to_ms(r.a.first_seen);
        if (!r.a.holder.empty() && claimed_at > 0) {
          auto& p = people[r.a.holder];
          if (p.name.empty()) p.name = r.holder_name;
          ++p.claimed;
          p.to_claim.push_back(claimed_at - first);
          to_claim.push_back(claimed_at - first);
        }
        if (!r.responder.empty()) {
          auto& p = people[r.responder];
          if (p.name.empty()) p.name = r.responder_name;
          ++p.responded;
          auto dt = to_ms(r.a.responded_at) - claimed_at;
          p.to_respond.push_back(dt);
          to_respond.push_back(dt);
        }
      } else if (d.key.starts_with("guidance:")) {
        ++guidance;
      } else if (d.key.starts_with("ack:")) {
        dom::parser p;
        dom::object o;
        if (p.parse(d.value).get_object().get(o)) continue;
        fields f{o, {}};
        auto user = f.str("user", false);
        auto& ps = people[user];
        if (ps.name.empty()) ps.name = f.str("name", false);
        auto delay = static_cast<std::int64_t>(f.uint("delay_ms").value_or(0));
        ++ps.acks;
        ++acks;
        ps.ack_delay.push_back(delay);
        ack_delay.push_back(delay);
      }
    }
    std::string out = "{";
    add_str(out, "channel", channel, true);
    out += ",\"alerts\":{\"total\":" + std::to_string(total);
    for (auto s : {alert_status::open, alert_status::claimed, alert_status::responded,
                   alert_status::resolved, alert_status::dismissed})
      add_int(out, status_name(s),
              static_cast<std::int64_t>(by_status[std::string(status_name(s))]));
    add_int(out, "escalated", static_cast<std::int64_t>(escalated));
    add_int(out, "triggers", static_cast<std::int64_t>(triggers));
    out += '}';
    add_int(out, "median_time_to_claim_ms", median(to_claim));
    add_int(out, "median_time_to_respond_ms", median(to_respond));
    out += ",\"guidance\":{\"posted\":" + std::to_string(guidance);
    add_int(out, "acks", static_cast<std::int64_t>(acks));
    add_int(out, "median_ack_delay_ms", median(ack_delay));
    out += "},\"people\":" + people_json(people) + "}";
    done({}, std::move(out), std::move(people));
  });
}

void service::stats(std::optional<std::string> channel, const actor& who, done_fn done) {
  if (channel)
    return channel_stats(*channel, [done](std::error_code ec, std::string s, people_map people) {
      if (ec) return done(result::failure(errc::unavailable, ec.message()));
      done(result::success("{\"channels\":[" + s + "],\"people\":" + people_json(people) + "}"));
    });
  eng_.index_range(
      std::string(channels_index), std::numeric_limits<std::int64_t>::max(), 10000,
      [this, who, done](std::error_code ec, std::vector<std::pair<std::string, std::int64_t>> v) {
        if (ec) return done(result::failure(errc::unavailable, ec.message()));
        std::vector<std::string> names;
        for (auto& [ch, s] : v)
          if (who.id.may_access(ch)) names.push_back(ch);
        struct gather {
          std::mutex m;
          std::map<std::string, std::string> out;
          people_map people;  // across channels: the record of who carried the crisis
          std::size_t left = 0;
          bool failed = false;
        };
        auto g = std::make_shared<gather>();
        g->left = names.size();
        auto finish = [g, done] {
          if (g->failed) return done(result::failure(errc::unavailable, "cannot read stats"));
          std::string out = "{\"channels\":[";
          bool first = true;
          for (auto& [ch, s] : g->out) {
            if (!first) out += ',';
            first = false;
            out += s;
          }
          done(result::success(out + "],\"people\":" + people_json(g->people) + "}"));
        };
        if (names.empty()) return finish();
        for (auto& ch : names)
          channel_stats(ch, [g, finish, ch](std::error_code sec, std::string s, people_map people) {
            bool last;
            {
              std::lock_guard l(g->m);
              if (sec) g->failed = true;
              g->out[ch] = std::move(s);
              for (auto& [user, p] : people) {
                auto& t = g->people[user];
                if (t.name.empty()) t.name = p.name;
                t.claimed += p.claimed;
                t.responded += p.responded;
                t.acks += p.acks;
                t.to_claim.insert(t.to_claim.end(), p.to_claim.begin(), p.to_claim.end());
                t.to_respond.insert(t.to_respond.end(), p.to_respond.begin(), p.to_respond.end());
                t.ack_delay.insert(t.ack_delay.end(), p.ack_delay.begin(), p.ack_delay.end());
              }
              last = --g->left == 0;
            }
            if (last) finish();
          });
      });
}

}  // namespace muster::server::crisis
