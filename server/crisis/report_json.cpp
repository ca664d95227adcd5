// The report as JSON (PROTOCOL.md 20.5): the typed report, member by member.
#include <cmath>
#include <cstdio>

#include "protocol/json_writer.hpp"
#include "server/crisis/report.hpp"

namespace muster::server::crisis {

using protocol::json_writer;

namespace {

// JSON has no NaN or infinity; six significant digits are plenty for rates and shares.
json_writer& real(json_writer& w, std::string_view key, double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", std::isfinite(v) ? v : 0.0);
  return w.raw_field(key, buf);
}

void write_person(json_writer& w, const person& p) {
  if (p.empty()) {
    w.null();
    return;
  }
  w.begin_object().field("user", p.user).field("name", p.name).end_object();
}

void write_duration(json_writer& w, const report_duration& d) {
  w.begin_object().field("count", d.count).field("median_ms", d.median_ms);
  w.field("p90_ms", d.p90_ms).key("histogram").begin_array();
  std::int64_t lower = 0;
  for (std::size_t i = 0; i < d.histogram.size(); ++i) {
    w.begin_object().field("from_ms", lower).key("to_ms");
    if (i < report_duration::bounds_ms.size()) {
      lower = report_duration::bounds_ms[i];
      w.int64(lower);
    } else {
      w.null();
    }
    w.field("count", d.histogram[i]).end_object();
  }
  w.end_array().end_object();
}

void write_volume(json_writer& w, const report_volume& v) {
  w.begin_object().field("bucket_ms", v.bucket_ms).key("buckets").begin_array();
  for (const auto& b : v.buckets) {
    w.begin_object().field("start", b.start);
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < b.by_severity.size(); ++i) {
      w.field(severity_name(static_cast<severity>(i + 1)), b.by_severity[i]);
      total += b.by_severity[i];
    }
    w.field("total", total).end_object();
  }
  w.end_array().key("spikes").begin_array();
  for (const auto& s : v.spikes) {
    w.begin_object().field("offset", s.offset).field("at", s.at);
    real(w, "rate", s.rate);
    real(w, "baseline_rate", s.baseline_rate);
    real(w, "factor", s.factor);
    real(w, "reach_factor", s.reach_factor);
    w.field("by_reach", s.by_reach).field("alerts_in_window", s.alerts_in_window);
    w.field("severity_raised", s.severity_raised).end_object();
  }
  w.end_array().end_object();
}

void write_counts(json_writer& w, const std::map<std::string, std::uint64_t>& m) {
  w.begin_object();
  for (const auto& [k, n] : m) w.field(k, n);
  w.end_object();
}

void write_escalations(json_writer& w, const report_escalations& e) {
  auto steps = e.by_step;
  auto reasons = e.by_reason;
  for (auto k : {"1", "2"}) steps.try_emplace(k, 0);
  for (auto k : {"unclaimed", "no_response"}) reasons.try_emplace(k, 0);
  w.begin_object().field("total", e.total);
  write_counts(w.key("by_step"), steps);
  write_counts(w.key("by_reason"), reasons);
  w.field("alerts", e.alerts).key("alert_ids").strings(e.alert_ids).end_object();
}

void write_version(json_writer& w, const report_guidance_version& v) {
  w.begin_object().field("version", v.version).field("title", v.title).field("at", v.at);
  write_person(w.key("by"), v.by);
  w.field("changes", v.changes).field("acks", v.acks);
  w.field("median_ack_delay_ms", v.median_ack_delay_ms).key("curve").begin_array();
  for (const auto& p : v.curve)
    w.begin_object().field("after_ms", p.after_ms).field("acks", p.acks).end_object();
  w.end_array().end_object();
}

void write_guidance(json_writer& w, const std::vector<report_guidance>& all) {
  w.begin_array();
  for (const auto& g : all) {
    w.begin_object().field("id", g.id).field("kind", g.kind).key("supersedes");
    if (g.supersedes)
      w.string(*g.supersedes);
    else
      w.null();
    w.field("superseded", g.superseded).field("reminders", g.reminders);
    w.field("overdue", g.overdue).key("versions").begin_array();
    for (const auto& v : g.versions) write_version(w, v);
    w.end_array().end_object();
  }
  w.end_array();
}

void write_approvals(json_writer& w, const report_approvals& a) {
  w.begin_object().field("proposals", a.proposals).field("approved", a.approved);
  w.field("auto_approved", a.auto_approved).field("edited", a.edited);
  w.field("rejected", a.rejected).field("withdrawn", a.withdrawn).field("pending", a.pending);
  w.field("overdue", a.overdue);
  write_duration(w.key("delay"), a.delay);
  w.end_object();
}

void write_people(json_writer& w, const std::vector<report_person>& people) {
  w.begin_array();
  for (const auto& p : people) {
    w.begin_object().field("user", p.user).field("name", p.name).field("score", p.score);
    w.field("claimed", p.claimed).field("responded", p.responded);
    w.field("median_response_ms", p.median_response_ms).field("acks", p.acks);
    w.field("median_ack_delay_ms", p.median_ack_delay_ms);
    w.field("under_superseded", p.under_superseded).field("expired_claims", p.expired_claims);
    w.field("proposals_approved", p.proposals_approved);
    w.field("proposals_rejected", p.proposals_rejected).end_object();
  }
  w.end_array();
}

void write_drill(json_writer& w, const std::optional<report_drill>& d) {
  if (!d) {
    w.null();
    return;
  }
  w.begin_object();
  real(w, "score", d->score).key("targets").begin_array();
  for (const auto& t : d->targets) {
    w.begin_object().field("name", t.name);
    real(w, "target", t.target);
    real(w, "measured", t.measured);
    w.field("met", t.met).end_object();
  }
  w.end_array().end_object();
}

void write_alerts(json_writer& w, const std::vector<report_alert>& alerts) {
  w.begin_array();
  for (const auto& a : alerts) {
    w.begin_object().field("id", a.id).field("first_seen", a.first_seen);
    w.field("severity", severity_name(a.sev)).field("status", status_name(a.status));
    w.field("source", a.source).field("url", a.url).field("author", a.author);
    w.field("reach", a.reach).field("count", a.count);
    write_person(w.key("holder"), a.holder);
    w.field("claimed_at", a.claimed_at).field("responded_at", a.responded_at);
    write_person(w.key("responder"), a.responder);
    w.field("reply_url", a.reply_url).field("escalations", a.escalations);
    w.field("drill", a.drill).end_object();
  }
  w.end_array();
}

}  // namespace

std::string render_json(const report& r) {
  json_writer w;
  w.begin_object().field("channel", r.channel).field("title", r.title);
  w.field("severity", severity_name(r.sev)).field("status", r.status).field("drill", r.drill);
  w.field("generated_at", r.generated_at).field("first_offset", r.first_offset);
  w.field("last_offset", r.last_offset).field("from", r.from).field("to", r.to);
  w.field("events", r.events);
  write_volume(w.key("volume"), r.volume);
  write_duration(w.key("time_to_claim"), r.time_to_claim);
  write_duration(w.key("time_to_respond"), r.time_to_respond);
  write_escalations(w.key("escalations"), r.escalations);
  const auto& d = r.duplicates;
  w.key("duplicates").begin_object().field("triggers", d.triggers).field("alerts", d.alerts);
  w.field("folded", d.folded).field("alerts_with_duplicates", d.alerts_with_duplicates);
  w.end_object();
  write_guidance(w.key("guidance"), r.guidance);
  write_approvals(w.key("approvals"), r.approvals);
  write_people(w.key("people"), r.people);
  write_drill(w.key("drill_scoring"), r.drill_scoring);
  write_alerts(w.key("alerts"), r.alerts);
  return w.end_object().take();
}

}  // namespace muster::server::crisis
