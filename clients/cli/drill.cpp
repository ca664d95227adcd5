#include "clients/cli/drill.hpp"

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <iostream>
#include <thread>

#include "clients/cli/ca_file_option.hpp"
#include "protocol/codec.hpp"

namespace muster::cli {

namespace dom = simdjson::dom;

void add_drill_options(CLI::App& app, drill_options& o) {
  app.require_subcommand(1);
  auto* replay = app.add_subcommand(
      "replay", "Replay an exported timeline or a JSON Lines alert feed into a drill channel");
  replay->add_option("file", o.file, "Timeline export or alert feed (JSON Lines)")->required();
  replay->add_option("--channel", o.channel, "Drill channel (created when it does not exist)")
      ->required();
  replay->add_option("--url", o.url, "Server WebSocket URL (env MUSTER_URL)")
      ->capture_default_str();
  add_ca_file_option(*replay, o.tls);
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
    client::blocking_client c(client::parse_url(o.url), o.tls);
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
