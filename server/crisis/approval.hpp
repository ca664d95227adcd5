#pragma once
// Reply approval without I/O (PROTOCOL.md section 15.10): the reply an ambassador proposes on
// an alert they hold, a lead's approval (possibly edited) or rejection, the deadline after which
// the leads hear of a pending one, and whether a reply may be recorded as the response. Plain
// values with the time passed in; callers own the synchronisation (proposals live in the
// alert's document, changed by compare-and-set).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "server/crisis/records.hpp"

namespace muster::server::crisis::approval {

/// Whether replies to an alert of severity `s` need approval in the channel `ch` describes.
bool required(const channel_record& ch, severity s);

enum class verdict {
  ok,
  not_claimed,    // proposing on an alert that is not claimed
  not_holder,     // proposing on an alert someone else holds
  unknown,        // deciding on a proposal the alert never had
  decided,        // ... on one that is no longer pending
  changed_hands,  // ... on one whose proposer no longer holds the alert
};

/// What an ambassador proposes.
struct draft {
  std::string text;
  std::string url;
  std::string template_name;   // built from this approved reply
  bool from_template = false;  // its text is the template's, unchanged: approved at once
};

/// The newest proposal, if any.
const proposal_record* latest(const alert_record& r);
/// The newest proposal while it is pending and its proposer still holds the alert claimed.
const proposal_record* pending(const alert_record& r);

/// Adds proposal `id` by the holder `by`; a pending one is withdrawn, and the alert keeps the
/// newest max_proposals. From a template it is approved at once (by the server).
verdict propose(alert_record& r, const person& by, draft d, std::string id, std::int64_t now);
/// A lead approves pending proposal `id`, with their edits (none: as proposed).
verdict approve(alert_record& r, const std::string& id, const person& lead,
                std::optional<std::string> text, std::optional<std::string> url,
                std::string comment, std::int64_t now);
/// A lead rejects pending proposal `id`, saying why.
verdict reject(alert_record& r, const std::string& id, const person& lead, std::string comment,
               std::int64_t now);

/// The response a reply may be recorded as where approval is required: the newest proposal must
/// be approved, and a given text must be its text. Empty fields take the approved ones.
struct reply_check {
  bool ok = false;
  std::string message;  // why not
  std::string text, url;
};
reply_check check_reply(const alert_record& r, const std::string& url, const std::string& text);

/// A pending proposal whose proposer no longer holds the alert claimed (released, expired,
/// reassigned, answered by a lead, closed) is withdrawn: nobody is left waiting for it.
void withdraw_stale(alert_record& r);

/// When the pending proposal becomes overdue (0: none pending, or already reported).
std::int64_t deadline(const alert_record& r, std::chrono::seconds after);
/// Marks the pending proposal overdue when it is due at `now`; true if it just became so.
bool mark_overdue(alert_record& r, std::int64_t now, std::chrono::seconds after);

}  // namespace muster::server::crisis::approval
