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

#include "clients/cli/replay_feed.hpp"
#include "clients/lib/tls_options.hpp"

namespace muster::cli {

struct drill_options {
  std::string url = "ws://127.0.0.1:8080/ws";
  std::string token;
  client::tls_options tls;
  std::string file;
  std::string channel;
  std::string title;      // of a channel this creates ("" = "Drill: <file>")
  double speed = 1;       // 10: ten times faster than it happened
  double interval_s = 1;  // gap before an alert whose time is unknown (before --speed)
  double max_gap_s = 60;  // no wait longer than this (after --speed)
};

void add_drill_options(CLI::App& app, drill_options& o);
int run_drill(const drill_options& o);

}  // namespace muster::cli
