// The report as one self-contained HTML page: inline CSS, inline SVG charts, no script, no
// request of any kind (the server sends it with a CSP that forbids them). Every text from the
// timeline is escaped; only http(s) URLs become links.
#include <algorithm>
#include <cstdio>
#include <iterator>

#include "server/crisis/report.hpp"
#include "server/crisis/report_svg.hpp"

namespace muster::server::crisis {

using svg::escape;

namespace {

constexpr std::string_view style = R"css(
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2328;background:#f6f7f9}
main{max-width:980px;margin:0 auto;padding:24px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{font-size:16px;margin:16px 0 6px}
.meta{color:#424a53;margin:2px 0}.badge{display:inline-block;padding:1px 8px;border-radius:10px;background:#1f2328;color:#fff;font-size:13px}
.badge.drill{background:#6d28d9}.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px;margin:0}
.cards div{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:10px}.cards dt{color:#424a53;font-size:13px}
.cards dd{margin:0;font-size:22px;font-weight:600}
.wide{overflow-x:auto}table{border-collapse:collapse;width:100%;background:#fff;font-size:14px;margin:6px 0}
.nw{white-space:nowrap}
th,td{border:1px solid #d0d7de;padding:4px 6px;text-align:left;vertical-align:top}th{background:#eef1f4}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.chart{width:100%;height:auto;background:#fff;border:1px solid #d0d7de;border-radius:8px}
.chart .axis{stroke:#57606a;stroke-width:1}.chart .tick{font-size:11px;fill:#424a53}
.chart .end{text-anchor:end}.chart .mid{text-anchor:middle}.chart .spike{fill:#b91c1c}
.chart .curve{fill:none;stroke:#1d4ed8;stroke-width:2}
.legend span{display:inline-block;margin-right:12px;font-size:13px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
.met{color:#116329;font-weight:600}.missed{color:#a40e26;font-weight:600}
a{color:#0550ae}
)css";

constexpr const char* severity_colors[] = {"#b91c1c", "#c2410c", "#a16207", "#4b5563"};
constexpr const char* bucket_labels[] = {"< 1 min", "1–5 min", "5–15 min", "15–60 min", "> 60 min"};

// "2026-01-01 08:59 UTC"; "—" for never.
std::string when(std::int64_t ms) {
  auto t = rfc3339(ms);
  if (t.size() < 16) return "—";
  return t.substr(0, 10) + " " + t.substr(11, 5) + " UTC";
}
std::string clock_of(std::int64_t ms) {
  auto t = rfc3339(ms);
  return t.size() < 16 ? "—" : t.substr(11, 5);
}

// "45 s", "3 min 20 s", "2 h 5 min"; "—" when unknown (-1).
std::string span(std::int64_t ms) {
  if (ms < 0) return "—";
  auto s = ms / 1000;
  char buf[48];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%lld min %lld s", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld h %lld min", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  return buf;
}

// "5 min", "3 h", "2 d".
std::string bucket_name(std::int64_t ms) {
  if (ms < 60'000) return std::to_string(ms / 1000) + " s";
  auto m = ms / 60'000;
  if (m < 60) return std::to_string(m) + " min";
  if (m < 1440) return std::to_string(m / 60) + " h";
  return std::to_string(m / 1440) + " d";
}

std::string fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string who(const person& p) {
  return p.empty() ? "—" : escape(p.name.empty() ? p.user : p.name);
}

std::string link(std::string_view url) {
  if (!is_web_url(url)) return escape(url);
  auto u = escape(url);
  return "<a href=\"" + u + "\" rel=\"noreferrer noopener\">" + u + "</a>";
}

// A table from a header row and body rows of already-escaped cells (numeric marks a number).
// Marks a cell as a number; escaped text never starts with '<' (only the page's own markup).
constexpr std::string_view numeric = "<n>";

std::string table(std::string_view caption, const std::vector<std::string>& head,
                  const std::vector<std::vector<std::string>>& rows) {
  std::string s = "<div class=\"wide\"><table><caption class=\"meta\">" + escape(caption) +
                  "</caption><thead><tr>";
  for (const auto& h : head) s += "<th scope=\"col\">" + escape(h) + "</th>";
  s += "</tr></thead><tbody>";
  for (const auto& r : rows) {
    s += "<tr>";
    for (const auto& c : r)
      s += c.starts_with(numeric) ? "<td class=\"n\">" + c.substr(numeric.size()) + "</td>"
                                  : "<td>" + c + "</td>";
    s += "</tr>";
  }
  return s + "</tbody></table></div>";
}
std::string n(std::uint64_t v) {
  return std::string(numeric) + std::to_string(v);
}

std::string nowrap(const std::string& html) {
  return "<span class=\"nw\">" + html + "</span>";
}

std::string card(std::string_view label, const std::string& value) {
  return "<div><dt>" + escape(label) + "</dt><dd>" + value + "</dd></div>";
}

std::string header(const report& r) {
  std::string s = "<header><h1>" + escape(r.title.empty() ? r.channel : r.title) + "</h1>";
  s += "<p class=\"meta\">Channel <strong>" + escape(r.channel) + "</strong> · " +
       std::string(severity_name(r.sev)) + " · " + escape(r.status);
  if (r.drill) s += " · <span class=\"badge drill\">Drill</span>";
  s += "</p><p class=\"meta\">" + when(r.from) + " to " + when(r.to) + " · " +
       std::to_string(r.events) + " events (offsets " + std::to_string(r.first_offset) + "–" +
       std::to_string(r.last_offset) + ") · generated " + when(r.generated_at) + "</p></header>";
  return s;
}

std::string summary(const report& r) {
  std::string s = "<section aria-labelledby=\"summary\"><h2 id=\"summary\">Summary</h2>";
  s += "<dl class=\"cards\">";
  s += card("Alerts", std::to_string(r.duplicates.alerts));
  s += card("Triggers", std::to_string(r.duplicates.triggers));
  s += card("Duplicates folded", std::to_string(r.duplicates.folded));
  s += card("Escalations", std::to_string(r.escalations.total));
  s += card("Spikes", std::to_string(r.volume.spikes.size()));
  s += card("Median time to claim", span(r.time_to_claim.median_ms));
  s += card("Median time to respond", span(r.time_to_respond.median_ms));
  s += card("Guidance posts", std::to_string(r.guidance.size()));
  return s + "</dl></section>";
}

std::string volume(const report& r) {
  std::vector<std::string> labels;
  for (const auto& b : r.volume.buckets) labels.push_back(clock_of(b.start));
  std::vector<svg::layer> layers;
  std::string legend = "<p class=\"legend\">";
  for (std::size_t i = 0; i < 4; ++i) {
    svg::layer l{std::string(severity_name(static_cast<severity>(i + 1))), severity_colors[i], {}};
    for (const auto& b : r.volume.buckets) l.values.push_back(b.by_severity[i]);
    legend += "<span><i style=\"background:" + l.color + "\"></i>" + l.name + "</span>";
    layers.push_back(std::move(l));
  }
  std::vector<svg::marker> marks;
  std::vector<std::vector<std::string>> rows;
  for (const auto& sp : r.volume.spikes) {
    auto start = r.volume.buckets.empty() ? 0 : r.volume.buckets.front().start;
    auto bar =
        static_cast<std::size_t>(std::max<std::int64_t>(0, sp.at - start) / r.volume.bucket_ms);
    marks.push_back({bar, "Spike at " + when(sp.at) + ": ×" + fixed(sp.factor, 1)});
    rows.push_back({when(sp.at), std::string(numeric) + fixed(sp.rate, 1),
                    std::string(numeric) + fixed(sp.baseline_rate, 1),
                    std::string(numeric) + fixed(sp.factor, 1), sp.by_reach ? "reach" : "alerts",
                    n(sp.alerts_in_window), sp.severity_raised ? "yes" : "no"});
  }
  std::string s = "<section aria-labelledby=\"volume\"><h2 id=\"volume\">Volume over time</h2>";
  s += "<p class=\"meta\">New alerts per " + bucket_name(r.volume.bucket_ms) +
       " by severity at creation; ▼ marks a spike.</p>";
  s += svg::stacked_bars("New alerts over time by severity", labels, layers, marks);
  s += legend + "</p>";
  if (!rows.empty())
    s += table("Spikes",
               {"At", "Alerts/h", "Baseline/h", "Factor", "By", "In window", "Severity raised"},
               rows);
  return s + "</section>";
}

std::string duration_block(std::string_view title, const report_duration& d,
                           std::string_view color) {
  std::string s = "<h3>" + escape(title) + "</h3><p class=\"meta\">" + std::to_string(d.count) +
                  " alerts · median " + span(d.median_ms) + " · p90 " + span(d.p90_ms) + "</p>";
  std::vector<std::string> labels(std::begin(bucket_labels), std::end(bucket_labels));
  std::vector<std::uint64_t> values(d.histogram.begin(), d.histogram.end());
  return s + svg::bars(std::string(title) + " histogram", labels, values, color);
}

std::string speed(const report& r) {
  std::string s = "<section aria-labelledby=\"speed\"><h2 id=\"speed\">Speed</h2>";
  s += duration_block("Time to claim", r.time_to_claim, "#1d4ed8");
  s += duration_block("Time to respond", r.time_to_respond, "#047857");
  return s + "</section>";
}

std::string escalations(const report& r) {
  const auto& e = r.escalations;
  auto count = [](const std::map<std::string, std::uint64_t>& m, const std::string& k) {
    auto it = m.find(k);
    return it == m.end() ? std::uint64_t{0} : it->second;
  };
  std::string s = "<section aria-labelledby=\"esc\"><h2 id=\"esc\">Escalations</h2>";
  s += table("Escalations by step", {"Step 1 (unclaimed)", "Step 2 (no response)", "Alerts"},
             {{n(count(e.by_step, "1")), n(count(e.by_step, "2")), n(e.alerts)}});
  std::string ids;
  for (const auto& id : e.alert_ids) ids += (ids.empty() ? "" : ", ") + escape(id);
  if (!ids.empty()) s += "<p class=\"meta\">Escalated: " + ids + "</p>";
  return s + "</section>";
}

std::string guidance(const report& r) {
  std::string s = "<section aria-labelledby=\"guidance\"><h2 id=\"guidance\">Guidance</h2>";
  if (r.guidance.empty()) s += "<p>No guidance was posted.</p>";
  for (const auto& g : r.guidance) {
    s += "<h3>" + escape(g.versions.empty() ? g.id : g.versions.back().title) + " <span " +
         "class=\"meta\">(" + escape(g.kind) + (g.superseded ? ", superseded" : "") + ", " +
         std::to_string(g.reminders) + " reminders, " + std::to_string(g.overdue) +
         " overdue)</span></h3>";
    std::vector<std::vector<std::string>> rows;
    for (const auto& v : g.versions)
      rows.push_back({n(v.version), escape(v.title), when(v.at), who(v.by), escape(v.changes),
                      n(v.acks), span(v.median_ack_delay_ms)});
    s += table("Versions", {"Version", "Title", "At", "By", "Changes", "Acks", "Median delay"},
               rows);
    for (const auto& v : g.versions) {
      std::vector<std::pair<std::int64_t, std::uint64_t>> pts;
      for (const auto& p : v.curve) pts.emplace_back(p.after_ms, p.acks);
      s += svg::step_line("Acknowledgements of version " + std::to_string(v.version) + " of " +
                              (v.title.empty() ? g.id : v.title) + " over time",
                          pts);
    }
  }
  return s + "</section>";
}

std::string approvals(const report& r) {
  const auto& a = r.approvals;
  std::string s = "<section aria-labelledby=\"approvals\"><h2 id=\"approvals\">Approvals</h2>";
  s += table("Reply proposals",
             {"Proposals", "Approved", "Auto", "Edited", "Rejected", "Withdrawn", "Pending",
              "Overdue", "Median delay", "p90 delay"},
             {{n(a.proposals), n(a.approved), n(a.auto_approved), n(a.edited), n(a.rejected),
               n(a.withdrawn), n(a.pending), n(a.overdue), span(a.delay.median_ms),
               span(a.delay.p90_ms)}});
  return s + "</section>";
}

std::string people(const report& r) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : r.people)
    rows.push_back({escape(p.name.empty() ? p.user : p.name),
                    std::string(numeric) + std::to_string(p.score), n(p.claimed), n(p.responded),
                    span(p.median_response_ms), n(p.acks), span(p.median_ack_delay_ms),
                    n(p.under_superseded), n(p.expired_claims), n(p.proposals_approved),
                    n(p.proposals_rejected)});
  std::string s = "<section aria-labelledby=\"people\"><h2 id=\"people\">People</h2>";
  s += "<p class=\"meta\">Score: 10 per response (5 after escalation), 2 per ack within 10 min "
       "(else 1), +2 per alert with a proposal a lead approved unedited, −2 per rejected, −3 per "
       "expired claim, −1 "
       "per reply under superseded guidance; never below 0.</p>";
  s += table("People by score",
             {"Name", "Score", "Claimed", "Responded", "Median response", "Acks",
              "Median ack delay", "Under superseded", "Expired claims", "Approved", "Rejected"},
             rows);
  return s + "</section>";
}

std::string drill(const report& r) {
  if (!r.drill_scoring) return {};
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : r.drill_scoring->targets)
    rows.push_back(
        {escape(t.name), std::string(numeric) + fixed(t.target, 2),
         std::string(numeric) + fixed(t.measured, 2),
         t.met ? "<span class=\"met\">met</span>" : "<span class=\"missed\">missed</span>"});
  std::string s = "<section aria-labelledby=\"drill\"><h2 id=\"drill\">Drill score: " +
                  fixed(r.drill_scoring->score * 100, 0) + "%</h2>";
  return s + table("Drill targets", {"Target", "Goal", "Measured", "Result"}, rows) + "</section>";
}

std::string alerts(const report& r) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& a : r.alerts)
    rows.push_back({nowrap(escape(a.id)), nowrap(when(a.first_seen)),
                    std::string(severity_name(a.sev)), std::string(status_name(a.status)),
                    escape(a.source), link(a.url), escape(a.author), n(a.reach), n(a.count),
                    who(a.holder), who(a.responder), link(a.reply_url), n(a.escalations)});
  std::string s = "<section aria-labelledby=\"alerts\"><h2 id=\"alerts\">Alerts</h2>";
  return s +
         table("Every alert, final state",
               {"Id", "First seen", "Severity", "Status", "Source", "URL", "Author", "Reach",
                "Count", "Holder", "Responder", "Reply", "Escalations"},
               rows) +
         "</section>";
}

}  // namespace

std::string render_html(const report& r) {
  std::string s = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">";
  s += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";
  s += "<title>Report: " + escape(r.title.empty() ? r.channel : r.title) + "</title>";
  s += "<style>" + std::string(style) + "</style></head><body><main>";
  s += header(r) + summary(r) + volume(r) + speed(r) + escalations(r) + guidance(r) + approvals(r) +
       people(r) + drill(r) + alerts(r);
  return s + "</main></body></html>\n";
}

}  // namespace muster::server::crisis
