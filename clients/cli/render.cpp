#include "clients/cli/render.hpp"

#include <simdjson.h>

#include <algorithm>
#include <ctime>
#include <functional>
#include <map>

namespace muster::cli {

namespace dom = simdjson::dom;

std::string format_count(std::uint64_t n) {
  static constexpr struct {
    std::uint64_t unit;
    const char* suffix;
  } units[] = {{1000000000000ull, "T"}, {1000000000ull, "B"}, {1000000ull, "M"}, {1000ull, "k"}};
  for (const auto& u : units) {
    if (n < u.unit) continue;
    auto tenths = n / (u.unit / 10);
    if (tenths >= 100) return std::to_string(n / u.unit) + u.suffix;
    auto whole = std::to_string(tenths / 10);
    return tenths % 10 ? whole + "." + std::to_string(tenths % 10) + u.suffix : whole + u.suffix;
  }
  return std::to_string(n);
}

std::string format_duration(std::int64_t ms) {
  if (ms < 0) return "-";
  auto s = ms / 1000;
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m";
  if (s < 86400) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

std::string one_line(std::string_view text, std::size_t max_chars) {
  std::string out;
  std::size_t chars = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    bool starts_char = (c & 0xC0) != 0x80;
    if (starts_char && ++chars > max_chars) {
      // Make room for the ellipsis: drop the last whole character written.
      while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80)
        out.pop_back();
      if (!out.empty()) out.pop_back();
      return out + "…";
    }
    out += c == '\n' || c == '\r' || c == '\t' ? ' ' : static_cast<char>(c);
  }
  return out;
}

