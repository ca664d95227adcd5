#pragma once
// The crisis layer's stored records as typed values, each with one encoder (the project's JSON
// writer; this text is also what clients receive) and one decoder (simdjson on-demand). No
// I/O; thread-safe (decoders use a parser per thread).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/crisis/alert.hpp"
#include "server/crisis/spike.hpp"

namespace muster::server::crisis {

/// `{"user":<sub>,"name":<name>}`, or `null` when nobody (empty user).
struct person {
  std::string user;
  std::string name;
  bool empty() const { return user.empty(); }
  friend bool operator==(const person&, const person&) = default;
};

/// The server acting by itself (the scheduler, automatic approvals): as the scheduler's actor.
inline person server_person() {
  return {"muster", "muster"};
}

/// The guidance pinned in a channel when an alert was answered: which post, which version.
struct pinned_version {
  std::string id;
  std::string kind;
  unsigned version = 1;
  friend bool operator==(const pinned_version&, const pinned_version&) = default;
};

/// A reply an ambassador proposed for approval (section 15.10), and what became of it.
struct proposal_record {
  std::string id;
  std::string text;
  std::string url;
  std::string template_name;  // the approved reply it was built from ("" if none)
  person by;
  std::int64_t at = 0;
  std::string state = "pending";  // pending, approved, rejected, withdrawn
  person decided_by;
  std::int64_t decided_at = 0;
  std::string comment;
  bool edited = false;     // approved with a lead's changes
  bool automatic = false;  // approved because it is an approved template
  bool overdue = false;    // pending past the deadline: the leads were told
  friend bool operator==(const proposal_record&, const proposal_record&) = default;
};
inline constexpr std::size_t max_proposals = 10;  // an alert keeps the newest

/// An alert's document in its home channel.
struct alert_record {
  alert a;
  std::string channel;                // home: where its document and events live
  std::vector<std::string> channels;  // every routed channel, home first
  std::string holder_name;
  person responder;
  std::string occurred_at;  // as given: JSON text (a string or a number), empty when unknown
  std::int64_t closed_at = 0;
  std::string closed_by;
  /// The guidance pinned in its home channel when it was answered (empty before).
  std::vector<pinned_version> guidance;
  bool drill = false;                      // its home is a drill channel
  std::vector<proposal_record> proposals;  // newest last, at most max_proposals
  /// The next escalation step and its deadline (ms) as of the last change; step 0: none.
  /// Stamped by alerts::stamp before every write, from the configuration of that node.
  unsigned next_escalation_step = 0;
  std::int64_t next_escalation_at = 0;
};

/// A crisis channel's description (`meta`).
struct channel_record {
  std::string channel;
  std::string title;
  severity sev = severity::sev3;
  std::string status = "open";  // open, monitoring, resolved
  person created_by;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
  bool drill = false;                             // a rehearsal: fixed at creation
  bool approval_required = false;                 // replies need a lead's approval
  std::optional<severity> approval_min_severity;  // ...only from this severity up
};

/// An earlier version of a guidance post (its text is in the timeline's events).
struct guidance_version {
  unsigned version = 1;
  std::int64_t at = 0;  // when it was posted or revised
  person by;
  std::string changes;  // what its revision said it changed ("" for the first)
  friend bool operator==(const guidance_version&, const guidance_version&) = default;
};

/// One guidance post.
struct guidance_record {
  std::string id;
  std::string channel;
  std::string kind;  // holding_statement, talking_points, do_dont, update
  std::string title;
  std::string body;
  person by;
  std::int64_t posted_at = 0;
  std::optional<std::string> supersedes;  // the post of this kind it replaced as pinned
  bool reminded = false;                  // the reminder went out (or was not needed)
  unsigned version = 1;                   // guidance.revise adds one
  std::int64_t revised_at = 0;            // when the current version was made (0: never revised)
  person revised_by;                      // who made it (nobody: never revised)
  std::string changes;                    // what the current version changed
  std::vector<guidance_version> history;  // earlier versions, oldest first (bounded)
  std::int64_t ack_within_s = 0;          // acks expected within this (0: no deadline)
  std::int64_t ack_deadline = 0;          // ms, for the current version (0: none)
  bool overdue = false;                   // guidance.overdue went out for the current version
  /// When the current version was made.
  std::int64_t version_at() const { return revised_at ? revised_at : posted_at; }
};
inline constexpr std::size_t max_guidance_history = 50;

/// One person's acknowledgement of a guidance post.
struct ack_record {
  std::string guidance;
  std::string kind;
  std::string user;
  std::string name;
  std::int64_t at = 0;
  std::int64_t delay_ms = 0;  // since the version it acknowledges was made
  unsigned version = 1;       // of the guidance
};

/// How far one person got with one guidance post: delivered, then read (an ack is stored
/// apart, as an ack_record). Per version: a revision starts everyone again.
struct receipt_record {
  std::string guidance;
  std::string user;
  std::string name;
  unsigned version = 1;
  std::int64_t delivered_at = 0;
  std::int64_t read_at = 0;  // 0: not read (yet)
};

/// An ambassador who subscribed to a crisis channel: the audience guidance expects acks from.
struct member_record {
  std::string user;
  std::string name;
  std::int64_t since = 0;
};

/// Someone the server has seen connect: the directory of people (PROTOCOL.md section 21).
struct person_record {
  std::string user;
  std::string name;
  std::string role;
  std::int64_t first_seen = 0;
  std::int64_t last_seen = 0;
  std::vector<std::string> channels;  // joined, oldest first, the newest max_person_channels
};
inline constexpr std::size_t max_person_channels = 64;

/// The claims one person holds (unanswered), each a "<channel> <alert>" item: what the
/// per-ambassador cap counts.
struct held_record {
  std::string user;
  std::vector<std::string> alerts;
};

/// One connection on an alert right now (short-lived: the engine's ephemeral store).
struct activity_record {
  std::string alert;
  std::string user;
  std::string name;
  std::string client;
  std::string state;            // viewing, drafting
  std::int64_t since = 0;       // when it entered this state
  std::int64_t expires_at = 0;  // unless refreshed
};

/// An internal note on an alert.
struct note_record {
  std::string id;
  std::string alert;
  std::string text;
  person by;
  std::int64_t at = 0;
};

/// One alert among a channel's highest-reach recent arrivals (`top` of channel.spike).
struct spike_alert {
  std::string id;
  std::string url;
  std::string author;
  std::uint64_t reach = 0;
  severity sev = severity::sev3;
  std::int64_t at = 0;
  friend bool operator==(const spike_alert&, const spike_alert&) = default;
};
inline constexpr std::size_t max_spike_recent = 20;  // kept; the event lists the first 5

/// A channel's spike detector and what it saw (`spike` beside the channel).
struct spike_record {
  spike_state detector;
  std::vector<spike_alert> recent;  // highest reach first, none older than the window
  std::uint64_t spikes = 0;         // raised so far
  std::int64_t last_spike_at = 0;
};

/// An approved reply.
struct template_record {
  std::string name;
  std::string title;
  std::string text;
  person by;
  std::int64_t updated_at = 0;
};

/// An alert push with an idempotency key: in progress, or done with its reply.
struct idempotency_record {
  bool done = false;
  std::int64_t at = 0;  // when the push began (pending) or finished (done)
  std::string reply;    // done: the result object
};

std::string encode(const person& p);
std::string encode(const idempotency_record& r);
std::string encode(const alert_record& r);
std::string encode(const channel_record& r);
std::string encode(const guidance_record& r);
std::string encode(const ack_record& r);
std::string encode(const member_record& r);
std::string encode(const template_record& r);
std::string encode(const person_record& r);
std::string encode(const receipt_record& r);
std::string encode(const activity_record& r);
std::string encode(const held_record& r);
std::string encode(const note_record& r);
std::string encode(const proposal_record& r);
std::string encode(const spike_record& r);

/// Each returns false (leaving `out` partly filled) when `json` is not such a record.
bool decode(std::string_view json, alert_record& out);
bool decode(std::string_view json, channel_record& out);
bool decode(std::string_view json, guidance_record& out);
bool decode(std::string_view json, ack_record& out);
bool decode(std::string_view json, member_record& out);
bool decode(std::string_view json, template_record& out);
bool decode(std::string_view json, idempotency_record& out);
bool decode(std::string_view json, person_record& out);
bool decode(std::string_view json, receipt_record& out);
bool decode(std::string_view json, activity_record& out);
bool decode(std::string_view json, held_record& out);
bool decode(std::string_view json, note_record& out);
bool decode(std::string_view json, spike_record& out);

/// The record in `json`, or none when it does not decode.
template <class Record>
std::optional<Record> decoded(std::string_view json) {
  Record r;
  if (!decode(json, r)) return std::nullopt;
  return r;
}

}  // namespace muster::server::crisis
