#include "clients/lib/crisis.hpp"

#include <simdjson.h>

#include <charconv>

#include "protocol/codec.hpp"

namespace muster::client {

namespace dom = simdjson::dom;
using protocol::append_json_string;

command_error::command_error(std::string c, std::string message, std::string user, std::string name)
    : client_error(c + ": " + message),
      code(std::move(c)),
      holder_user(std::move(user)),
      holder_name(std::move(name)) {}

namespace {

void field(std::string& out, std::string_view key, std::string_view value) {
  if (!out.empty()) out += ',';
  append_json_string(out, key);
  out += ':';
  append_json_string(out, value);
}

std::string alert_fields(const std::string& channel, const std::string& id) {
  std::string f;
  field(f, "channel", channel);
  field(f, "alert", id);
  return f;
}

// The error of a reply as a command_error (with the holder of an already_claimed alert).
command_error to_error(const server_message& m) {
  std::string user, name;
  dom::parser p;
  dom::element e;
  if (p.parse(m.raw).get(e)) return command_error(m.error_code, m.error_message);
  std::string_view v;
  if (!e.at_pointer("/error/holder/user").get_string().get(v)) user = std::string(v);
  if (!e.at_pointer("/error/holder/name").get_string().get(v)) name = std::string(v);
  command_error err(m.error_code, m.error_message, std::move(user), std::move(name));
  dom::array drafting;
  if (!e.at_pointer("/error/drafting").get_array().get(drafting))
    for (dom::element d : drafting)
      if (!d["user"].get_string().get(v)) err.drafting.emplace_back(v);
  std::uint64_t limit = 0;
  if (!e.at_pointer("/error/limit").get_uint64().get(limit)) err.limit = limit;
  return err;
}

std::string checked(const server_message& m) {
  if (m.is_error) throw to_error(m);
  return m.result;
}

// The string at JSON `pointer` of a result (an id the server handed out).
std::string string_at(const std::string& result, const char* pointer, std::string_view op) {
  dom::parser p;
  dom::element e;
  std::string_view v;
  if (p.parse(result).get(e) || e.at_pointer(pointer).get_string().get(v))
    throw client_error(std::string(op) + ": unexpected reply " + result);
  return std::string(v);
}

}  // namespace

std::string alert_post::fields_json() const {
  std::string f;
  field(f, "source", source);
  field(f, "url", url);
  if (!author.empty()) field(f, "author", author);
  if (!text.empty()) field(f, "text", text);
  if (!severity.empty()) field(f, "severity", severity);
  if (!dedup_key.empty()) field(f, "dedup_key", dedup_key);
  if (!occurred_at.empty()) field(f, "occurred_at", occurred_at);
  if (!channel.empty()) field(f, "channel", channel);
  if (!tags.empty()) {
    f += ",\"tags\":[";
    for (std::size_t i = 0; i < tags.size(); ++i) {
      if (i) f += ',';
      append_json_string(f, tags[i]);
    }
    f += ']';
  }
  f += ",\"metrics\":{\"reach\":" + std::to_string(reach) +
       ",\"engagement\":" + std::to_string(engagement) + "}";
  return f;
}

alert_ref parse_alert_ref(std::string_view json) {
  alert_ref r;
  dom::parser p;
  dom::element e;
  if (p.parse(json.data(), json.size()).get(e)) return r;
  std::string_view v;
  if (!e.at_pointer("/alert/id").get_string().get(v)) r.id = std::string(v);
  if (!e.at_pointer("/alert/channel").get_string().get(v)) r.channel = std::string(v);
  if (!e.at_pointer("/alert/status").get_string().get(v)) r.status = std::string(v);
  bool b = false;
  if (!e["deduplicated"].get_bool().get(b)) r.deduplicated = b;
  if (!e["severity_raised"].get_bool().get(b)) r.severity_raised = b;
  if (!e["viral"].get_bool().get(b)) r.viral = b;
  if (!e.at_pointer("/alert/drill").get_bool().get(b)) r.drill = b;
  return r;
}

alert_ref push_alert(blocking_client& c, const alert_post& a) {
  return parse_alert_ref(checked(c.call("alert.push", a.fields_json())));
}

namespace {

std::string str_or(dom::element e, const char* pointer) {
  std::string_view v;
  if (e.at_pointer(pointer).get_string().get(v)) return {};
  return std::string(v);
}
std::uint64_t uint_or(dom::element e, const char* pointer, std::uint64_t fallback = 0) {
  std::uint64_t n = 0;
  return e.at_pointer(pointer).get_uint64().get(n) ? fallback : n;
}
std::int64_t int_or(dom::element e, const char* pointer, std::int64_t fallback = 0) {
  std::int64_t n = 0;
  return e.at_pointer(pointer).get_int64().get(n) ? fallback : n;
}
bool bool_or(dom::element e, const char* pointer) {
  bool b = false;
  return e.at_pointer(pointer).get_bool().get(b) ? false : b;
}

alert_info read_alert(dom::element a) {
  alert_info r;
  r.id = str_or(a, "/id");
  r.channel = str_or(a, "/channel");
  r.status = str_or(a, "/status");
  r.severity = str_or(a, "/severity");
  r.source = str_or(a, "/source");
  r.url = str_or(a, "/url");
  r.author = str_or(a, "/author");
  r.text = str_or(a, "/text");
  r.holder_user = str_or(a, "/holder/user");
  r.holder_name = str_or(a, "/holder/name");
  r.reply_url = str_or(a, "/reply_url");
  r.reply_text = str_or(a, "/reply_text");
  r.reach = uint_or(a, "/metrics/reach");
  r.engagement = uint_or(a, "/metrics/engagement");
  r.count = uint_or(a, "/count");
  r.first_seen = int_or(a, "/first_seen");
  r.last_seen = int_or(a, "/last_seen");
  r.claimed_at = int_or(a, "/claimed_at");
  r.drill = bool_or(a, "/drill");
  return r;
}

// The parsed result of a command, or client_error naming the op.
dom::element parsed(dom::parser& p, const std::string& result, std::string_view op) {
  dom::element e;
  if (p.parse(result).get(e) || !e.is_object())
    throw client_error(std::string(op) + ": unexpected reply " + result);
  return e;
}

alert_change alert_command(blocking_client& c, std::string_view op, const std::string& fields) {
  auto result = checked(c.call(op, fields));
  dom::parser p;
  auto e = parsed(p, result, op);
  dom::element a;
  if (e["alert"].get(a)) throw client_error(std::string(op) + ": unexpected reply " + result);
  return {read_alert(a), bool_or(e, "/changed"), uint_or(e, "/offset")};
}

}  // namespace

alert_change claim_alert(blocking_client& c, const std::string& channel, const std::string& id) {
  return alert_command(c, "alert.claim", alert_fields(channel, id));
}

alert_change release_alert(blocking_client& c, const std::string& channel, const std::string& id) {
  return alert_command(c, "alert.release", alert_fields(channel, id));
}

alert_change respond_alert(blocking_client& c, const std::string& channel, const std::string& id,
                           const std::string& reply_url, const std::string& reply_text) {
  auto f = alert_fields(channel, id);
  if (!reply_url.empty()) field(f, "reply_url", reply_url);
  if (!reply_text.empty()) field(f, "reply_text", reply_text);
  return alert_command(c, "alert.respond", f);
}

alert_change resolve_alert(blocking_client& c, const std::string& channel, const std::string& id) {
  return alert_command(c, "alert.resolve", alert_fields(channel, id));
}

alert_change dismiss_alert(blocking_client& c, const std::string& channel, const std::string& id) {
  return alert_command(c, "alert.dismiss", alert_fields(channel, id));
}

alert_list list_alerts(blocking_client& c, const std::string& channel, const std::string& status,
                       std::uint64_t limit) {
  std::string f;
  field(f, "channel", channel);
  if (!status.empty()) field(f, "status", status);
  if (limit > 0) f += ",\"limit\":" + std::to_string(limit);
  alert_list out;
  out.result_json = checked(c.call("alert.list", f));
  dom::parser p;
  auto e = parsed(p, out.result_json, "alert.list");
  dom::array rows;
  if (e["alerts"].get_array().get(rows))
    throw client_error("alert.list: unexpected reply " + out.result_json);
  for (dom::element a : rows) out.alerts.push_back(read_alert(a));
  out.total = uint_or(e, "/total", out.alerts.size());
  out.truncated = bool_or(e, "/truncated");
  return out;
}

channel_list list_channels(blocking_client& c) {
  channel_list out;
  out.result_json = checked(c.call("channel.list", ""));
  dom::parser p;
  auto e = parsed(p, out.result_json, "channel.list");
  dom::array rows;
  if (!e["channels"].get_array().get(rows))
    for (dom::element ch : rows)
      out.channels.push_back({str_or(ch, "/channel"), str_or(ch, "/title"), str_or(ch, "/severity"),
                              str_or(ch, "/status"), bool_or(ch, "/drill"),
                              bool_or(ch, "/approval/required"), int_or(ch, "/created_at"),
                              int_or(ch, "/updated_at")});
  if (!e["system"].get_array().get(rows))
    for (dom::element ch : rows)
      out.system.emplace_back(str_or(ch, "/channel"), str_or(ch, "/purpose"));
  return out;
}

namespace {
std::vector<person_stats> people_stats_of(dom::element e) {
  std::vector<person_stats> out;
  dom::array rows;
  if (e["people"].get_array().get(rows)) return out;
  for (dom::element r : rows)
    out.push_back(
        {str_or(r, "/user"), str_or(r, "/name"), uint_or(r, "/claimed"), uint_or(r, "/responded"),
         uint_or(r, "/acks"), int_or(r, "/median_time_to_claim_ms", -1),
         int_or(r, "/median_time_to_respond_ms", -1), int_or(r, "/median_ack_delay_ms", -1)});
  return out;
}
}  // namespace

stats_report get_stats(blocking_client& c, const std::string& channel) {
  std::string f;
  if (!channel.empty()) field(f, "channel", channel);
  stats_report out;
  out.result_json = checked(c.call("stats", f));
  dom::parser p;
  auto e = parsed(p, out.result_json, "stats");
  dom::array rows;
  if (!e["channels"].get_array().get(rows))
    for (dom::element ch : rows) {
      channel_stats s;
      s.channel = str_or(ch, "/channel");
      s.drill = bool_or(ch, "/drill");
      s.total = uint_or(ch, "/alerts/total");
      s.new_alerts = uint_or(ch, "/alerts/new");
      s.claimed = uint_or(ch, "/alerts/claimed");
      s.responded = uint_or(ch, "/alerts/responded");
      s.resolved = uint_or(ch, "/alerts/resolved");
      s.dismissed = uint_or(ch, "/alerts/dismissed");
      s.escalated = uint_or(ch, "/alerts/escalated");
      s.triggers = uint_or(ch, "/alerts/triggers");
      s.median_time_to_claim_ms = int_or(ch, "/median_time_to_claim_ms", -1);
      s.median_time_to_respond_ms = int_or(ch, "/median_time_to_respond_ms", -1);
      s.guidance_posted = uint_or(ch, "/guidance/posted");
      s.acks = uint_or(ch, "/guidance/acks");
      s.median_ack_delay_ms = int_or(ch, "/guidance/median_ack_delay_ms", -1);
      s.pending_approvals = uint_or(ch, "/approvals/pending");
      s.people = people_stats_of(ch);
      out.channels.push_back(std::move(s));
    }
  out.people = people_stats_of(e);
  return out;
}

std::string post_guidance(blocking_client& c, const std::string& channel, const std::string& kind,
                          const std::string& title, const std::string& body,
                          std::int64_t ack_within_s) {
  std::string f;
  field(f, "channel", channel);
  field(f, "kind", kind);
  field(f, "title", title);
  field(f, "body", body);
  if (ack_within_s > 0) f += ",\"ack_within_s\":" + std::to_string(ack_within_s);
  return string_at(checked(c.call("guidance.post", f)), "/guidance/id", "guidance.post");
}

std::int64_t revise_guidance(blocking_client& c, const std::string& channel, const std::string& gid,
                             const std::string& body, const std::string& changes) {
  std::string f;
  field(f, "channel", channel);
  field(f, "guidance", gid);
  field(f, "body", body);
  field(f, "changes", changes);
  auto result = checked(c.call("guidance.revise", f));
  dom::parser p;
  dom::element e;
  std::int64_t version = 0;
  if (p.parse(result).get(e) || e.at_pointer("/guidance/version").get_int64().get(version))
    throw client_error("guidance.revise: unexpected reply " + result);
  return version;
}

void read_guidance(blocking_client& c, const std::string& channel, const std::string& gid,
                   bool read) {
  std::string f;
  field(f, "channel", channel);
  field(f, "guidance", gid);
  field(f, "state", read ? "read" : "delivered");
  checked(c.call("guidance.read", f));
}

bool ack_guidance(blocking_client& c, const std::string& channel, const std::string& gid,
                  std::int64_t version) {
  std::string f;
  field(f, "channel", channel);
  field(f, "guidance", gid);
  if (version > 0) f += ",\"version\":" + std::to_string(version);
  return !json_bool(checked(c.call("guidance.ack", f)), "already").value_or(false);
}

std::vector<guidance_progress> guidance_status(blocking_client& c, const std::string& channel,
                                               const std::string& gid) {
  std::string f;
  field(f, "channel", channel);
  field(f, "guidance", gid);
  auto result = checked(c.call("guidance.status", f));
  dom::parser p;
  dom::element e;
  dom::array rows;
  if (p.parse(result).get(e) || e["people"].get_array().get(rows))
    throw client_error("guidance.status: unexpected reply " + result);
  std::vector<guidance_progress> out;
  for (dom::element row : rows) {
    guidance_progress g;
    std::string_view v;
    if (!row["user"].get_string().get(v)) g.user = std::string(v);
    if (!row["name"].get_string().get(v)) g.name = std::string(v);
    if (!row["state"].get_string().get(v)) g.state = std::string(v);
    std::int64_t n = 0;
    if (!row["acked_version"].get_int64().get(n)) g.acked_version = n;
    bool b = false;
    if (!row["member"].get_bool().get(b)) g.member = b;
    out.push_back(std::move(g));
  }
  return out;
}

void create_channel(blocking_client& c, const std::string& channel, const std::string& title,
                    const std::string& severity, bool drill) {
  std::string f;
  field(f, "channel", channel);
  field(f, "title", title);
  field(f, "severity", severity);
  if (drill) f += ",\"drill\":true";
  checked(c.call("channel.create", f));
}

void require_approval(blocking_client& c, const std::string& channel, bool required,
                      const std::string& min_severity) {
  std::string f;
  field(f, "channel", channel);
  std::string a;
  a += required ? "\"required\":true" : "\"required\":false";
  if (!min_severity.empty()) field(a, "min_severity", min_severity);
  f += ",\"approval\":{" + a + "}";
  checked(c.call("channel.update", f));
}

namespace {

proposal read_proposal(dom::element e) {
  proposal p;
  std::string_view v;
  auto str = [&](const char* key, std::string& out) {
    if (!e[key].get_string().get(v)) out = std::string(v);
  };
  str("id", p.id);
  str("state", p.state);
  str("text", p.text);
  str("url", p.url);
  str("template", p.template_name);
  str("comment", p.comment);
  if (!e.at_pointer("/by/user").get_string().get(v)) p.by_user = std::string(v);
  if (!e.at_pointer("/decided_by/user").get_string().get(v)) p.decided_by_user = std::string(v);
  bool b = false;
  if (!e["edited"].get_bool().get(b)) p.edited = b;
  if (!e["auto"].get_bool().get(b)) p.automatic = b;
  if (!e["overdue"].get_bool().get(b)) p.overdue = b;
  std::int64_t n = 0;
  if (!e["at"].get_int64().get(n)) p.at = n;
  if (!e["decided_at"].get_int64().get(n)) p.decided_at = n;
  return p;
}

// The `proposal` of an approval command's result.
proposal proposal_of(const std::string& result, std::string_view op) {
  dom::parser parser;
  dom::element e, p;
  if (parser.parse(result).get(e) || e["proposal"].get(p))
    throw client_error(std::string(op) + ": unexpected reply " + result);
  return read_proposal(p);
}

std::string propose_fields(const std::string& channel, const std::string& id,
                           const std::string& text, const std::string& url,
                           const std::string& template_name) {
  auto f = alert_fields(channel, id);
  if (!text.empty()) field(f, "text", text);
  if (!url.empty()) field(f, "url", url);
  if (!template_name.empty()) field(f, "template", template_name);
  return f;
}

std::string decide_fields(const std::string& channel, const std::string& id, const std::string& pid,
                          const std::string& text, const std::string& comment) {
  auto f = alert_fields(channel, id);
  field(f, "proposal", pid);
  if (!text.empty()) field(f, "text", text);
  if (!comment.empty()) field(f, "comment", comment);
  return f;
}

}  // namespace

proposal propose_reply(blocking_client& c, const std::string& channel, const std::string& id,
                       const std::string& text, const std::string& url,
                       const std::string& template_name) {
  return proposal_of(
      checked(c.call("alert.propose", propose_fields(channel, id, text, url, template_name))),
      "alert.propose");
}

proposal approve_reply(blocking_client& c, const std::string& channel, const std::string& id,
                       const std::string& pid, const std::string& text,
                       const std::string& comment) {
  return proposal_of(
      checked(c.call("alert.approve", decide_fields(channel, id, pid, text, comment))),
      "alert.approve");
}

proposal reject_reply(blocking_client& c, const std::string& channel, const std::string& id,
                      const std::string& pid, const std::string& comment) {
  return proposal_of(checked(c.call("alert.reject", decide_fields(channel, id, pid, {}, comment))),
                     "alert.reject");
}

namespace {
// GET on /api/v1: the response when 200, else its {"error":{code,message}} as a command_error.
http_response api_get(http_client& http, const std::string& url, const std::string& token) {
  auto res = http.request("GET", url, "", token);
  if (res.status == 200) return res;
  dom::parser p;
  dom::element e;
  std::string_view code = "internal", message = res.body;
  if (!p.parse(res.body).get(e)) {
    if (e.at_pointer("/error/code").get_string().get(code)) code = "internal";
    if (e.at_pointer("/error/message").get_string().get(message)) message = res.body;
  }
  throw command_error(std::string(code), std::string(message));
}
}  // namespace

std::string fetch_report(http_client& http, const std::string& base_url, const std::string& token,
                         const std::string& channel, const std::string& format) {
  return std::move(
      api_get(http, base_url + "/api/v1/channels/" + channel + "/report?format=" + format, token)
          .body);
}

timeline_export fetch_timeline(http_client& http, const std::string& base_url,
                               const std::string& token, const std::string& channel) {
  auto res = api_get(http, base_url + "/api/v1/channels/" + channel + "/timeline", token);
  timeline_export out;
  out.jsonl = std::move(res.body);
  auto first = res.headers.find("x-muster-first-offset");
  if (first != res.headers.end()) {
    const auto& v = first->second;
    std::from_chars(v.data(), v.data() + v.size(), out.first_offset);
  }
  return out;
}

std::vector<proposal> pending_approvals(blocking_client& c, const std::string& channel) {
  std::string f;
  field(f, "channel", channel);
  auto result = checked(c.call("approval.list", f));
  dom::parser parser;
  dom::element e;
  dom::array rows;
  if (parser.parse(result).get(e) || e["proposals"].get_array().get(rows))
    throw client_error("approval.list: unexpected reply " + result);
  std::vector<proposal> out;
  for (dom::element row : rows) {
    dom::element p;
    if (row["proposal"].get(p)) continue;
    auto item = read_proposal(p);
    std::string_view v;
    if (!row.at_pointer("/alert/id").get_string().get(v)) item.alert_id = std::string(v);
    std::int64_t n = 0;
    if (!row["waiting_ms"].get_int64().get(n)) item.waiting_ms = n;
    out.push_back(std::move(item));
  }
  return out;
}

alert_change assign_alert(blocking_client& c, const std::string& channel, const std::string& id,
                          const std::string& to) {
  auto f = alert_fields(channel, id);
  field(f, "to", to);
  return alert_command(c, "alert.assign", f);
}

void view_alert(blocking_client& c, const std::string& channel, const std::string& id,
                bool drafting, bool active) {
  auto f = alert_fields(channel, id);
  if (!active) f += ",\"active\":false";
  checked(c.call(drafting ? "alert.draft" : "alert.view", f));
}

std::string note_alert(blocking_client& c, const std::string& channel, const std::string& id,
                       const std::string& text) {
  auto f = alert_fields(channel, id);
  field(f, "text", text);
  return string_at(checked(c.call("alert.note", f)), "/note/id", "alert.note");
}

namespace {
// The person entries of the array `key` of a result.
std::vector<person_entry> people_of(const std::string& result, const char* key) {
  dom::parser p;
  dom::element e;
  dom::array rows;
  if (p.parse(result).get(e) || e[key].get_array().get(rows))
    throw client_error(std::string("unexpected reply ") + result);
  std::vector<person_entry> out;
  for (dom::element row : rows) {
    person_entry pe;
    std::string_view v;
    if (!row["user"].get_string().get(v)) pe.user = std::string(v);
    if (!row["name"].get_string().get(v)) pe.name = std::string(v);
    if (!row["role"].get_string().get(v)) pe.role = std::string(v);
    std::int64_t n = 0;
    if (!row["first_seen"].get_int64().get(n)) pe.first_seen = n;
    if (!row["since"].get_int64().get(n)) pe.since = n;
    if (!row["last_seen"].get_int64().get(n)) pe.last_seen = n;
    dom::array chans;
    if (!row["channels"].get_array().get(chans))
      for (dom::element ch : chans)
        if (!ch.get_string().get(v)) pe.channels.emplace_back(v);
    out.push_back(std::move(pe));
  }
  return out;
}
}  // namespace

std::vector<person_entry> list_people(blocking_client& c) {
  return people_of(checked(c.call("people.list", "")), "people");
}

std::vector<person_entry> channel_members(blocking_client& c, const std::string& channel) {
  std::string f;
  field(f, "channel", channel);
  return people_of(checked(c.call("channel.members", f)), "members");
}

void push_alert(session& s, const alert_post& a, alert_handler done) {
  s.command("alert.push", a.fields_json(), [done = std::move(done)](const server_message& m) {
    if (m.is_error) {
      auto e = to_error(m);
      return done(&e, {});
    }
    done(nullptr, parse_alert_ref(m.result));
  });
}

namespace {
void async_command(session& s, const std::string& op, const std::string& fields,
                   done_handler done) {
  s.command(op, fields, [done = std::move(done)](const server_message& m) {
    if (m.is_error) {
      auto e = to_error(m);
      return done(&e);
    }
    done(nullptr);
  });
}
}  // namespace

void claim_alert(session& s, const std::string& channel, const std::string& id, done_handler done) {
  async_command(s, "alert.claim", alert_fields(channel, id), std::move(done));
}

void ack_guidance(session& s, const std::string& channel, const std::string& gid,
                  done_handler done) {
  std::string f;
  field(f, "channel", channel);
  field(f, "guidance", gid);
  async_command(s, "guidance.ack", f, std::move(done));
}

namespace {
void async_proposal(session& s, const std::string& op, const std::string& fields,
                    proposal_handler done) {
  s.command(op, fields, [op, done = std::move(done)](const server_message& m) {
    if (m.is_error) {
      auto e = to_error(m);
      return done(&e, {});
    }
    proposal p;
    try {
      p = proposal_of(m.result, op);
    } catch (const client_error& bad) {  // never thrown into the session's io_context
      command_error e("internal", bad.what());
      return done(&e, {});
    }
    done(nullptr, p);
  });
}
}  // namespace

void propose_reply(session& s, const std::string& channel, const std::string& id,
                   const std::string& text, proposal_handler done) {
  async_proposal(s, "alert.propose", propose_fields(channel, id, text, {}, {}), std::move(done));
}

void approve_reply(session& s, const std::string& channel, const std::string& id,
                   const std::string& pid, proposal_handler done) {
  async_proposal(s, "alert.approve", decide_fields(channel, id, pid, {}, {}), std::move(done));
}

}  // namespace muster::client
