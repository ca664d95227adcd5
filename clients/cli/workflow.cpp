#include "clients/cli/workflow.hpp"

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "clients/cli/render.hpp"
#include "clients/lib/crisis.hpp"
#include "protocol/json_writer.hpp"

namespace muster::cli {

namespace {

using rows = std::vector<std::vector<std::string>>;

std::unique_ptr<client::blocking_client> connected(const workflow_options& o) {
  auto c = std::make_unique<client::blocking_client>(client::parse_url(o.urls.ws), o.tls);
  c->connect(o.name, o.token);
  return c;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string holder_of(const client::alert_info& a) {
  if (a.holder_user.empty()) return "-";
  return a.holder_name.empty() ? a.holder_user : a.holder_name;
}

// `claimed a-1b2c (claimed by Ana)`; `a-1b2c unchanged (...)` when nothing changed.
void print_change(const std::string& verb, const client::alert_change& ch) {
  const auto& a = ch.alert;
  std::string state = a.status;
  if (!a.holder_user.empty()) state += " by " + holder_of(a);
  if (ch.changed)
    std::cout << verb << " " << a.id << " (" << state << ")\n";
  else
    std::cout << a.id << " unchanged (" << state << ")\n";
}

// The channels `alerts` looks at without --channel: every crisis channel, and triage.
std::vector<std::string> alert_channels(client::blocking_client& c) {
  auto list = client::list_channels(c);
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& ch : list.channels)
    if (seen.insert(ch.channel).second) out.push_back(ch.channel);
  for (const auto& [channel, purpose] : list.system)
    if (purpose == "triage" && seen.insert(channel).second) out.push_back(channel);
  return out;
}

int alerts(const workflow_options& o) {
  auto c = connected(o);
  std::vector<std::string> channels =
      o.channel.empty() ? alert_channels(*c) : std::vector<std::string>{o.channel};
  bool many = o.channel.empty();
  rows table;
  table.push_back({"ID", "SEV", "STATUS", "SOURCE", "AUTHOR", "REACH", "AGE", "HOLDER", "TEXT"});
  if (many) table.front().insert(table.front().begin(), "CHANNEL");
  std::vector<std::string> notes;
  auto now = now_ms();
  for (const auto& ch : channels) {
    auto list = client::list_alerts(*c, ch, o.status, o.limit);
    if (o.json) {
      std::cout << list.result_json << "\n";
      continue;
    }
    for (const auto& a : list.alerts) {
      std::vector<std::string> row = {a.id,
                                      a.severity,
                                      a.status,
                                      a.source,
                                      a.author.empty() ? "-" : one_line(a.author, 24),
                                      format_count(a.reach),
                                      format_duration(now - a.first_seen),
                                      holder_of(a),
                                      one_line(a.text, 60)};
      if (many) row.insert(row.begin(), ch);
      table.push_back(std::move(row));
    }
    if (list.truncated)
      notes.push_back(ch + ": showing " + std::to_string(list.alerts.size()) + " of " +
                      std::to_string(list.total) + " alerts (--limit)");
  }
  if (o.json) return 0;
  if (table.size() == 1)
    std::cout << "no alerts\n";
  else
    std::cout << format_table(table);
  for (const auto& n : notes) std::cout << n << "\n";
  return 0;
}

int alert_verb(const std::string& cmd, const workflow_options& o) {
  auto c = connected(o);
  if (cmd == "claim") print_change("claimed", client::claim_alert(*c, o.channel, o.id));
  if (cmd == "release") print_change("released", client::release_alert(*c, o.channel, o.id));
  if (cmd == "resolve") print_change("resolved", client::resolve_alert(*c, o.channel, o.id));
  if (cmd == "dismiss") print_change("dismissed", client::dismiss_alert(*c, o.channel, o.id));
  if (cmd == "respond")
    print_change("responded to", client::respond_alert(*c, o.channel, o.id, o.reply_url, o.text));
  if (cmd == "assign") print_change("assigned", client::assign_alert(*c, o.channel, o.id, o.to));
  return 0;
}

int guidance(const std::string& cmd, const workflow_options& o) {
  auto c = connected(o);
  if (cmd == "post") {
    auto id = client::post_guidance(*c, o.channel, o.kind, o.title, o.body, o.ack_within_s);
    std::cout << "posted " << o.kind << " " << id << " to " << o.channel << "\n";
  } else if (cmd == "ack") {
    bool fresh = client::ack_guidance(*c, o.channel, o.id, o.version);
    std::cout << (fresh ? "acknowledged " : "already acknowledged ") << o.id << "\n";
  } else {
    auto people = client::guidance_status(*c, o.channel, o.id);
    rows table = {{"USER", "NAME", "MEMBER", "STATE", "ACKED"}};
    std::size_t members = 0, acked = 0;
    for (const auto& p : people) {
      members += p.member;
      acked += p.member && p.state == "acknowledged";
      table.push_back({p.user, p.name, p.member ? "yes" : "no", p.state,
                       p.acked_version ? "v" + std::to_string(p.acked_version) : "-"});
    }
    if (people.empty())
      std::cout << "nobody yet\n";
    else
      std::cout << format_table(table);
    std::cout << acked << " of " << members << " members acknowledged the current version\n";
  }
  return 0;
}

std::vector<std::string> person_row(const client::person_stats& p) {
  return {p.user,
          p.name,
          std::to_string(p.claimed),
          std::to_string(p.responded),
          std::to_string(p.acks),
          format_duration(p.median_time_to_claim_ms),
          format_duration(p.median_time_to_respond_ms),
          format_duration(p.median_ack_delay_ms)};
}

int stats(const workflow_options& o) {
  auto c = connected(o);
  auto s = client::get_stats(*c, o.channel);
  if (o.json) {
    std::cout << s.result_json << "\n";
    return 0;
  }
  rows table = {{"CHANNEL", "ALERTS", "NEW", "CLAIMED", "RESPONDED", "RESOLVED", "DISMISSED",
                 "ESCALATED", "TO-CLAIM", "TO-RESPOND", "GUIDANCE", "ACKS", "ACK-DELAY"}};
  for (const auto& ch : s.channels)
    table.push_back(
        {ch.channel + (ch.drill ? " [drill]" : ""), std::to_string(ch.total),
         std::to_string(ch.new_alerts), std::to_string(ch.claimed), std::to_string(ch.responded),
         std::to_string(ch.resolved), std::to_string(ch.dismissed), std::to_string(ch.escalated),
         format_duration(ch.median_time_to_claim_ms), format_duration(ch.median_time_to_respond_ms),
         std::to_string(ch.guidance_posted), std::to_string(ch.acks),
         format_duration(ch.median_ack_delay_ms)});
  if (s.channels.empty()) {
    std::cout << "no crisis channels\n";
    return 0;
  }
  std::cout << format_table(table);
  if (s.people.empty()) return 0;
  rows people = {
      {"USER", "NAME", "CLAIMED", "RESPONDED", "ACKS", "TO-CLAIM", "TO-RESPOND", "ACK-DELAY"}};
  for (const auto& p : s.people) people.push_back(person_row(p));
  std::cout << "\n" << format_table(people);
  return 0;
}

int timeline(const workflow_options& o) {
  client::http_client http(std::chrono::seconds(10), o.tls);
  auto t = client::fetch_timeline(http, o.urls.http, o.token, o.channel);
  if (t.first_offset > 1)
    std::cerr << "muster timeline: events before offset " << t.first_offset
              << " are no longer stored (retention)\n";
  if (o.format == "jsonl") {
    std::cout << t.jsonl;
    return 0;
  }
  client::frame_parser parser;
  render_options ro{o.timestamps};
  std::istringstream in(t.jsonl);
  for (std::string line; std::getline(in, line);)
    for (const auto& m : parser.parse(line)) std::cout << render_event(m, ro) << "\n";
  return 0;
}

int channels(const workflow_options& o) {
  auto c = connected(o);
  auto list = client::list_channels(*c);
  if (o.json) {
    std::cout << list.result_json << "\n";
    return 0;
  }
  rows table = {{"CHANNEL", "SEV", "STATUS", "TITLE", "NOTES"}};
  for (const auto& ch : list.channels) {
    std::string notes = ch.drill ? "drill" : "";
    if (ch.approval_required) notes += std::string(notes.empty() ? "" : ", ") + "approval";
    table.push_back({ch.channel, ch.severity, ch.status, one_line(ch.title, 60), notes});
  }
  if (list.channels.empty())
    std::cout << "no crisis channels\n";
  else
    std::cout << format_table(table);
  std::string system;
  for (const auto& [channel, purpose] : list.system)
    system += (system.empty() ? "" : ", ") + channel + " (" + purpose + ")";
  if (!system.empty()) std::cout << "system channels: " << system << "\n";
  return 0;
}

}  // namespace

void add_workflow_commands(CLI::App& app, workflow_options& o,
                           const std::function<void(CLI::App*)>& common) {
  auto channel_option = [&](CLI::App* sub, bool required) {
    auto* opt = sub->add_option("--channel", o.channel,
                                required ? "The alert's home channel" : "Only this channel");
    if (required) opt->required();
  };
  auto* list = app.add_subcommand("alerts", "List alerts (alert.list), as a table or JSON");
  common(list);
  list->add_option("--channel", o.channel,
                   "One channel (default: every crisis channel and the triage channel)");
  list->add_option("--status", o.status, "Only alerts with this status")
      ->check(CLI::IsMember({"new", "claimed", "responded", "resolved", "dismissed"}));
  list->add_option("--limit", o.limit, "The newest N per channel (1-10000; default 1000)")
      ->check(CLI::Range(1, 10000));
  list->add_flag("--json", o.json, "Print each channel's alert.list result as one JSON line");

  for (auto [cmd, what] : {std::pair{"claim", "Claim an alert: it is yours to answer"},
                           {"release", "Release an alert you hold (or, as a lead, anyone's)"},
                           {"resolve", "Resolve an alert"},
                           {"dismiss", "Dismiss an alert that needs no answer (leads)"},
                           {"respond", "Record the public answer to an alert you hold"},
                           {"assign", "Hand an alert to someone (leads)"}}) {
    auto* sub = app.add_subcommand(cmd, what);
    common(sub);
    sub->add_option("id", o.id, "Alert id (a-...)")->required();
    channel_option(sub, true);
    if (std::string(cmd) == "respond") {
      // Not --url: that names the server, on every subcommand.
      sub->add_option("--reply-url", o.reply_url, "Link to the public answer (http/https)");
      sub->add_option("--text", o.text, "The answer's text");
    }
    if (std::string(cmd) == "assign")
      sub->add_option("--to", o.to, "User id (sub) of the new holder")->required();
  }

  auto* g = app.add_subcommand("guidance", "Post, acknowledge and follow guidance");
  g->require_subcommand(1);
  auto* post = g->add_subcommand("post", "Post guidance to a channel (leads)");
  common(post);
  channel_option(post, true);
  post->add_option("--kind", o.kind, "holding_statement, talking_points, do_dont or update")
      ->required()
      ->check(CLI::IsMember({"holding_statement", "talking_points", "do_dont", "update"}));
  post->add_option("--title", o.title, "Title")->required();
  post->add_option("--body", o.body, "Text")->required();
  post->add_option("--ack-within", o.ack_within_s,
                   "Seconds: members still pending then are escalated to the leads")
      ->check(CLI::Range(1, 604800));
  auto* ack = g->add_subcommand("ack", "Acknowledge guidance");
  common(ack);
  ack->add_option("id", o.id, "Guidance id (g-...)")->required();
  channel_option(ack, true);
  ack->add_option("--version", o.version, "The version you read (refused if not the current one)")
      ->check(CLI::PositiveNumber);
  auto* status = g->add_subcommand("status", "Who has acknowledged guidance (leads)");
  common(status);
  status->add_option("id", o.id, "Guidance id (g-...)")->required();
  channel_option(status, true);

  auto* st = app.add_subcommand("stats", "Alerts, response times and acks per channel (leads)");
  common(st);
  channel_option(st, false);
  st->add_flag("--json", o.json, "Print the stats result as JSON");

  auto* tl = app.add_subcommand("timeline", "Export a channel's whole timeline (leads)");
  common(tl);
  tl->add_option("channel", o.channel, "Channel")->required();
  tl->add_option("--format", o.format, "jsonl (as stored) or text (one line per event)")
      ->capture_default_str()
      ->check(CLI::IsMember({"jsonl", "text"}));
  tl->add_flag("--timestamps", o.timestamps, "text: prefix each event's time (local HH:MM:SS)");

  auto* ch = app.add_subcommand("channels", "List the crisis channels (channel.list)");
  common(ch);
  ch->add_flag("--json", o.json, "Print the channel.list result as JSON");
}

int revoke_token(const workflow_options& o) {
  if (o.jti.empty() == o.user.empty()) {
    std::cerr << "muster token revoke: give exactly one of --jti and --user\n";
    return 2;
  }
  std::string fields = o.jti.empty() ? "\"user\":" : "\"jti\":";
  muster::protocol::append_json_string(fields, o.jti.empty() ? o.user : o.jti);
  if (!o.reason.empty()) {
    fields += ",\"reason\":";
    muster::protocol::append_json_string(fields, o.reason);
  }
  try {
    auto c = connected(o);
    auto r = c->call("token.revoke", fields);
    if (r.is_error) {
      std::cerr << "muster token revoke: " << r.error_code << ": " << r.error_message << "\n";
      return 1;
    }
    bool already = r.result.find("\"already\":true") != std::string::npos;
    if (!o.jti.empty())
      std::cout << (already ? "already revoked: token " : "revoked: token ") << o.jti << "\n";
    else
      std::cout << "revoked: every token of " << o.user << " issued until now\n";
    return 0;
  } catch (const client::client_error& e) {
    std::cerr << "muster token revoke: " << e.what() << "\n";
    return 1;
  }
}

std::optional<int> run_workflow(const CLI::App& app, const workflow_options& o) {
  static const std::set<std::string> alert_verbs = {"claim",   "release", "resolve",
                                                    "dismiss", "respond", "assign"};
  for (const auto* sub : app.get_subcommands()) {
    std::string cmd = sub->get_name();
    if (cmd == "guidance") {
      auto leaf = sub->get_subcommands().front()->get_name();
      cmd += " " + leaf;
    }
    if (cmd == "respond" && o.reply_url.empty() && o.text.empty()) {
      std::cerr << "muster respond: give --reply-url URL and/or --text TEXT\n";
      return 2;
    }
    std::function<int()> run;
    if (cmd == "alerts") run = [&] { return alerts(o); };
    if (alert_verbs.count(cmd)) run = [&] { return alert_verb(cmd, o); };
    if (cmd.starts_with("guidance ")) run = [&] { return guidance(cmd.substr(9), o); };
    if (cmd == "stats") run = [&] { return stats(o); };
    if (cmd == "timeline") run = [&] { return timeline(o); };
    if (cmd == "channels") run = [&] { return channels(o); };
    if (!run) return std::nullopt;
    try {
      return run();
    } catch (const client::client_error& e) {  // command_error too: "code: message"
      std::cerr << "muster " << cmd << ": " << e.what() << "\n";
      return 1;
    }
  }
  return std::nullopt;
}

}  // namespace muster::cli
