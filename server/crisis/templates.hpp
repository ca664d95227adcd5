#pragma once
// A channel's library of approved replies. Callable from any thread.
#include "server/crisis/request.hpp"

namespace muster::server::crisis::templates {

// Commands: rows of the command table.
void put(context& ctx, request& r, done_fn done);
void remove(context& ctx, request& r, done_fn done);
void list(context& ctx, request& r, done_fn done);

}  // namespace muster::server::crisis::templates
