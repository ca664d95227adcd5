#pragma once
// The post-crisis report (PROTOCOL.md 20.5) without I/O: a report_builder is fed a channel's
// timeline one JSON Lines record at a time and builds a typed report, which one renderer per
// format turns into JSON, a self-contained HTML page or CSV. Plain values; a builder is used
// by one thread at a time (parsing uses a parser per thread).
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/crisis/options.hpp"
#include "server/crisis/records.hpp"

namespace muster::server::crisis {

/// Count, median and p90 of a set of durations, and how many fall in each fixed bucket.
struct report_duration {
  /// Upper bounds (exclusive) of the histogram's buckets; the last bucket has none.
  static constexpr std::array<std::int64_t, 4> bounds_ms{60'000, 300'000, 900'000, 3'600'000};
  std::uint64_t count = 0;
  std::int64_t median_ms = -1;  // -1: no sample
  std::int64_t p90_ms = -1;
  std::array<std::uint64_t, bounds_ms.size() + 1> histogram{};
};
/// Median as stats (mean of the middle two, truncated) and nearest-rank p90; -1 when empty.
report_duration summarize(std::vector<std::int64_t> samples);

/// New alerts in one time bucket, by severity at creation (index 0: sev1).
struct report_bucket {
  std::int64_t start = 0;
  std::array<std::uint64_t, 4> by_severity{};
};

/// One `channel.spike` event.
struct report_spike {
  std::uint64_t offset = 0;
  std::int64_t at = 0;
  double rate = 0, baseline_rate = 0, factor = 0, reach_factor = 0;
  bool by_reach = false;
  std::uint64_t alerts_in_window = 0;
  bool severity_raised = false;
};

struct report_volume {
  std::int64_t bucket_ms = 60'000;
  std::vector<report_bucket> buckets{};  // consecutive, the first aligned to bucket_ms
  std::vector<report_spike> spikes{};
};

struct report_escalations {
  std::uint64_t total = 0;                           // alert.escalated events
  std::map<std::string, std::uint64_t> by_step{};    // "1", "2" (always present)
  std::map<std::string, std::uint64_t> by_reason{};  // "unclaimed", "no_response" (always present)
  std::uint64_t alerts = 0;                          // distinct alerts escalated
  std::vector<std::string> alert_ids{};              // the first max_listed of them, in order
};

struct report_duplicates {
  std::uint64_t triggers = 0;  // sum of the alerts' final count
  std::uint64_t alerts = 0;
  std::uint64_t folded = 0;  // triggers - alerts
  std::uint64_t alerts_with_duplicates = 0;
};

/// Cumulative acknowledgements of one version `after_ms` after it was made.
struct report_ack_point {
  std::int64_t after_ms = 0;
  std::uint64_t acks = 0;
};

struct report_guidance_version {
  unsigned version = 1;
  std::string title{};
  std::int64_t at = 0;  // when it was posted or revised
  person by{};
  std::string changes{};
  std::uint64_t acks = 0;
  std::int64_t median_ack_delay_ms = -1;
  std::vector<report_ack_point> curve{};  // ordered by after_ms
};

struct report_guidance {
  std::string id{};
  std::string kind{};
  std::optional<std::string> supersedes{};
  bool superseded = false;  // a later post of its kind replaced it as pinned
  std::uint64_t reminders = 0, overdue = 0;
  std::vector<report_guidance_version> versions{};  // oldest first
};

struct report_approvals {
  std::uint64_t proposals = 0;  // distinct proposals seen
  std::uint64_t approved = 0, auto_approved = 0, edited = 0;
  std::uint64_t rejected = 0, withdrawn = 0, pending = 0;  // by final state
  std::uint64_t overdue = 0;                               // alert.approval_overdue events
  report_duration delay;                                   // decided_at - at of decisions
};

struct report_person {
  std::string user{}, name{};
  std::int64_t score = 0;
  std::uint64_t claimed = 0, responded = 0;
  std::int64_t median_response_ms = -1;
  std::uint64_t acks = 0;
  std::int64_t median_ack_delay_ms = -1;
  std::uint64_t under_superseded = 0, expired_claims = 0;
  std::uint64_t proposals_approved = 0, proposals_rejected = 0;
};

struct report_drill_target {
  std::string name{};  // first_claim_s, answered_share, ack_share
  double target = 0, measured = 0;
  bool met = false;
};

struct report_drill {
  std::vector<report_drill_target> targets{};
  double score = 0;  // met targets / targets
};

/// An alert's final state (from its last event in the timeline).
struct report_alert {
  std::string id{};
  std::int64_t first_seen = 0;
  severity sev = severity::sev3;
  alert_status status = alert_status::open;
  std::string source{}, url{}, author{};
  std::uint64_t reach = 0;
  std::uint64_t count = 1;
  person holder{};
  std::int64_t claimed_at = 0, responded_at = 0;
  person responder{};
  std::string reply_url{};
  unsigned escalations = 0;
  bool drill = false;
};

struct report {
  std::string channel{}, title{};
  severity sev = severity::sev3;
  std::string status = "open";
  bool drill = false;
  std::int64_t generated_at = 0;
  std::uint64_t first_offset = 0, last_offset = 0;
  std::int64_t from = 0, to = 0;
  std::uint64_t events = 0;
  report_volume volume;
  report_duration time_to_claim, time_to_respond;
  report_escalations escalations;
  report_duplicates duplicates;
  std::vector<report_guidance> guidance{};  // in order of posting
  report_approvals approvals;
  std::vector<report_person> people{};        // best score first
  std::optional<report_drill> drill_scoring;  // only for a drill channel
  std::vector<report_alert> alerts{};         // by first_seen, then id
};

/// What the report needs besides the timeline: the time, and the drill targets (config).
struct report_inputs {
  std::int64_t now_ms = 0;
  drill_targets drill{};
};

inline constexpr std::size_t report_max_listed = 100;  // escalated alert ids listed

class report_builder {
 public:
  report_builder();
  ~report_builder();
  report_builder(report_builder&&) noexcept;
  report_builder& operator=(report_builder&&) noexcept;

  /// One timeline line (an event frame). Every event frame counts in events, offsets and
  /// times; true when it was a crisis event the report uses (messages, unknown events and
  /// lines that are not event frames are skipped).
  bool add(std::string_view line);
  /// Event frames seen so far.
  std::uint64_t events() const;
  report build(const report_inputs& in) const;

  struct state;  // opaque: defined and used in report.cpp only

 private:
  std::unique_ptr<state> s_;
};

enum class report_format { json, html, csv };
/// "json" (also empty), "html", "csv"; none for anything else.
std::optional<report_format> parse_report_format(std::string_view s);
std::string_view content_type(report_format f);

std::string render_json(const report& r);
std::string render_html(const report& r);
std::string render_csv(const report& r);
std::string render(const report& r, report_format f);

/// "2026-01-01T08:59:00.000Z" (RFC 3339, UTC, milliseconds); "" for 0 (never).
std::string rfc3339(std::int64_t ms);

}  // namespace muster::server::crisis
