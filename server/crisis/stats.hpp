#pragma once
// What a crisis was: per-channel and per-person statistics, and the timeline export (every
// event of a channel as JSON Lines). Callable from any thread.
#include <functional>
#include <optional>
#include <string>

#include "server/crisis/request.hpp"

namespace muster::server::crisis::stats {

/// The `stats` command (a row of the command table).
void command(context& ctx, request& r, done_fn done);
/// Stats for one channel, or for every crisis channel `who` may see.
void of(context& ctx, std::optional<std::string> channel, const actor& who, done_fn done);

/// Every event of `channel`, oldest first, and the first offset still held (1 unless
/// retention dropped the start).
using timeline_fn = std::function<void(std::error_code, std::string, std::uint64_t)>;
void timeline(context& ctx, std::string channel, timeline_fn done);

}  // namespace muster::server::crisis::stats
