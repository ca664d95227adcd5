#pragma once
// Crisis channels: a title, severity and status beside a channel's stream, listed in the global
// channels index, with the longer crisis retention. Callable from any thread.
#include <functional>
#include <vector>

#include "server/crisis/records.hpp"
#include "server/crisis/request.hpp"

namespace muster::server::crisis::channels {

// Commands: rows of the command table.
void create(context& ctx, request& r, done_fn done);
void update(context& ctx, request& r, done_fn done);
void get(context& ctx, request& r, done_fn done);
void list(context& ctx, request& r, done_fn done);

/// The crisis channels `who` may see, by name; engine failures answer `done`.
void list_records(context& ctx, const actor& who,
                  std::function<void(std::vector<channel_record>)> then, done_fn done);
/// `{"channels":[...]}` of the crisis channels `who` may see (channel.list, GET /api/v1/channels).
void list_json(context& ctx, const actor& who, done_fn done);
/// The names of the crisis channels `who` may see.
void list_names(context& ctx, const actor& who, std::function<void(std::vector<std::string>)> then,
                done_fn done);

}  // namespace muster::server::crisis::channels
