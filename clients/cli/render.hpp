#pragma once
// How the CLI shows events and alerts to a person: one short line per event (messages, presence
// and every crisis event of PROTOCOL.md sections 13-19), counts like 2.4M, ages like 5m. Pure
// functions, no I/O; any thread.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "clients/lib/frame.hpp"

namespace muster::cli {

struct render_options {
  bool timestamps = false;  // prefix the event's ts as local HH:MM:SS
};

/// One line (no newline) for an event: `[triage] CLAIMED a-1b2c by Ana`. Events it does not
/// know, and crisis events whose data it cannot read, are shown as their raw JSON.
std::string render_event(const client::server_message& m, const render_options& o = {});

/// 950, 12k, 2.4M, 1.2B (one decimal below 10 of a unit, none above).
std::string format_count(std::uint64_t n);
/// A duration in ms as 45s, 12m, 3h, 2d (the largest whole unit); "-" for a negative one.
std::string format_duration(std::int64_t ms);
/// `text` on one line (newlines and tabs as spaces), cut to `max_chars` UTF-8 characters with
/// "…" at the end when longer.
std::string one_line(std::string_view text, std::size_t max_chars);
/// Rows as columns aligned by UTF-8 characters, two spaces apart, one line each ("\n").
std::string format_table(const std::vector<std::vector<std::string>>& rows);
/// ms since the epoch as local HH:MM:SS.
std::string local_clock(std::int64_t ms);

}  // namespace muster::cli
