#pragma once
// What `muster drill replay` reads, without I/O beyond the stream: an exported timeline (its
// alert.new and alert.updated events) or a JSON Lines feed of alerts, each line checked on its
// own, and the waits between the alerts at a replay speed. Plain functions; any thread.
#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include "clients/lib/crisis.hpp"

namespace muster::cli {

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

}  // namespace muster::cli
