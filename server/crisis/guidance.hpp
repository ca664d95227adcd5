#pragma once
// Guidance from leads: posts (to one channel or to every open crisis channel), the newest of
// each kind pinned, acknowledgements, who has not acknowledged, and the one reminder per post.
// Callable from any thread.
#include <functional>
#include <string>

#include "server/crisis/records.hpp"
#include "server/crisis/request.hpp"

namespace muster::server::crisis::guidance {

// Commands: rows of the command table.
void post(context& ctx, request& r, done_fn done);
void ack(context& ctx, request& r, done_fn done);
void status(context& ctx, request& r, done_fn done);
void list(context& ctx, request& r, done_fn done);

/// An ambassador subscribed to `channel`: if it is a crisis channel, guidance there expects
/// their ack from now on.
void note_member(context& ctx, const std::string& channel, const actor& who);
/// Records `m` as a member of crisis channel `channel` unless they are one (logged on failure).
void add_member(context& ctx, const std::string& channel, const member_record& m);
/// Sends the reminder of guidance `gid` if it is still pinned (scheduler); `next` afterwards.
void remind(context& ctx, const std::string& channel, const std::string& gid,
            std::function<void()> next);

}  // namespace muster::server::crisis::guidance
