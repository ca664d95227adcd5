#pragma once
// The scheduler's side of the crisis layer: one pass over the due escalations and guidance
// reminders (every node runs passes; each step is a compare-and-set, so it happens once).
// Callable from any thread; `done` runs when the pass finished, `more` when it left due items
// for the next pass (each pass takes a bounded number).
#include <functional>

#include "server/crisis/context.hpp"

namespace muster::server::crisis::escalation {

void scan(context& ctx, std::function<void(bool more)> done);

}  // namespace muster::server::crisis::escalation
