#include "server/crisis/records.hpp"

#include <simdjson.h>

#include "protocol/json_writer.hpp"

namespace muster::server::crisis {

namespace od = simdjson::ondemand;
using protocol::json_writer;

namespace {

void write_person(json_writer& w, const person& p) {
  if (p.empty()) {
    w.null();
    return;
  }
  w.begin_object().field("user", p.user).field("name", p.name).end_object();
}

// Reads one stored object field by field with on-demand; `on_field(key, value)` returns false
// on a value of the wrong type. Unknown keys are skipped.
template <class OnField>
bool read_object(std::string_view json, OnField&& on_field) {
  thread_local od::parser parser;
  thread_local std::string buffer;
  buffer.assign(json);
  buffer.resize(json.size() + simdjson::SIMDJSON_PADDING);
  simdjson::padded_string_view input(buffer.data(), json.size(), buffer.size());
  od::document doc;
  od::object obj;
  if (parser.iterate(input).get(doc) || doc.get_object().get(obj)) return false;
  for (auto field_result : obj) {
    od::field field;
    std::string_view key;
    if (std::move(field_result).get(field) || field.unescaped_key().get(key)) return false;
    if (!on_field(key, field.value())) return false;
  }
  return true;
}

bool read(od::value v, std::string& out) {
  std::string_view s;
  if (v.get_string().get(s)) return false;
  out.assign(s);
  return true;
}
bool read(od::value v, std::int64_t& out) {
  return !v.get_int64().get(out);
}
bool read(od::value v, std::uint64_t& out) {
  return !v.get_uint64().get(out);
}
bool read(od::value v, bool& out) {
  return !v.get_bool().get(out);
}
bool read(od::value v, time_point& out) {
  std::int64_t ms;
  if (v.get_int64().get(ms)) return false;
  out = from_ms(ms);
  return true;
}
bool read(od::value v, std::vector<std::string>& out) {
  od::array a;
  if (v.get_array().get(a)) return false;
  out.clear();
  for (auto item : a) {
    std::string_view s;
    if (item.get_string().get(s)) return false;
    out.emplace_back(s);
  }
  return true;
}
bool read(od::value v, person& out) {
  bool null = false;
  if (!v.is_null().get(null) && null) {
    out = {};
    return true;
  }
  od::object o;
  if (v.get_object().get(o)) return false;
  for (auto f : o) {
    std::string_view key;
    if (f.unescaped_key().get(key)) return false;
    if (key == "user" && !read(f.value(), out.user)) return false;
    if (key == "name" && !read(f.value(), out.name)) return false;
  }
  return true;
}
bool read(od::value v, severity& out) {
  std::string s;
  if (!read(v, s)) return false;
  auto sev = parse_severity(s);
  if (!sev) return false;
  out = *sev;
  return true;
}
bool read(od::value v, alert_status& out) {
  std::string s;
  if (!read(v, s)) return false;
  for (auto st : {alert_status::open, alert_status::claimed, alert_status::responded,
                  alert_status::resolved, alert_status::dismissed})
    if (status_name(st) == s) {
      out = st;
      return true;
    }
  return false;
}
bool read_count(od::value v, unsigned& out) {
  std::uint64_t n = 0;
  if (!read(v, n) || n > 0xffffffffu) return false;
  out = static_cast<unsigned>(n);
  return true;
}
// An array of objects, each read field by field by `on_field(item, key, value)`.
template <class Item, class OnField>
bool read_items(od::value v, std::vector<Item>& out, OnField&& on_field) {
  od::array a;
  if (v.get_array().get(a)) return false;
  out.clear();
  for (auto element : a) {
    od::object o;
    if (element.get_object().get(o)) return false;
    Item item;
    for (auto f : o) {
      std::string_view key;
      if (f.unescaped_key().get(key) || !on_field(item, key, f.value())) return false;
    }
    out.push_back(std::move(item));
  }
  return true;
}
bool read_history(od::value v, std::vector<guidance_version>& out) {
  return read_items(v, out, [](guidance_version& g, std::string_view k, od::value x) {
    if (k == "version") return read_count(x, g.version);
    if (k == "at") return read(x, g.at);
    if (k == "by") return read(x, g.by);
    if (k == "changes") return read(x, g.changes);
    return true;
  });
}
bool read_pinned(od::value v, std::vector<pinned_version>& out) {
  return read_items(v, out, [](pinned_version& p, std::string_view k, od::value x) {
    if (k == "id") return read(x, p.id);
    if (k == "kind") return read(x, p.kind);
    if (k == "version") return read_count(x, p.version);
    return true;
  });
}
bool read_proposals(od::value v, std::vector<proposal_record>& out) {
  return read_items(v, out, [](proposal_record& p, std::string_view k, od::value x) {
    if (k == "id") return read(x, p.id);
    if (k == "text") return read(x, p.text);
    if (k == "url") return read(x, p.url);
    if (k == "template") return read(x, p.template_name);
    if (k == "by") return read(x, p.by);
    if (k == "at") return read(x, p.at);
    if (k == "state") return read(x, p.state);
    if (k == "decided_by") return read(x, p.decided_by);
    if (k == "decided_at") return read(x, p.decided_at);
    if (k == "comment") return read(x, p.comment);
    if (k == "edited") return read(x, p.edited);
    if (k == "auto") return read(x, p.automatic);
    if (k == "overdue") return read(x, p.overdue);
    return true;
  });
}
void write_proposal(json_writer& w, const proposal_record& p) {
  w.begin_object().field("id", p.id).field("text", p.text).field("url", p.url);
  w.field("template", p.template_name);
  write_person(w.key("by"), p.by);
  w.field("at", p.at).field("state", p.state);
  write_person(w.key("decided_by"), p.decided_by);
  w.field("decided_at", p.decided_at).field("comment", p.comment);
  w.field("edited", p.edited).field("auto", p.automatic).field("overdue", p.overdue);
  w.end_object();
}
// A value kept as its JSON text (null: empty).
bool read_raw(od::value v, std::string& out) {
  bool null = false;
  if (!v.is_null().get(null) && null) {
    out.clear();
    return true;
  }
  std::string_view raw;
  if (simdjson::to_json_string(v).get(raw)) return false;
  out.assign(raw);
  return true;
}
bool read_next_escalation(od::value v, alert_record& r) {
  bool null = false;
  if (!v.is_null().get(null) && null) return true;
  od::object o;
  if (v.get_object().get(o)) return false;
  for (auto f : o) {
    std::string_view key;
    if (f.unescaped_key().get(key)) return false;
    if (key == "step" && !read_count(f.value(), r.next_escalation_step)) return false;
    if (key == "at" && !read(f.value(), r.next_escalation_at)) return false;
  }
  return true;
}
bool read_metrics(od::value v, alert_input& in) {
  od::object o;
  if (v.get_object().get(o)) return false;
  for (auto f : o) {
    std::string_view key;
    if (f.unescaped_key().get(key)) return false;
    if (key == "reach" && !read(f.value(), in.reach)) return false;
    if (key == "engagement" && !read(f.value(), in.engagement)) return false;
  }
  return true;
}

}  // namespace

std::string encode(const person& p) {
  json_writer w;
  write_person(w, p);
  return w.take();
}

std::string encode(const alert_record& r) {
  const auto& a = r.a;
  json_writer w;
  w.begin_object().field("id", a.id).field("channel", r.channel);
  w.key("channels").strings(r.channels);
  w.field("status", status_name(a.status)).field("source", a.input.source);
  w.field("url", a.input.url).field("author", a.input.author).field("text", a.input.text);
  w.key("later_texts").strings(a.later_texts);
  w.field("severity", severity_name(a.input.severity)).field("dedup_key", a.input.dedup_key);
  w.key("tags").strings(a.input.tags);
  w.key("metrics").begin_object().field("reach", a.input.reach);
  w.field("engagement", a.input.engagement).end_object();
  w.raw_field("occurred_at", r.occurred_at.empty() ? std::string_view("null") : r.occurred_at);
  write_person(w.key("holder"), person{a.holder, r.holder_name});
  write_person(w.key("responder"), r.responder);
  w.field("reply_url", a.reply_url).field("reply_text", a.reply_text);
  w.field("count", static_cast<std::uint64_t>(a.count));
  w.field("first_seen", to_ms(a.first_seen)).field("last_seen", to_ms(a.last_seen));
  w.field("claimed_at", to_ms(a.claimed_at)).field("responded_at", to_ms(a.responded_at));
  w.field("closed_at", r.closed_at).field("closed_by", r.closed_by);
  w.field("escalations", static_cast<std::uint64_t>(a.escalations));
  w.field("claim_expires_at", to_ms(a.claim_expires_at));
  w.field("expired_claims", static_cast<std::uint64_t>(a.expired_claims));
  w.field("takeovers", static_cast<std::uint64_t>(a.takeovers));
  w.field("notes", static_cast<std::uint64_t>(a.notes));
  w.field("reach_jumps", static_cast<std::uint64_t>(a.reach_jumps));
  w.key("guidance").begin_array();
  for (const auto& g : r.guidance) {
    w.begin_object().field("id", g.id).field("kind", g.kind);
    w.field("version", static_cast<std::uint64_t>(g.version)).end_object();
  }
  w.end_array().field("drill", r.drill).key("proposals").begin_array();
  for (const auto& p : r.proposals) write_proposal(w, p);
  w.end_array().key("next_escalation");
  if (r.next_escalation_step == 0) return w.null().end_object().take();
  w.begin_object().field("step", static_cast<std::uint64_t>(r.next_escalation_step));
  w.field("reason", r.next_escalation_step == 1 ? "unclaimed" : "no_response");
  w.field("at", r.next_escalation_at).end_object();
  return w.end_object().take();
}

bool decode(std::string_view json, alert_record& r) {
  auto& a = r.a;
  r = alert_record{};
  bool have_id = false;
  person holder;
  bool ok = read_object(json, [&](std::string_view k, od::value v) {
    if (k == "id") return have_id = read(v, a.id);
    if (k == "channel") return read(v, r.channel);
    if (k == "channels") return read(v, r.channels);
    if (k == "status") return read(v, a.status);
    if (k == "source") return read(v, a.input.source);
    if (k == "url") return read(v, a.input.url);
    if (k == "author") return read(v, a.input.author);
    if (k == "text") return read(v, a.input.text);
    if (k == "later_texts") return read(v, a.later_texts);
    if (k == "severity") return read(v, a.input.severity);
    if (k == "dedup_key") return read(v, a.input.dedup_key);
    if (k == "tags") return read(v, a.input.tags);
    if (k == "metrics") return read_metrics(v, a.input);
    if (k == "occurred_at") return read_raw(v, r.occurred_at);
    if (k == "holder") return read(v, holder);
    if (k == "responder") return read(v, r.responder);
    if (k == "reply_url") return read(v, a.reply_url);
    if (k == "reply_text") return read(v, a.reply_text);
    if (k == "count") {
      std::uint64_t n = 0;
      bool good = read(v, n);
      a.count = static_cast<std::uint32_t>(n);
      return good;
    }
    if (k == "first_seen") return read(v, a.first_seen);
    if (k == "last_seen") return read(v, a.last_seen);
    if (k == "claimed_at") return read(v, a.claimed_at);
    if (k == "responded_at") return read(v, a.responded_at);
    if (k == "closed_at") return read(v, r.closed_at);
    if (k == "closed_by") return read(v, r.closed_by);
    if (k == "escalations") return read_count(v, a.escalations);
    if (k == "claim_expires_at") return read(v, a.claim_expires_at);
    if (k == "expired_claims") return read_count(v, a.expired_claims);
    if (k == "takeovers") return read_count(v, a.takeovers);
    if (k == "notes") return read_count(v, a.notes);
    if (k == "reach_jumps") return read_count(v, a.reach_jumps);
    if (k == "guidance") return read_pinned(v, r.guidance);
    if (k == "drill") return read(v, r.drill);
    if (k == "proposals") return read_proposals(v, r.proposals);
    if (k == "next_escalation") return read_next_escalation(v, r);
    return true;
  });
  a.holder = holder.user;
  r.holder_name = holder.name;
  return ok && have_id && !r.channel.empty();
}

namespace {
bool read_approval(od::value v, channel_record& r) {
  od::object o;
  if (v.get_object().get(o)) return false;
  for (auto f : o) {
    std::string_view key;
    if (f.unescaped_key().get(key)) return false;
    if (key == "required" && !read(f.value(), r.approval_required)) return false;
    if (key == "min_severity") {
      bool null = false;
      if (!f.value().is_null().get(null) && null) continue;
      severity s;
      if (!read(f.value(), s)) return false;
      r.approval_min_severity = s;
    }
  }
  return true;
}
}  // namespace

std::string encode(const channel_record& r) {
  json_writer w;
  w.begin_object().field("channel", r.channel).field("title", r.title);
  w.field("severity", severity_name(r.sev)).field("status", r.status);
  write_person(w.key("created_by"), r.created_by);
  w.field("created_at", r.created_at).field("updated_at", r.updated_at);
  w.field("drill", r.drill).key("approval").begin_object();
  w.field("required", r.approval_required).key("min_severity");
  if (r.approval_min_severity)
    w.string(severity_name(*r.approval_min_severity));
  else
    w.null();
  w.end_object();
  return w.end_object().take();
}

bool decode(std::string_view json, channel_record& r) {
  r = channel_record{};
  bool ok = read_object(json, [&](std::string_view k, od::value v) {
    if (k == "channel") return read(v, r.channel);
    if (k == "title") return read(v, r.title);
    if (k == "severity") return read(v, r.sev);
    if (k == "status") return read(v, r.status);
    if (k == "created_by") return read(v, r.created_by);
    if (k == "created_at") return read(v, r.created_at);
    if (k == "updated_at") return read(v, r.updated_at);
    if (k == "drill") return read(v, r.drill);
    if (k == "approval") return read_approval(v, r);
    return true;
  });
  return ok && !r.channel.empty();
}

std::string encode(const guidance_record& r) {
  json_writer w;
  w.begin_object().field("id", r.id).field("channel", r.channel).field("kind", r.kind);
  w.field("title", r.title).field("body", r.body);
  write_person(w.key("by"), r.by);
  w.field("posted_at", r.posted_at);
  w.key("supersedes");
  if (r.supersedes)
    w.string(*r.supersedes);
  else
    w.null();
  w.field("reminded", r.reminded);
  w.field("version", static_cast<std::uint64_t>(r.version)).field("revised_at", r.revised_at);
  write_person(w.key("revised_by"), r.revised_by);
  w.field("changes", r.changes).key("history").begin_array();
  for (const auto& v : r.history) {
    w.begin_object().field("version", static_cast<std::uint64_t>(v.version)).field("at", v.at);
    write_person(w.key("by"), v.by);
    w.field("changes", v.changes).end_object();
  }
  w.end_array().field("ack_within_s", r.ack_within_s).field("ack_deadline", r.ack_deadline);
  w.field("overdue", r.overdue);
  return w.end_object().take();
}

bool decode(std::string_view json, guidance_record& r) {
  r = guidance_record{};
  bool ok = read_object(json, [&](std::string_view k, od::value v) {
    if (k == "id") return read(v, r.id);
    if (k == "channel") return read(v, r.channel);
    if (k == "kind") return read(v, r.kind);
    if (k == "title") return read(v, r.title);
    if (k == "body") return read(v, r.body);
    if (k == "by") return read(v, r.by);
    if (k == "posted_at") return read(v, r.posted_at);
    if (k == "supersedes") {
      bool null = false;
      if (!v.is_null().get(null) && null) return true;
      std::string id;
      if (!read(v, id)) return false;
      r.supersedes = std::move(id);
      return true;
    }
    if (k == "reminded") return read(v, r.reminded);
    if (k == "version") return read_count(v, r.version);
    if (k == "revised_at") return read(v, r.revised_at);
    if (k == "revised_by") return read(v, r.revised_by);
    if (k == "changes") return read(v, r.changes);
    if (k == "history") return read_history(v, r.history);
    if (k == "ack_within_s") return read(v, r.ack_within_s);
    if (k == "ack_deadline") return read(v, r.ack_deadline);
    if (k == "overdue") return read(v, r.overdue);
    return true;
  });
  return ok && !r.id.empty() && r.version > 0;
}

std::string encode(const ack_record& r) {
  json_writer w;
  w.begin_object().field("guidance", r.guidance).field("kind", r.kind);
  w.field("user", r.user).field("name", r.name).field("at", r.at).field("delay_ms", r.delay_ms);
  w.field("version", static_cast<std::uint64_t>(r.version));
  return w.end_object().take();
}

bool decode(std::string_view json, ack_record& r) {
  r = ack_record{};
  bool ok = read_object(json, [&](std::string_view k, od::value v) {
    if (k == "guidance") return read(v, r.guidance);
    if (k == "kind") return read(v, r.kind);
    if (k == "user") return read(v, r.user);
    if (k == "name") return read(v, r.name);
    if (k == "at") return read(v, r.at);
    if (k == "delay_ms") return read(v, r.delay_ms);
    if (k == "version") return read_count(v, r.version);
    return true;
  });
  return ok && !r.user.empty();
}

std::string encode(const member_record& r) {
  json_writer w;
  w.begin_object().field("user", r.user).field("name", r.name).field("since", r.since);
  return w.end_object().take();
}

bool decode(std::string_view json, member_record& r) {
  r = member_record{};
  bool ok = read_object(json, [&](std::string_view k, od::value v) {
    if (k == "user") return read(v, r.user);
    if (k == "name") return read(v, r.name);
    if (k == "since") return read(v, r.since);
    return true;
  });
  return ok && !r.user.empty();
}

std::string encode(const template_record& r) {
  json_writer w;
  w.begin_object().field("name", r.name).field("title", r.title).field("text", r.text);
  write_person(w.key("by"), r.by);
  w.field("updated_at", r.updated_at);
  return w.end_object().take();
}

bool decode(std::string_view json, template_record& r) {
  r = template_record{};
  bool ok = read_object(json, [&](std::string_view k, od::value v) {
    if (k == "name") return read(v, r.name);
    if (k == "title") return read(v, r.title);
    if (k == "text") return read(v, r.text);
    if (k == "by") return read(v, r.by);
    if (k == "updated_at") return read(v, r.updated_at);
    return true;
  });
  return ok && !r.name.empty();
}

std::string encode(const idempotency_record& r) {
  json_writer w;
  w.begin_object().field("done", r.done).field("at", r.at);
  if (r.done) w.raw_field("reply", r.reply);
  return w.end_object().take();
}

bool decode(std::string_view json, idempotency_record& r) {
  r = idempotency_record{};
  return read_object(json, [&](std::string_view k, od::value v) {
    if (k == "done") return read(v, r.done);
    if (k == "at") return read(v, r.at);
    if (k == "reply") return read_raw(v, r.reply);
    return true;
  });
}

std::string encode(const person_record& r) {
  json_writer w;
  w.begin_object().field("user", r.user).field("name", r.name).field("role", r.role);
  w.field("first_seen", r.first_seen).field("last_seen", r.last_seen);
  w.key("channels").strings(r.channels);
  return w.end_object().take();
}

bool decode(std::string_view json, person_record& r) {
  r = person_record{};
  bool ok = read_object(json, [&](std::string_view k, od::value v) {
    if (k == "user") return read(v, r.user);
    if (k == "name") return read(v, r.name);
    if (k == "role") return read(v, r.role);
    if (k == "first_seen") return read(v, r.first_seen);
    if (k == "last_seen") return read(v, r.last_seen);
    if (k == "channels") return read(v, r.channels);
    return true;
  });
  return ok && !r.user.empty();
}

std::string encode(const receipt_record& r) {
  json_writer w;
  w.begin_object().field("guidance", r.guidance).field("user", r.user).field("name", r.name);
  w.field("version", static_cast<std::uint64_t>(r.version));
  w.field("delivered_at", r.delivered_at).field("read_at", r.read_at);
  return w.end_object().take();
}

bool decode(std::string_view json, receipt_record& r) {
  r = receipt_record{};
  bool ok = read_object(json, [&](std::string_view k, od::value v) {
    if (k == "guidance") return read(v, r.guidance);
    if (k == "user") return read(v, r.user);
    if (k == "name") return read(v, r.name);
    if (k == "version") return read_count(v, r.version);
    if (k == "delivered_at") return read(v, r.delivered_at);
    if (k == "read_at") return read(v, r.read_at);
    return true;
  });
  return ok && !r.user.empty();
}

std::string encode(const activity_record& r) {
  json_writer w;
  w.begin_object().field("alert", r.alert).field("user", r.user).field("name", r.name);
  w.field("client", r.client).field("state", r.state).field("since", r.since);
  return w.field("expires_at", r.expires_at).end_object().take();
}

bool decode(std::string_view json, activity_record& r) {
  r = activity_record{};
  bool ok = read_object(json, [&](std::string_view k, od::value v) {
    if (k == "alert") return read(v, r.alert);
    if (k == "user") return read(v, r.user);
    if (k == "name") return read(v, r.name);
    if (k == "client") return read(v, r.client);
    if (k == "state") return read(v, r.state);
    if (k == "since") return read(v, r.since);
    if (k == "expires_at") return read(v, r.expires_at);
    return true;
  });
  return ok && !r.alert.empty() && !r.client.empty();
}

std::string encode(const held_record& r) {
  json_writer w;
  w.begin_object().field("user", r.user).key("alerts").strings(r.alerts);
  return w.end_object().take();
}

bool decode(std::string_view json, held_record& r) {
  r = held_record{};
  bool ok = read_object(json, [&](std::string_view k, od::value v) {
    if (k == "user") return read(v, r.user);
    if (k == "alerts") return read(v, r.alerts);
    return true;
  });
  return ok && !r.user.empty();
}

std::string encode(const note_record& r) {
  json_writer w;
  w.begin_object().field("id", r.id).field("alert", r.alert).field("text", r.text);
  write_person(w.key("by"), r.by);
  return w.field("at", r.at).end_object().take();
}

bool decode(std::string_view json, note_record& r) {
  r = note_record{};
  bool ok = read_object(json, [&](std::string_view k, od::value v) {
    if (k == "id") return read(v, r.id);
    if (k == "alert") return read(v, r.alert);
    if (k == "text") return read(v, r.text);
    if (k == "by") return read(v, r.by);
    if (k == "at") return read(v, r.at);
    return true;
  });
  return ok && !r.id.empty();
}

std::string encode(const proposal_record& r) {
  json_writer w;
  write_proposal(w, r);
  return w.take();
}

std::string encode(const spike_record& r) {
  json_writer w;
  w.begin_object().key("buckets").begin_array();
  for (const auto& b : r.detector.buckets)
    w.begin_array().int64(b.start_ms).uint(b.alerts).uint(b.reach).end_array();
  w.end_array().field("first_ms", r.detector.first_ms).field("armed", r.detector.armed);
  w.key("recent").begin_array();
  for (const auto& a : r.recent) {
    w.begin_object().field("id", a.id).field("url", a.url).field("author", a.author);
    w.field("reach", a.reach).field("severity", severity_name(a.sev)).field("at", a.at);
    w.end_object();
  }
  w.end_array().field("spikes", r.spikes).field("last_spike_at", r.last_spike_at);
  return w.end_object().take();
}

namespace {
bool read_buckets(od::value v, std::vector<spike_bucket>& out) {
  od::array a;
  if (v.get_array().get(a)) return false;
  out.clear();
  for (auto element : a) {
    od::array triple;
    if (element.get_array().get(triple)) return false;
    std::int64_t start = 0;
    std::uint64_t vals[2] = {0, 0};
    std::size_t n = 0;
    for (auto x : triple) {
      bool bad = n == 0 ? x.get_int64().get(start) != simdjson::SUCCESS
                        : n > 2 || x.get_uint64().get(vals[n - 1]) != simdjson::SUCCESS;
      if (bad) return false;
      ++n;
    }
    if (n != 3 || vals[0] > 0xffffffffu) return false;
    out.push_back({start, static_cast<std::uint32_t>(vals[0]), vals[1]});
  }
  return true;
}
}  // namespace

bool decode(std::string_view json, spike_record& r) {
  r = spike_record{};
  return read_object(json, [&](std::string_view k, od::value v) {
    if (k == "buckets") return read_buckets(v, r.detector.buckets);
    if (k == "first_ms") return read(v, r.detector.first_ms);
    if (k == "armed") return read(v, r.detector.armed);
    if (k == "spikes") return read(v, r.spikes);
    if (k == "last_spike_at") return read(v, r.last_spike_at);
    if (k == "recent")
      return read_items(v, r.recent, [](spike_alert& a, std::string_view key, od::value x) {
        if (key == "id") return read(x, a.id);
        if (key == "url") return read(x, a.url);
        if (key == "author") return read(x, a.author);
        if (key == "reach") return read(x, a.reach);
        if (key == "severity") return read(x, a.sev);
        if (key == "at") return read(x, a.at);
        return true;
      });
    return true;
  });
}
}  // namespace muster::server::crisis
