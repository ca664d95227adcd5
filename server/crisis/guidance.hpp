#pragma once
// Guidance from leads: posts (to one channel or to every open crisis channel), the newest of
// each kind pinned, and its versions (who has acknowledged which: audience.hpp). Callable from
// any thread.
#include <functional>
#include <string>

#include "server/crisis/records.hpp"
#include "server/crisis/request.hpp"

namespace muster::server::crisis::guidance {

// Commands: rows of the command table.
void post(context& ctx, request& r, done_fn done);
/// guidance.revise: the next version of a pinned post (acks of earlier versions stop counting).
void revise(context& ctx, request& r, done_fn done);
void list(context& ctx, request& r, done_fn done);

/// The guidance pinned in `channel` now, with versions, ordered by kind.
void pinned_versions(context& ctx, const std::string& channel,
                     std::function<void(std::vector<pinned_version>)> then, done_fn done);

}  // namespace muster::server::crisis::guidance
