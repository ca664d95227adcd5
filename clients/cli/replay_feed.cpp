#include "clients/cli/replay_feed.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <tuple>

namespace muster::cli {

namespace dom = simdjson::dom;

namespace {

// "2026-01-01T08:59:00Z", with optional fraction and a Z or ±hh:mm offset: ms, or 0.
std::int64_t parse_rfc3339(std::string_view s) {
  std::tm tm{};
  int frac_ms = 0;
  if (s.size() < 20) return 0;
  std::string text(s);
  char* end = ::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return 0;
  std::string_view rest(end);
  if (!rest.empty() && rest[0] == '.') {
    std::size_t i = 1, digits = 0;
    for (; i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i])); ++i)
      if (digits < 3) frac_ms = frac_ms * 10 + (rest[i] - '0'), ++digits;
    for (; digits < 3; ++digits) frac_ms *= 10;
    rest.remove_prefix(i);
  }
  long offset_s = 0;
  if (rest == "Z" || rest == "z") {
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    int h = 0, m = 0;
    if (std::sscanf(std::string(rest.substr(1)).c_str(), "%2d:%2d", &h, &m) != 2) return 0;
    offset_s = (rest[0] == '+' ? 1 : -1) * (h * 3600L + m * 60L);
  } else {
    return 0;
  }
  auto secs = ::timegm(&tm) - offset_s;
  return secs < 0 ? 0 : static_cast<std::int64_t>(secs) * 1000 + frac_ms;
}

// Fills `post` from an alert object (a native feed line, or an exported alert); returns the
// first problem.
std::optional<std::string> read_alert(dom::object o, client::alert_post& post) {
  auto string_field = [&](const char* key, std::string& out,
                          bool required) -> std::optional<std::string> {
    dom::element v;
    if (o[key].get(v) || v.is_null()) {
      if (required) return std::string(key) + " is required";
      return std::nullopt;
    }
    std::string_view s;
    if (v.get_string().get(s)) return std::string(key) + " must be a string";
    out = std::string(s);
    return std::nullopt;
  };
  for (auto [key, out, required] : {std::tuple{"source", &post.source, true},
                                    {"url", &post.url, true},
                                    {"author", &post.author, false},
                                    {"text", &post.text, false},
                                    {"severity", &post.severity, false},
                                    {"dedup_key", &post.dedup_key, false}})
    if (auto err = string_field(key, *out, required)) return err;
  dom::element tags;
  if (!o["tags"].get(tags) && !tags.is_null()) {
    dom::array arr;
    if (tags.get_array().get(arr)) return "tags must be an array of strings";
    for (auto t : arr) {
      std::string_view s;
      if (t.get_string().get(s)) return "tags must be an array of strings";
      post.tags.emplace_back(s);
    }
  }
  dom::element metrics;
  if (!o["metrics"].get(metrics) && !metrics.is_null()) {
    dom::object m;
    if (metrics.get_object().get(m)) return "metrics must be an object";
    for (auto [key, out] : {std::pair{"reach", &post.reach}, {"engagement", &post.engagement}}) {
      dom::element v;
      if (!m[key].get(v) && v.get_uint64().get(*out))
        return "metrics." + std::string(key) + " must be a non-negative integer";
    }
  }
  std::string_view occurred;
  if (!o["occurred_at"].get_string().get(occurred)) post.occurred_at = std::string(occurred);
  return std::nullopt;
}

// A native feed line: an alert as POST /api/v1/alerts takes it, and optionally `at` (ms).
std::optional<std::string> read_feed_line(dom::object o, replay_item& item) {
  if (auto err = read_alert(o, item.post)) return err;
  dom::element at;
  if (!o["at"].get(at) && !at.is_null()) {
    std::uint64_t ms = 0;
    if (at.get_uint64().get(ms)) return "at must be milliseconds since the Unix epoch";
    item.at_ms = static_cast<std::int64_t>(ms);
  } else {
    std::uint64_t ms = 0;
    if (!o["occurred_at"].get_uint64().get(ms)) {
      item.at_ms = static_cast<std::int64_t>(ms);
      item.post.occurred_at = std::to_string(ms);
    } else if (!item.post.occurred_at.empty()) {
      item.at_ms = parse_rfc3339(item.post.occurred_at);
    }
  }
  return std::nullopt;
}

