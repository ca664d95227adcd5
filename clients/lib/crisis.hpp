#pragma once
// Typed crisis-workflow calls (PROTOCOL.md sections 14-19) on both client flavours: blocking
// functions on a blocking_client (they throw command_error with the server's error code), and
// asynchronous ones on a session (the handler gets the reply or the error, on the session's
// io_context thread). Field encoding and result parsing live here, not in every caller.
#include <functional>
#include <string>
#include <vector>

#include "clients/lib/blocking_client.hpp"
#include "clients/lib/frame.hpp"
#include "clients/lib/http_client.hpp"
#include "clients/lib/session.hpp"

namespace muster::client {

/// The server refused a command: `code` is the stable wire name ("already_claimed", ...).
struct command_error : client_error {
  command_error(std::string c, std::string message, std::string user = {}, std::string name = {});
  std::string code;
  std::string holder_user;  // already_claimed: who holds the alert
  std::string holder_name;
  std::vector<std::string> drafting;  // already_claimed: who else is drafting a reply (users)
  std::uint64_t limit = 0;            // claim_limit: the cap
};

/// An alert as a bot reports it (PROTOCOL.md 15.3). `source` and `url` are required.
struct alert_post {
  std::string source;
  std::string url;
  std::string author;
  std::string text;
  std::string severity;   // sev1 (most severe) .. sev4; empty: the server's default (sev3)
  std::string dedup_key;  // empty: the canonical URL
  std::vector<std::string> tags;
  std::uint64_t reach = 0;
  std::uint64_t engagement = 0;
  std::string occurred_at;  // RFC 3339; empty: not known
  std::string channel;      // straight into this channel instead of routing (e.g. a drill)
  /// The command's fields (no braces), for blocking_client::call or session::command.
  std::string fields_json() const;
};

/// What the server says about a pushed alert.
struct alert_ref {
  std::string id;
  std::string channel;  // its home channel (where claims happen)
  std::string status;
  bool deduplicated = false;     // folded into an alert that already existed
  bool severity_raised = false;  // ... and it raised that alert's severity
  bool viral = false;            // ... because its reach jumped
  bool drill = false;            // it lives in a drill channel
};
/// Reads an alert reply (`{"alert":{...},"deduplicated":...}`).
alert_ref parse_alert_ref(std::string_view result_json);

/// An alert as the server describes it (PROTOCOL.md 15.1): the fields a client shows.
struct alert_info {
  std::string id, channel, status, severity, source, url, author, text;
  std::string holder_user, holder_name;  // empty: nobody holds it
  std::string reply_url, reply_text;
  std::uint64_t reach = 0, engagement = 0, count = 0;
  std::int64_t first_seen = 0, last_seen = 0, claimed_at = 0;
  bool drill = false;
};

/// What an alert command did: the alert after it, whether it changed, and the offset of the
/// event it appended to the home channel (0 when nothing changed).
struct alert_change {
  alert_info alert;
  bool changed = false;
  std::uint64_t offset = 0;
};

// Blocking facade: each returns when the server answered; throws command_error or client_error.
alert_ref push_alert(blocking_client& c, const alert_post& a);
/// Claims an alert; command_error "already_claimed" names the holder.
alert_change claim_alert(blocking_client& c, const std::string& channel,
                         const std::string& alert_id);
alert_change release_alert(blocking_client& c, const std::string& channel,
                           const std::string& alert_id);
alert_change respond_alert(blocking_client& c, const std::string& channel,
                           const std::string& alert_id, const std::string& reply_url,
                           const std::string& reply_text = {});
alert_change resolve_alert(blocking_client& c, const std::string& channel,
                           const std::string& alert_id);
/// Dismisses an alert (leads): it needs no answer.
alert_change dismiss_alert(blocking_client& c, const std::string& channel,
                           const std::string& alert_id);

/// alert.list: a channel's alerts (whose home it is), oldest first; `result_json` is the reply.
struct alert_list {
  std::vector<alert_info> alerts;
  std::uint64_t total = 0;  // every matching alert, also those `limit` left out
  bool truncated = false;
  std::string result_json;
};
/// `status` empty: every status; `limit` 0: the server's default (1000).
alert_list list_alerts(blocking_client& c, const std::string& channel,
                       const std::string& status = {}, std::uint64_t limit = 0);

/// A crisis channel's description (PROTOCOL.md 14).
struct channel_info {
  std::string channel, title, severity, status;
  bool drill = false;
  bool approval_required = false;
  std::int64_t created_at = 0, updated_at = 0;
};
/// channel.list: the crisis channels, and the server's own ones {channel, purpose}.
struct channel_list {
  std::vector<channel_info> channels;
  std::vector<std::pair<std::string, std::string>> system;
  std::string result_json;
};
channel_list list_channels(blocking_client& c);

/// One person's figures in `stats` (medians in ms, -1: no sample).
struct person_stats {
  std::string user, name;
  std::uint64_t claimed = 0, responded = 0, acks = 0;
  std::int64_t median_time_to_claim_ms = -1, median_time_to_respond_ms = -1,
               median_ack_delay_ms = -1;
};
/// One channel's figures in `stats` (PROTOCOL.md 19).
struct channel_stats {
  std::string channel;
  bool drill = false;
  std::uint64_t total = 0, new_alerts = 0, claimed = 0, responded = 0, resolved = 0, dismissed = 0,
                escalated = 0, triggers = 0;
  std::int64_t median_time_to_claim_ms = -1, median_time_to_respond_ms = -1;
  std::uint64_t guidance_posted = 0, acks = 0, pending_approvals = 0;
  std::int64_t median_ack_delay_ms = -1;
  std::vector<person_stats> people;
};
struct stats_report {
  std::vector<channel_stats> channels;
  std::vector<person_stats> people;  // over every channel listed
  std::string result_json;
};
/// stats (leads): one channel, or (empty) every crisis channel but drills.
stats_report get_stats(blocking_client& c, const std::string& channel = {});

/// Posts guidance (kind: holding_statement, talking_points, do_dont, update); returns its id.
/// `ack_within_s` > 0: members still pending that long after are escalated to the leads.
std::string post_guidance(blocking_client& c, const std::string& channel, const std::string& kind,
                          const std::string& title, const std::string& body,
                          std::int64_t ack_within_s = 0);
/// Revises a pinned post (leads): returns its new version; everyone acknowledges again.
std::int64_t revise_guidance(blocking_client& c, const std::string& channel,
                             const std::string& guidance_id, const std::string& body,
                             const std::string& changes);
/// Tells the server the post reached the user (`read` false) or was shown to them.
void read_guidance(blocking_client& c, const std::string& channel, const std::string& guidance_id,
                   bool read = true);
/// Acknowledges guidance (`version` > 0: the version the user was shown, refused with
/// invalid_state if it is not the current one); returns false when it was already acknowledged.
bool ack_guidance(blocking_client& c, const std::string& channel, const std::string& guidance_id,
                  std::int64_t version = 0);
/// One person's progress with the current version of a post (guidance.status, leads).
struct guidance_progress {
  std::string user, name;
  std::string state;  // acknowledged, read, delivered, pending
  std::int64_t acked_version = 0;
  bool member = false;
};
std::vector<guidance_progress> guidance_status(blocking_client& c, const std::string& channel,
                                               const std::string& guidance_id);
/// Creates a crisis channel (leads); `drill`: a rehearsal, kept out of the real stats.
void create_channel(blocking_client& c, const std::string& channel, const std::string& title,
                    const std::string& severity = "sev3", bool drill = false);
/// Whether replies in `channel` need a lead's approval, from `min_severity` up ("" = all).
void require_approval(blocking_client& c, const std::string& channel, bool required,
                      const std::string& min_severity = "");

/// A reply proposed for approval (PROTOCOL.md 15.10).
struct proposal {
  std::string id, state;  // pending, approved, rejected, withdrawn
  std::string text, url, template_name, comment;
  std::string by_user, decided_by_user;
  bool edited = false, automatic = false, overdue = false;
  std::int64_t at = 0, decided_at = 0;
  std::string alert_id;         // approval.list: the alert it is for
  std::int64_t waiting_ms = 0;  // approval.list: how long it has waited
};
/// Proposes a reply to an alert one holds (text and/or url, or a template's name).
proposal propose_reply(blocking_client& c, const std::string& channel, const std::string& alert_id,
                       const std::string& text, const std::string& url = {},
                       const std::string& template_name = {});
/// A lead approves a pending proposal, optionally edited (empty: unchanged).
proposal approve_reply(blocking_client& c, const std::string& channel, const std::string& alert_id,
                       const std::string& proposal_id, const std::string& text = {},
                       const std::string& comment = {});
/// A lead rejects a pending proposal; `comment` says why (required).
proposal reject_reply(blocking_client& c, const std::string& channel, const std::string& alert_id,
                      const std::string& proposal_id, const std::string& comment);
/// approval.list (leads): the channel's pending proposals, the longest waiting first.
std::vector<proposal> pending_approvals(blocking_client& c, const std::string& channel);
/// Hands an alert to `to` (leads); command_error "unknown_user" when the directory does not
/// know them.
alert_change assign_alert(blocking_client& c, const std::string& channel,
                          const std::string& alert_id, const std::string& to);
/// Tells everyone in the alert's channel that this connection has it open (`drafting`: is typing
/// a reply); `active` false: no longer. Repeat before crisis.activity_ttl_ms to stay listed.
void view_alert(blocking_client& c, const std::string& channel, const std::string& alert_id,
                bool drafting = false, bool active = true);
/// Writes an internal note on an alert; returns the note's id.
std::string note_alert(blocking_client& c, const std::string& channel, const std::string& alert_id,
                       const std::string& text);

/// One entry of the directory of people (PROTOCOL.md section 21).
struct person_entry {
  std::string user, name, role;
  std::int64_t first_seen = 0, last_seen = 0;
  std::int64_t since = 0;             // channel.members: a member since
  std::vector<std::string> channels;  // people.list: the channels they joined
};
/// people.list (leads): everyone who has connected, by user id.
std::vector<person_entry> list_people(blocking_client& c);
/// channel.members (leads): the ambassadors guidance in `channel` expects acks from.
std::vector<person_entry> channel_members(blocking_client& c, const std::string& channel);

/// The post-crisis report of `channel` (PROTOCOL.md 20.5) from the server at `base_url`
/// ("http://host:port"), as `format` ("json", "html" or "csv") sends it; throws command_error
/// with the server's code for a refusal (forbidden, not_found, ...), client_error when
/// unreachable.
std::string fetch_report(http_client& http, const std::string& base_url, const std::string& token,
                         const std::string& channel, const std::string& format = "json");

/// A channel's whole stored stream (PROTOCOL.md 20.4): JSON Lines, oldest first, and the offset
/// of its first event (above 1: retention dropped the ones before).
struct timeline_export {
  std::string jsonl;
  std::uint64_t first_offset = 1;
};
/// GET /api/v1/channels/{channel}/timeline (leads); errors as for fetch_report.
timeline_export fetch_timeline(http_client& http, const std::string& base_url,
                               const std::string& token, const std::string& channel);

// Asynchronous: `done` runs on the session's io_context with the reply or the error.
using alert_handler = std::function<void(const command_error* error, const alert_ref& alert)>;
using done_handler = std::function<void(const command_error* error)>;
void push_alert(session& s, const alert_post& a, alert_handler done);
void claim_alert(session& s, const std::string& channel, const std::string& alert_id,
                 done_handler done);
using proposal_handler = std::function<void(const command_error* error, const proposal& p)>;
void propose_reply(session& s, const std::string& channel, const std::string& alert_id,
                   const std::string& text, proposal_handler done);
void approve_reply(session& s, const std::string& channel, const std::string& alert_id,
                   const std::string& proposal_id, proposal_handler done);
void ack_guidance(session& s, const std::string& channel, const std::string& guidance_id,
                  done_handler done);

}  // namespace muster::client
