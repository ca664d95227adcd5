#pragma once
// `muster drill replay FILE`: rehearses a crisis. Replays an exported timeline (GET
// /api/v1/channels/{c}/timeline) or a JSON Lines feed of alerts into a drill channel (created
// when it does not exist), keeping the original gaps between alerts divided by --speed. Lines
// that cannot be replayed are each named by line number; the rest is replayed.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include "clients/lib/crisis.hpp"

namespace muster::cli {

struct drill_options {
  std::string url = "ws://127.0.0.1:8080/ws";
  std::string token;
  std::string file;
  std::string channel;
  std::string title;      // of a channel this creates ("" = "Drill: <file>")
  double speed = 1;       // 10: ten times faster than it happened
  double interval_s = 1;  // gap before an alert whose time is unknown (before --speed)
  double max_gap_s = 60;  // no wait longer than this (after --speed)
};

/// One alert to push: from which line, when it happened (ms; 0: unknown), what to push.
struct replay_item {
  std::size_t line = 0;
  std::int64_t at_ms = 0;
  client::alert_post post;
  bool repeat = false;  // an alert.updated line: a later trigger of an alert already replayed
};
/// What a file holds: the alerts to replay, the lines that cannot be (each "line N: why"), and
/// the other events of a timeline, which are skipped.
struct replay_plan {
  std::vector<replay_item> items;
  std::vector<std::string> errors;
  std::size_t skipped = 0;
};
/// Reads a timeline export or an alert feed, line by line. No I/O beyond `in`.
replay_plan read_replay(std::istream& in);
/// The wait before each item, in ms: the original gap (or `interval_s` where a time is
/// unknown) divided by `speed`, at most `max_gap_s`; the first is 0.
std::vector<std::int64_t> replay_delays(const replay_plan& plan, double speed, double interval_s,
                                        double max_gap_s);

void add_drill_options(CLI::App& app, drill_options& o);
int run_drill(const drill_options& o);

}  // namespace muster::cli