// A timeline line: alert.new and alert.updated carry the alert; other events are not alerts.
// Severity of each alert as its last replayed line had it, by alert id.
using severities = std::map<std::string, std::string>;

std::optional<std::string> read_event_line(dom::object o, std::string_view event, replay_item& item,
                                           bool& skip, severities& seen) {
  skip = event != "alert.new" && event != "alert.updated";
  if (skip) return std::nullopt;
  dom::object alert;
  if (o.at_pointer("/data/alert").get_object().get(alert))
    return std::string(event) + " without a data.alert object";
  if (auto err = read_alert(alert, item.post)) return "data.alert." + *err;
  item.repeat = event == "alert.updated";
  // A reach jump raised the severity: the server raises it again from the reach replayed, so
  // the repeat is pushed with the severity the alert had before.
  std::string_view id;
  auto& before = seen[alert["id"].get_string().get(id) ? std::string() : std::string(id)];
  bool viral = false;
  if (item.repeat && !o.at_pointer("/data/viral").get_bool().get(viral) && viral && !before.empty())
    item.post.severity = before;
  else
    before = item.post.severity;
  std::int64_t ms = 0;
  auto when = item.repeat ? "last_seen" : "first_seen";
  if (alert[when].get_int64().get(ms) || ms <= 0)
    if (o["ts"].get_int64().get(ms)) ms = 0;
  item.at_ms = std::max<std::int64_t>(0, ms);
  // A repeat says what the post says now: the newest of its later texts.
  dom::array later;
  if (item.repeat && !alert["later_texts"].get_array().get(later) && later.size() > 0) {
    std::string_view t;
    if (!later.at(later.size() - 1).get_string().get(t)) item.post.text = std::string(t);
  }
  return std::nullopt;
}

}  // namespace

replay_plan read_replay(std::istream& in) {
  replay_plan plan;
  dom::parser parser;
  severities seen;
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto fail = [&](const std::string& why) {
      plan.errors.push_back("line " + std::to_string(n) + ": " + why);
    };
    dom::element e;
    if (parser.parse(line).get(e)) {
      fail("not valid JSON");
      continue;
    }
    dom::object o;
    if (e.get_object().get(o)) {
      fail("not a JSON object");
      continue;
    }
    replay_item item;
    item.line = n;
    std::string_view event;
    bool skip = false;
    auto err = o["event"].get_string().get(event) ? read_feed_line(o, item)
                                                  : read_event_line(o, event, item, skip, seen);
    if (err) {
      fail(*err);
    } else if (skip) {
      ++plan.skipped;
    } else if (!item.post.url.starts_with("http://") && !item.post.url.starts_with("https://")) {
      fail("url must be an http or https URL");
    } else {
      plan.items.push_back(std::move(item));
    }
  }
  return plan;
}

std::vector<std::int64_t> replay_delays(const replay_plan& plan, double speed, double interval_s,
                                        double max_gap_s) {
  std::vector<std::int64_t> out;
  auto cap = static_cast<std::int64_t>(max_gap_s * 1000);
  for (std::size_t i = 0; i < plan.items.size(); ++i) {
    if (i == 0) {
      out.push_back(0);
      continue;
    }
    auto prev = plan.items[i - 1].at_ms, at = plan.items[i].at_ms;
    double gap = prev > 0 && at > 0 ? static_cast<double>(std::max<std::int64_t>(0, at - prev))
                                    : interval_s * 1000;
    out.push_back(std::min(cap, static_cast<std::int64_t>(gap / speed)));
  }
  return out;
}

}  // namespace muster::cli
