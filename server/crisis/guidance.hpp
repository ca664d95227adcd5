#pragma once
// Guidance from leads: posts (to one channel or to every open crisis channel), the newest of
// each kind pinned, acknowledgements, who has not acknowledged, and the one reminder per post.
// Callable from any thread.
#include <functional>
#include <string>

#include "server/crisis/request.hpp"

namespace muster::server::crisis::guidance {

// Commands: rows of the command table.
void post(context& ctx, request& r, done_fn done);
void ack(context& ctx, request& r, done_fn done);
void status(context& ctx, request& r, done_fn done);
void list(context& ctx, request& r, done_fn done);

/// An ambassador subscribed to `channel`: from now on guidance there expects their ack.
void note_member(context& ctx, const std::string& channel, const actor& who);
/// Sends the reminder of guidance `gid` if it is still pinned (scheduler); `next` afterwards.
void remind(context& ctx, const std::string& channel, const std::string& gid,
            std::function<void()> next);

}  // namespace muster::server::crisis::guidance
