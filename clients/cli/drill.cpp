#include "clients/cli/drill.hpp"

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <iostream>
#include <thread>

#include "protocol/codec.hpp"

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
std::optional<std::string> read_event_line(dom::object o, std::string_view event, replay_item& item,
                                           bool& skip) {
  skip = event != "alert.new" && event != "alert.updated";
  if (skip) return std::nullopt;
  dom::object alert;
  if (o.at_pointer("/data/alert").get_object().get(alert))
    return std::string(event) + " without a data.alert object";
  if (auto err = read_alert(alert, item.post)) return "data.alert." + *err;
  item.repeat = event == "alert.updated";
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
                                                  : read_event_line(o, event, item, skip);
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

void add_drill_options(CLI::App& app, drill_options& o) {
  app.require_subcommand(1);
  auto* replay = app.add_subcommand(
      "replay", "Replay an exported timeline or a JSON Lines alert feed into a drill channel");
  replay->add_option("file", o.file, "Timeline export or alert feed (JSON Lines)")->required();
  replay->add_option("--channel", o.channel, "Drill channel (created when it does not exist)")
      ->required();
  replay->add_option("--url", o.url, "Server WebSocket URL (env MUSTER_URL)")
      ->capture_default_str();
  replay->add_option("--token", o.token, "Access token of a lead (env MUSTER_TOKEN)");
  replay->add_option("--speed", o.speed, "Replay this many times faster than it happened")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 10000.0));
  replay->add_option("--title", o.title, "Title of a drill channel this creates");
  replay
      ->add_option("--interval-s", o.interval_s,
                   "Gap before an alert whose time is unknown, before --speed")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  replay->add_option("--max-gap-s", o.max_gap_s, "Longest wait between two alerts, after --speed")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 86400.0));
}

namespace {

// The drill channel, created if need be; false (said on stderr) when it is a real channel.
bool ensure_drill_channel(client::blocking_client& c, const drill_options& o) {
  std::string fields = "\"channel\":";
  protocol::append_json_string(fields, o.channel);
  auto got = c.call("channel.get", fields);
  if (got.is_error && got.error_code == "not_found") {
    client::create_channel(c, o.channel, o.title.empty() ? "Drill: " + o.file : o.title, "sev3",
                           true);
    std::cerr << "created drill channel " << o.channel << "\n";
    return true;
  }
  if (got.is_error) throw client::command_error(got.error_code, got.error_message);
  dom::parser p;
  dom::element e;
  bool drill = false;
  if (p.parse(got.result).get(e) || e.at_pointer("/channel/drill").get_bool().get(drill) ||
      !drill) {
    std::cerr << "muster drill: channel " << o.channel
              << " exists and is not a drill channel; nothing replayed\n";
    return false;
  }
  return true;
}

}  // namespace

int run_drill(const drill_options& o) {
  std::ifstream in(o.file);
  if (!in) {
    std::cerr << "muster drill: cannot read " << o.file << "\n";
    return 2;
  }
  auto plan = read_replay(in);
  for (const auto& e : plan.errors) std::cerr << o.file << ": " << e << "\n";
  auto delays = replay_delays(plan, o.speed, o.interval_s, o.max_gap_s);
  std::size_t refused = 0, folded = 0;
  auto started = std::chrono::steady_clock::now();
  try {
    client::blocking_client c(client::parse_url(o.url));
    c.connect("drill-replay", o.token);
    if (!ensure_drill_channel(c, o)) return 2;
    auto due = started;
    for (std::size_t i = 0; i < plan.items.size(); ++i) {
      due += std::chrono::milliseconds(delays[i]);
      std::this_thread::sleep_until(due);
      auto post = plan.items[i].post;
      post.channel = o.channel;
      try {
        folded += client::push_alert(c, post).deduplicated;
      } catch (const client::command_error& e) {
        ++refused;
        std::cerr << o.file << ": line " << plan.items[i].line << ": refused: " << e.code << ": "
                  << e.what() << "\n";
      }
    }
  } catch (const client::client_error& e) {
    std::cerr << "muster drill: " << e.what() << "\n";
    return 3;
  }
  auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "replayed " << plan.items.size() - refused << " alerts (" << folded
            << " folded into earlier ones) from " << o.file << " into " << o.channel << " at "
            << o.speed << "x in " << took << " s; " << plan.errors.size() << " lines malformed, "
            << plan.skipped << " other events skipped, " << refused << " refused\n";
  return plan.errors.empty() && refused == 0 ? 0 : 1;
}

}  // namespace muster::cli
