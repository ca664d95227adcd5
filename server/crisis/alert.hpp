#pragma once
// The alert domain without I/O: the claim/respond/resolve state machine, routing rules and
// escalation deadlines, all with the time passed in. Plain values; callers own the
// synchronisation (one engine holds each alert's authoritative copy).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace muster::server::crisis {

using time_point = std::chrono::system_clock::time_point;

/// Times on the wire and in stored records: milliseconds since the Unix epoch (0: never).
inline std::int64_t to_ms(time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
/// Clamped to what the clock holds (±292 years around 1970 in nanoseconds): a damaged or
/// foreign record's time must not overflow.
inline time_point from_ms(std::int64_t ms) {
  constexpr auto limit =
      std::chrono::duration_cast<std::chrono::milliseconds>(time_point::duration::max()).count();
  return time_point(std::chrono::milliseconds(std::clamp(ms, -limit, limit)));
}

/// A fresh id: `prefix`, '-', 18 hex digits: 11 of `now` in ms, 7 random ("a-19e70448800c07e41a").
std::string new_id(char prefix, time_point now);

/// sev1 is the most severe.
enum class severity { sev1 = 1, sev2, sev3, sev4 };
std::string_view severity_name(severity s) noexcept;
std::optional<severity> parse_severity(std::string_view s) noexcept;

enum class alert_status { open, claimed, responded, resolved, dismissed };
std::string_view status_name(alert_status s) noexcept;

/// What a bot reports about one social post or article.
struct alert_input {
  std::string source;  // x, mastodon, reddit, news, ...
  std::string url;
  std::string author;
  std::string text;
  crisis::severity severity = severity::sev3;
  std::string dedup_key;  // empty: the canonical URL (canonical_url.hpp)
  std::vector<std::string> tags;
  std::uint64_t reach = 0;
  std::uint64_t engagement = 0;
};

/// How many later texts an alert keeps (the newest; older ones drop out).
inline constexpr std::size_t max_later_texts = 10;

struct alert {
  std::string id;
  alert_input input;
  alert_status status = alert_status::open;
  std::string holder;  // who claimed it (subject)
  std::string reply_url;
  std::string reply_text;
  std::uint32_t count = 1;  // triggers folded into this alert
  /// Differing texts of later triggers, oldest first; the first text stays in input.text.
  std::vector<std::string> later_texts;
  time_point first_seen{};
  time_point last_seen{};
  time_point claimed_at{};
  time_point responded_at{};
  unsigned escalations = 0;  // escalation steps already raised
  /// When the current claim is released unless answered first (none: it does not expire).
  time_point claim_expires_at{};
  unsigned expired_claims = 0;  // claims released because they expired
  unsigned takeovers = 0;       // assignments that took the alert from another holder
  unsigned notes = 0;           // internal notes written on it
  unsigned reach_jumps = 0;     // triggers whose reach jumped (the post went viral)
};

/// An `http://` or `https://` URL (scheme in any case) with a host, and no space or control
/// character: what a client may open. Everything else (`javascript:`, `data:`, ...) is not.
bool is_web_url(std::string_view url);

enum class outcome {
  ok,
  already_claimed,  // someone else holds it
  not_claimed,      // respond/release without holding it
  invalid_state,    // e.g. claiming a resolved alert
  forbidden,        // e.g. releasing someone else's claim without being a lead
};
std::string_view outcome_name(outcome o) noexcept;

/// Transitions. `by_lead`: the actor may act on others' claims (assign, reassign, release).
/// `ttl`: how long a new claim lives without a response (0: for ever).
outcome claim(alert& a, const std::string& who, time_point now, std::chrono::seconds ttl = {});
outcome release(alert& a, const std::string& who, bool by_lead);
outcome assign(alert& a, const std::string& to, time_point now, std::chrono::seconds ttl = {});
outcome respond(alert& a, const std::string& who, std::string reply_url, std::string reply_text,
                bool by_lead, time_point now);
outcome resolve(alert& a, const std::string& who, bool by_lead);
outcome dismiss(alert& a, bool by_lead);

/// Releases a claim whose time ran out without a response: true (the alert is `open` again,
/// its holder gone, `expired_claims` counted) when it was due at `now`.
bool expire_claim(alert& a, time_point now);

/// When a repeat trigger's reach says the post is going viral.
struct viral_policy {
  double factor = 0;            // new reach >= factor × the reach known before (0: never)
  std::uint64_t min_reach = 0;  // ...and at least this much
};

/// A trigger with the key of an alert that is not resolved updates it; returns true when its
/// severity rose (the alert should be announced again). A reach jump by `viral` counts in
/// `reach_jumps` and raises the severity one step more than the trigger's (sev1 stays).
bool fold_trigger(alert& a, const alert_input& again, time_point now,
                  const viral_policy& viral = {});

/// Deadlines per severity.
struct escalation_policy {
  std::map<severity, std::chrono::seconds> escalate_after;  // still open after this
  std::map<severity, std::chrono::seconds> respond_within;  // claimed, no response after this
  std::map<severity, std::chrono::seconds> claim_ttl;       // claimed, no response: released then
  /// How long a claim of an alert of severity `s` lives (0: for ever).
  std::chrono::seconds claim_ttl_of(severity s) const {
    auto it = claim_ttl.find(s);
    return it == claim_ttl.end() ? std::chrono::seconds{} : it->second;
  }
};
/// The next escalation step an alert can reach as it stands, and when it is due.
struct escalation_step {
  unsigned step = 0;  // 1: unclaimed too long, 2: claimed but not answered
  time_point at;
};
/// None when no step is pending: closed, responded, or its step already raised.
std::optional<escalation_step> next_escalation(const alert& a, const escalation_policy& p);
/// The escalation step due now, or none when nothing new is due; a step is raised once (record
/// it with `a.escalations = step`).
std::optional<unsigned> escalation_due(const alert& a, const escalation_policy& p, time_point now);

/// One routing rule: every non-empty condition must hold; then the alert goes to `channels`.
struct route_rule {
  std::vector<std::string> sources;
  std::vector<std::string> tags;         // any of them
  std::vector<std::string> keywords;     // any of them, case-insensitive, in the text
  std::optional<severity> min_severity;  // at least this severe (sev1 >= sev2 ...)
  std::vector<std::string> channels;
};
/// Channels for `in`: the union of every matching rule's, or `{fallback}` when none match.
std::vector<std::string> route(const alert_input& in, const std::vector<route_rule>& rules,
                               const std::string& fallback);

}  // namespace muster::server::crisis