std::string local_clock(std::int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

std::size_t display_width(std::string_view text) {
  std::size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (widths.size() <= i) widths.push_back(0);
      widths[i] = std::max(widths[i], display_width(row[i]));
    }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - display_width(row[i]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

namespace {

// What the renderers read of an event's data; every accessor has a default, so a missing field
// shows as empty rather than failing the line.
struct view {
  dom::element data;
  const client::server_message& m;

  std::string str(const char* pointer) const {
    std::string_view v;
    return data.at_pointer(pointer).get_string().get(v) ? std::string() : std::string(v);
  }
  std::uint64_t num(const char* pointer) const {
    std::uint64_t n = 0;
    return data.at_pointer(pointer).get_uint64().get(n) ? 0 : n;
  }
  double real(const char* pointer) const {
    double d = 0;
    return data.at_pointer(pointer).get_double().get(d) ? 0 : d;
  }
  bool flag(const char* pointer) const {
    bool b = false;
    return data.at_pointer(pointer).get_bool().get(b) ? false : b;
  }
  bool has(const char* pointer) const {
    dom::element e;
    return !data.at_pointer(pointer).get(e) && !e.is_null();
  }
  // A person's name ({"user","name"} at `pointer`), else their user id.
  std::string who(const char* pointer) const {
    auto name = str((std::string(pointer) + "/name").c_str());
    return name.empty() ? str((std::string(pointer) + "/user").c_str()) : name;
  }
  std::string by() const {
    auto name = who("/by");
    return name.empty() ? m.sender_name : name;
  }
  std::string alert_id() const { return str("/alert/id"); }
  std::string quoted(const char* pointer, std::size_t max = 60) const {
    return "\"" + one_line(str(pointer), max) + "\"";
  }
  std::string drill() const {
    return flag("/alert/drill") || flag("/channel/drill") || flag("/drill") ? " [drill]" : "";
  }
  // "Omar, Bo +3" for the array of people at `pointer`.
  std::string names(const char* pointer, std::size_t max = 5) const {
    dom::array rows;
    if (data.at_pointer(pointer).get_array().get(rows)) return {};
    std::string out;
    std::size_t n = 0;
    for (dom::element r : rows) {
      if (++n > max) continue;
      std::string_view v;
      if (r["name"].get_string().get(v) || v.empty())
        if (r["user"].get_string().get(v)) v = "?";
      out += (out.empty() ? "" : ", ") + std::string(v);
    }
    if (n > max) out += " +" + std::to_string(n - max);
    return out;
  }
};

std::string alert_new(const view& v) {
  std::string line = "ALERT " + v.str("/alert/severity") + " " + v.str("/alert/source");
  if (auto author = v.str("/alert/author"); !author.empty()) line += " " + author;
  line += " " + v.quoted("/alert/text");
  if (auto reach = v.num("/alert/metrics/reach")) line += " reach " + format_count(reach);
  line += " → " + v.alert_id() + " (" + v.str("/alert/status");
  if (auto home = v.str("/alert/channel"); !home.empty() && home != v.m.channel)
    line += ", home " + home;
  return line + ")";
}

std::string alert_updated(const view& v) {
  std::string line = "UPDATED " + v.alert_id() + ": " + std::to_string(v.num("/alert/count")) +
                     " triggers, " + v.str("/alert/severity");
  if (auto reach = v.num("/alert/metrics/reach")) line += ", reach " + format_count(reach);
  if (v.flag("/severity_raised")) line += " (severity raised)";
  if (v.flag("/viral")) line += " (viral)";
  return line;
}

std::string alert_released(const view& v) {
  if (v.str("/reason") == "expired")
    return "RELEASED " + v.alert_id() + " (claim of " + v.who("/previous") + " expired)";
  return "RELEASED " + v.alert_id() + " by " + v.by();
}

std::string alert_assigned(const view& v) {
  std::string line = "ASSIGNED " + v.alert_id() + " to " + v.who("/alert/holder") + " by " + v.by();
  if (v.has("/previous")) line += " (was " + v.who("/previous") + ")";
  return line;
}

// The text of a proposal, else its link, else its template.
std::string proposal_text(const view& v) {
  for (const char* p : {"/proposal/text", "/proposal/url", "/proposal/template"})
    if (!v.str(p).empty()) return v.quoted(p);
  return "\"\"";
}

std::string alert_approved(const view& v) {
  std::string line = "APPROVED reply to " + v.alert_id() + " by ";
  line += v.flag("/proposal/auto") ? "template " + v.str("/proposal/template") : v.by();
  if (v.flag("/proposal/edited")) line += " (edited)";
  return line + ": " + proposal_text(v);
}

std::string alert_responded(const view& v) {
  std::string line = "RESPONDED " + v.alert_id() + " by " + v.by();
  if (auto url = v.str("/alert/reply_url"); !url.empty()) line += ": " + url;
  if (!v.str("/alert/reply_text").empty()) line += " " + v.quoted("/alert/reply_text");
  return line;
}

std::string alert_escalated(const view& v) {
  std::string line = "ESCALATED " + v.alert_id() + " step " + std::to_string(v.num("/step")) +
                     " (" + v.str("/reason") + ") " + v.str("/alert/severity") + " " +
                     v.quoted("/alert/text");
  if (v.has("/alert/holder")) line += " held by " + v.who("/alert/holder");
  return line;
}

std::string alert_activity(const view& v) {
  auto state = v.str("/state");
  auto who = v.str("/name").empty() ? v.str("/user") : v.str("/name");
  if (state == "none") return "ACTIVITY " + v.str("/alert") + ": " + who + " left";
  return "ACTIVITY " + v.str("/alert") + ": " + who + " " + state;
}

std::string channel_created(const view& v) {
  return "CHANNEL created " + v.quoted("/channel/title") + " " + v.str("/channel/severity") + " " +
         v.str("/channel/status") + " by " + v.by();
}

std::string channel_updated(const view& v) {
  std::string changes;
  dom::array fields;
  if (!v.data["changed"].get_array().get(fields))
    for (dom::element f : fields) {
      std::string_view name;
      if (f.get_string().get(name)) continue;
      std::string item(name);
      if (name == "title")
        item += " " + v.quoted("/channel/title");
      else if (name == "approval")
        item += v.flag("/channel/approval/required") ? " required" : " off";
      else
        item += " " + v.str(("/channel/" + std::string(name)).c_str());
      changes += (changes.empty() ? " " : ", ") + item;
    }
  return "CHANNEL updated" + changes + " by " + v.by();
}

std::string channel_spike(const view& v) {
  char factor[32];
  bool by_reach = v.flag("/by_reach");
  std::snprintf(factor, sizeof factor, "%.1f", v.real(by_reach ? "/reach_factor" : "/factor"));
  std::string line = "SPIKE " + std::to_string(v.num("/alerts_in_window")) + " alerts in " +
                     format_duration(static_cast<std::int64_t>(v.num("/window_s")) * 1000) + ", " +
                     factor + (by_reach ? "x the usual reach" : "x the usual rate");
  if (auto top = v.str("/top/0/id"); !top.empty())
    line += "; top " + top + " " + v.str("/top/0/author") + " reach " +
            format_count(v.num("/top/0/reach"));
  if (v.flag("/severity_raised")) line += " (severity raised)";
  return line;
}

std::string guidance_posted(const view& v) {
  std::string line = "GUIDANCE " + v.str("/guidance/kind") + " v" +
                     std::to_string(v.num("/guidance/version")) + " " +
                     v.quoted("/guidance/title") + " by " + v.who("/guidance/by") + " → " +
                     v.str("/guidance/id");
  if (auto within = v.num("/guidance/ack_within_s"))
    line += " (ack within " + format_duration(static_cast<std::int64_t>(within) * 1000) + ")";
  return line;
}

std::string guidance_revised(const view& v) {
  return "GUIDANCE " + v.str("/guidance/kind") + " v" + std::to_string(v.num("/guidance/version")) +
         " " + v.quoted("/guidance/title") + " by " + v.by() + " → " + v.str("/guidance/id") +
         " (revised: " + v.quoted("/guidance/changes") + ")";
}

std::string guidance_acked(const view& v) {
  auto who = v.str("/name").empty() ? v.str("/user") : v.str("/name");
  return "ACKED " + v.str("/kind") + " v" + std::to_string(v.num("/version")) + " " +
         v.str("/guidance") + " by " + who + " after " +
         format_duration(static_cast<std::int64_t>(v.num("/delay_ms")));
}

// guidance.reminder and guidance.overdue: who has still not acknowledged.
std::string guidance_pending(const view& v, const char* what) {
  dom::array pending;
  std::size_t n = v.data["pending"].get_array().get(pending) ? 0 : pending.size();
  return std::string(what) + " " + v.str("/guidance/id") + " " + v.quoted("/guidance/title") +
         ": " + std::to_string(n) + " pending (" + v.names("/pending") + ")";
}

using renderer = std::function<std::string(const view&)>;

const std::map<std::string, renderer, std::less<>>& renderers() {
  static const std::map<std::string, renderer, std::less<>> table = {
      {"alert.new", alert_new},
      {"alert.updated", alert_updated},
      {"alert.claimed", [](const view& v) { return "CLAIMED " + v.alert_id() + " by " + v.by(); }},
      {"alert.released", alert_released},
      {"alert.assigned", alert_assigned},
      {"alert.noted",
       [](const view& v) {
         return "NOTE on " + v.alert_id() + " by " + v.by() + ": " + v.quoted("/note/text");
       }},
      {"alert.proposed",
       [](const view& v) {
         return "PROPOSED reply to " + v.alert_id() + " by " + v.by() + ": " + proposal_text(v);
       }},
      {"alert.approved", alert_approved},
      {"alert.rejected",
       [](const view& v) {
         return "REJECTED reply to " + v.alert_id() + " by " + v.by() + ": " +
                v.quoted("/proposal/comment");
       }},
      {"alert.approval_overdue",
       [](const view& v) {
         return "APPROVAL OVERDUE " + v.alert_id() + ": reply by " + v.who("/proposal/by") +
                " waited " + format_duration(static_cast<std::int64_t>(v.num("/waited_ms")));
       }},
      {"alert.responded", alert_responded},
      {"alert.resolved",
       [](const view& v) { return "RESOLVED " + v.alert_id() + " by " + v.by(); }},
      {"alert.dismissed",
       [](const view& v) { return "DISMISSED " + v.alert_id() + " by " + v.by(); }},
      {"alert.escalated", alert_escalated},
      {"alert.activity", alert_activity},
      {"channel.created", channel_created},
      {"channel.updated", channel_updated},
      {"channel.spike", channel_spike},
      {"guidance.posted", guidance_posted},
      {"guidance.revised", guidance_revised},
      {"guidance.acked", guidance_acked},
      {"guidance.reminder", [](const view& v) { return guidance_pending(v, "REMINDER"); }},
      {"guidance.overdue", [](const view& v) { return guidance_pending(v, "OVERDUE"); }},
      {"template.updated",
       [](const view& v) { return "TEMPLATE " + v.str("/name") + " updated by " + v.by(); }},
      {"template.deleted",
       [](const view& v) { return "TEMPLATE " + v.str("/name") + " deleted by " + v.by(); }},
  };
  return table;
}

std::string body(const client::server_message& m) {
  if (m.event == "message") {
    auto text = client::json_string(m.data, "text");
    return "[" + m.channel + " #" + std::to_string(m.offset) + "] " + m.sender_name + ": " +
           (text ? *text : m.data);
  }
  if (m.event == "join" || m.event == "leave")
    return "* " + client::json_string(m.raw, "name").value_or("?") +
           (m.event == "join" ? " joined " : " left ") + m.channel;
  if (m.event == "unsubscribed")
    return "[" + m.channel + "] UNSUBSCRIBED (" +
           client::json_string(m.raw, "reason").value_or("?") + ")";
  auto it = renderers().find(m.event);
  if (it == renderers().end()) return m.raw;
  dom::parser parser;
  dom::element data;
  if (parser.parse(m.data).get(data) || !data.is_object()) return m.raw;
  view v{data, m};
  // The channel for the feed of channel changes is the one they are about.
  auto channel = m.channel == "_channels" ? v.str("/channel/channel") : m.channel;
  return "[" + channel + "] " + it->second(v) + v.drill();
}

}  // namespace

std::string render_event(const client::server_message& m, const render_options& o) {
  auto line = body(m);
  if (o.timestamps && m.ts_ms > 0) return local_clock(m.ts_ms) + " " + line;
  return line;
}

}  // namespace muster::cli
