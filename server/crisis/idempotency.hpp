#pragma once
// At most once per key: a change retried with the idempotency key of an earlier one gets that
// one's reply instead of being done again, on any node, for `options::idempotency_window`.
// Callable from any thread.
#include <functional>
#include <string>

#include "server/crisis/context.hpp"

namespace muster::server::crisis::idempotency {

/// Runs `work` unless `key` was seen: a finished one answers with its first reply; one still
/// running answers `conflict` (retry later; a run left over for 30 s by a dead node is taken
/// over); a failed run forgets the key, so that a retry runs it again.
void once(context& ctx, const std::string& key, std::function<void(done_fn)> work, done_fn done);
/// Forgets keys past the window (the scheduler's pass); `next` runs afterwards.
void expire(context& ctx, const std::string& key, std::function<void()> next);

}  // namespace muster::server::crisis::idempotency
