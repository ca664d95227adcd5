#pragma once
// Alerts after ingestion: the claim/release/assign/respond/resolve/dismiss verbs over the alert
// state machine, reads, and what follows every committed change (the escalation deadline and
// copies of the events for the alert's other channels). Callable from any thread.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "protocol/json_writer.hpp"
#include "server/crisis/records.hpp"
#include "server/crisis/request.hpp"

namespace muster::server::crisis::alerts {

/// What one change of an alert announces.
struct change {
  std::vector<std::string> events;        // event names, in order; none: nothing changed
  bool severity_raised = false;           // a folded trigger raised it: clients notify again
  bool viral = false;                     // ...and its reach jumped (spike.viral_reach_factor)
  std::optional<unsigned> step;           // an escalation: its step (and reason) go in the events
  std::string_view reason;                // alert.released: "released" or "expired"
  std::optional<person> previous;         // released, assigned: who held it before (may be nobody)
  std::vector<doc_write> writes;          // further documents of the alert's channel (a note)
  std::string note;                       // alert.noted: the note (JSON), also in the events
  std::string proposal;                   // approval events: the proposal (JSON)
  std::optional<std::int64_t> waited_ms;  // alert.approval_overdue: how long it has waited
};
/// Changes `rec` in place (or returns an error to stop with).
using change_fn = std::function<std::optional<result>(alert_record& rec, change& c)>;

/// Members a caller adds to the reply of a committed change.
using reply_members_fn = std::function<void(protocol::json_writer& w, const change& c)>;
/// Applies `fn` to alert `id` of `channel` by compare-and-set and appends its events; replies
/// `{"alert":...,"changed":...,"offset":...}` (+ `more` when a change was committed).
void modify(context& ctx, const std::string& channel, const std::string& id, const actor& who,
            change_fn fn, done_fn done, reply_members_fn more = nullptr);
/// After a committed change: copies of its events for the other routed channels (its index
/// changes went with the commit, or were written before the reply: store::modify).
void after_commit(context& ctx, const alert_record& rec, const std::vector<event_spec>& events);
/// Drops the dedup entries of closed alert `id` once its dedup window passed (scheduler);
/// `next` runs afterwards.
void forget_dedup(context& ctx, const std::string& channel, const std::string& id,
                  std::function<void()> next);
/// Moves the alert's due entry from `seen` (what the scheduler found) to its next deadline, or
/// removes it when none is left: only if the entry still says `seen`.
void refile(context& ctx, const alert_record& rec, std::int64_t seen);
/// Records the alert's next escalation step (the `next_escalation` clients see); before every
/// write of the alert.
void stamp(const context& ctx, alert_record& rec);
/// The alert's next deadline in the due index (set, or removed when none is due).
index_write deadline(const context& ctx, const alert_record& rec);
/// What the indexes must say after this state of the alert is stored: its deadline, and when
/// its dedup entries go once it is closed. In the alert's commit where the engine can.
std::vector<index_write> index_changes(const context& ctx, const alert_record& rec);
/// `{"alert":<alert>,"by":<person>[,"severity_raised":true][,"step":N,"reason":"..."]
/// [,"reason":"released"|"expired"][,"previous":<person>][,"note":<note>]
/// [,"proposal":<proposal>][,"waited_ms":N]}`
std::string event_data(std::string_view alert_json, const person& by, const change& c);
/// "unclaimed" (step 1) or "no_response" (step 2).
std::string_view escalation_reason(unsigned step);

bool finished(alert_status s);

// Commands: rows of the command table.
/// alert.claim, .release, .assign, .respond, .resolve, .dismiss: one table of verbs
/// {command, event, fields, transition} over the alert state machine.
void act(context& ctx, request& r, done_fn done);
void get(context& ctx, request& r, done_fn done);
void list(context& ctx, request& r, done_fn done);
/// alert.note: an internal note on the alert, in its timeline.
void note(context& ctx, request& r, done_fn done);

}  // namespace muster::server::crisis::alerts
