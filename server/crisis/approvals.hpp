#pragma once
// Reply approval commands (PROTOCOL.md section 15.10) over the approval state machine: an
// ambassador proposes a reply on an alert they hold, leads see the queue and approve or reject,
// and the scheduler tells the leads of one pending too long. Callable from any thread.
#include <functional>
#include <string>

#include "server/crisis/records.hpp"
#include "server/crisis/request.hpp"

namespace muster::server::crisis::approvals {

/// alert.propose: a reply (text and/or url, or an approved template) for a lead to approve.
void propose(context& ctx, request& r, done_fn done);
/// alert.approve and alert.reject (leads).
void decide(context& ctx, request& r, done_fn done);
/// approval.list (leads): the channel's pending proposals, the longest waiting first.
void list(context& ctx, request& r, done_fn done);

/// The description of `channel` (a plain channel's: approval not required), for `then`.
void channel_settings(context& ctx, const std::string& channel,
                      std::function<void(const channel_record&)> then, done_fn done);

}  // namespace muster::server::crisis::approvals
