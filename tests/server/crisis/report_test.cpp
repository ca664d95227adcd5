// The post-crisis report fed a hand-written timeline (no engine, no I/O): every number checked
// against values worked out by hand in the comments, and the renderers' escaping of hostile text.
#include "server/crisis/report.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "protocol/json_writer.hpp"

using namespace muster::server::crisis;

namespace {

constexpr std::int64_t t0 = 1767258000000;  // 2026-01-01T09:00:00Z, a whole 5 minutes
constexpr std::int64_t minute = 60'000;

std::string q(std::string_view s) {
  std::string out;
  muster::protocol::append_json_string(out, s);
  return out;
}
std::string who(std::string_view user, std::string_view name) {
  return "{\"user\":" + q(user) + ",\"name\":" + q(name) + "}";
}
const std::string ana = who("ana", "Ana"), ben = who("ben", "Ben"), lena = who("lena", "Lena");
const std::string cat = who("cat", "Cat");

// An alert object as PROTOCOL.md 15.1 describes it (plus drill and proposals).
struct alert_state {
  std::string id{}, sev = "sev3", status = "new", source = "x", url{}, author{};
  std::int64_t first_seen = 0, claimed_at = 0, responded_at = 0;
  std::string holder = "null", responder = "null", reply_url{}, guidance = "[]", proposals = "[]";
  int count = 1, escalations = 0, expired = 0;

  std::string json() const {
    return "{\"id\":" + q(id) + ",\"channel\":\"crisis.r\",\"channels\":[\"crisis.r\"]," +
           "\"status\":" + q(status) + ",\"source\":" + q(source) + ",\"url\":" + q(url) +
           ",\"author\":" + q(author) +
           ",\"text\":\"t\",\"later_texts\":[],\"severity\":" + q(sev) +
           ",\"dedup_key\":" + q(url) +
           ",\"tags\":[],\"metrics\":{\"reach\":100,\"engagement\":1}," +
           "\"occurred_at\":null,\"holder\":" + holder + ",\"responder\":" + responder +
           ",\"reply_url\":" + q(reply_url) +
           ",\"reply_text\":\"\",\"count\":" + std::to_string(count) +
           ",\"first_seen\":" + std::to_string(first_seen) +
           ",\"last_seen\":" + std::to_string(first_seen) +
           ",\"claimed_at\":" + std::to_string(claimed_at) +
           ",\"responded_at\":" + std::to_string(responded_at) +
           ",\"closed_at\":0,\"closed_by\":\"\",\"escalations\":" + std::to_string(escalations) +
           ",\"claim_expires_at\":0,\"expired_claims\":" + std::to_string(expired) +
           ",\"takeovers\":0,\"notes\":0,\"guidance\":" + guidance +
           ",\"drill\":true,\"proposals\":" + proposals + "}";
  }
};

std::string guidance(std::string_view id, std::string_view title, unsigned version,
                     std::int64_t posted_at, std::int64_t revised_at = 0,
                     std::string_view supersedes = "") {
  return "{\"id\":" + q(id) + ",\"channel\":\"crisis.r\",\"kind\":\"holding_statement\"," +
         "\"title\":" + q(title) + ",\"body\":\"b\",\"by\":" + lena +
         ",\"posted_at\":" + std::to_string(posted_at) +
         ",\"supersedes\":" + (supersedes.empty() ? "null" : q(supersedes)) +
         ",\"reminded\":false,\"version\":" + std::to_string(version) +
         ",\"revised_at\":" + std::to_string(revised_at) +
         ",\"revised_by\":" + (version > 1 ? lena : "null") +
         ",\"changes\":" + q(version > 1 ? "recall official" : "") +
         ",\"history\":[],\"ack_within_s\":0,\"ack_deadline\":0,\"overdue\":false}";
}

std::string ack(std::string_view g, const std::string& user, std::int64_t at, std::int64_t delay,
                unsigned version) {
  return "{\"guidance\":" + q(g) + ",\"kind\":\"holding_statement\",\"user\":" + q(user) +
         ",\"name\":" + q(user == "ana" ? "Ana" : "Ben") + ",\"at\":" + std::to_string(at) +
         ",\"delay_ms\":" + std::to_string(delay) + ",\"version\":" + std::to_string(version) + "}";
}

std::string proposal(std::string_view id, const std::string& by, std::int64_t at,
                     std::string_view state, std::int64_t decided_at = 0, bool edited = false,
                     bool automatic = false) {
  return "{\"id\":" + q(id) + ",\"text\":\"t\",\"url\":\"\",\"template\":\"\",\"by\":" + by +
         ",\"at\":" + std::to_string(at) + ",\"state\":" + q(state) +
         ",\"decided_by\":" + (decided_at ? lena : "null") +
         ",\"decided_at\":" + std::to_string(decided_at) +
         ",\"comment\":\"\",\"edited\":" + (edited ? "true" : "false") +
         ",\"auto\":" + (automatic ? "true" : "false") + ",\"overdue\":false}";
}

// A timeline being written: each event gets the next offset.
struct timeline {
  std::vector<std::string> lines;
  void add(std::string_view event, std::int64_t ts, const std::string& data) {
    lines.push_back("{\"event\":" + q(event) +
                    ",\"channel\":\"crisis.r\",\"offset\":" + std::to_string(lines.size() + 1) +
                    ",\"epoch\":\"e1\",\"ts\":" + std::to_string(ts) +
                    ",\"sender\":{\"client\":\"c-1\",\"name\":\"x\"},\"data\":" + data + "}");
  }
  void alert(std::string_view event, std::int64_t ts, const alert_state& a,
             const std::string& more = "") {
    add(event, ts, "{\"alert\":" + a.json() + more + "}");
  }
};

const std::string hostile_title = "Kettle <script>alert(1)</script> \"recall\" & 'more'";

// The crisis of the comments below, 37 events over 85 minutes.
timeline crisis() {
  timeline t;
  t.add("channel.created", t0,
        "{\"channel\":{\"channel\":\"crisis.r\",\"title\":" + q(hostile_title) +
            ",\"severity\":\"sev2\",\"status\":\"open\",\"created_by\":" + lena +
            ",\"created_at\":" + std::to_string(t0) + ",\"updated_at\":" + std::to_string(t0) +
            ",\"drill\":true},\"by\":" + lena + "}");
  alert_state a1{.id = "a-1",
                 .sev = "sev2",
                 .url = "https://x.com/brand/status/1",
                 .author = "=HYPERLINK(\"http://evil\",\"x\")",
                 .first_seen = t0};
  alert_state a2{.id = "a-2",
                 .source = "-x",
                 .url = "https://x.com/brand/status/2",
                 .author = "O'Brien, \"Bob\"\nline2",
                 .first_seen = t0 + minute};
  alert_state a3{.id = "a-3",
                 .sev = "sev1",
                 .url = "https://x.com/brand/status/3",
                 .author = "+cmd",
                 .first_seen = t0 + 2 * minute};
  alert_state a4{.id = "a-4",
                 .sev = "sev4",
                 .url = "javascript:alert(1)",
                 .author = "@sum",
                 .first_seen = t0 + 61 * minute};
  t.alert("alert.new", t0, a1);
  a1.status = "claimed", a1.holder = ana, a1.claimed_at = t0 + 30'000;
  t.alert("alert.claimed", t0 + 30'000, a1, ",\"by\":" + ana);
  t.alert("alert.new", t0 + minute, a2);
  t.add("guidance.posted", t0 + minute,
        "{\"guidance\":" + guidance("g-1", "Hold <b>", 1, t0 + minute) + "}");
  a1.count = 2;
  t.alert("alert.updated", t0 + 90'000, a1, ",\"by\":" + ana);
  t.alert("alert.new", t0 + 2 * minute, a3);
  t.add("guidance.acked", t0 + 2 * minute, ack("g-1", "ana", t0 + 2 * minute, minute, 1));
  a1.count = 3;
  t.alert("alert.updated", t0 + 150'000, a1, ",\"by\":" + ana);
  a3.status = "claimed", a3.holder = ana, a3.claimed_at = t0 + 3 * minute;
  t.alert("alert.claimed", t0 + 3 * minute, a3, ",\"by\":" + ana);
  t.add("message", t0 + 200'000, "{\"text\":\"I'll take the next one\"}");
  a1.status = "responded", a1.responder = ana, a1.responded_at = t0 + 270'000;
  a1.reply_url = "https://x.com/brand/status/1/reply?a=\"1\"&b=<2>";
  a1.guidance = R"([{"id":"g-1","kind":"holding_statement","version":1}])";
  t.alert("alert.responded", t0 + 270'000, a1, ",\"by\":" + ana);
  a3.status = "new", a3.holder = "null", a3.claimed_at = 0, a3.expired = 1;
  t.alert("alert.released", t0 + 10 * minute, a3,
          ",\"by\":{\"user\":\"muster\",\"name\":\"muster\"},\"reason\":\"expired\",\"previous\":" +
              ana);
  a3.status = "claimed", a3.holder = ben, a3.claimed_at = t0 + 12 * minute;
  t.alert("alert.assigned", t0 + 12 * minute, a3, ",\"by\":" + lena + ",\"previous\":null");
  a2.escalations = 1;
  t.alert("alert.escalated", t0 + 16 * minute, a2,
          ",\"by\":{\"user\":\"muster\",\"name\":\"muster\"},\"step\":1,\"reason\":\"unclaimed\"");
  a2.status = "claimed", a2.holder = ben, a2.claimed_at = t0 + 20 * minute;
  t.alert("alert.claimed", t0 + 20 * minute, a2, ",\"by\":" + ben);
  t.add("guidance.acked", t0 + 20 * minute, ack("g-1", "ben", t0 + 20 * minute, 19 * minute, 1));
  t.add("guidance.revised", t0 + 30 * minute,
        "{\"guidance\":" + guidance("g-1", "Hold v2", 2, t0 + minute, t0 + 30 * minute) +
            ",\"by\":" + lena + "}");
  t.add("guidance.acked", t0 + 31 * minute, ack("g-1", "ana", t0 + 31 * minute, minute, 2));
  a3.escalations = 2;
  t.alert(
      "alert.escalated", t0 + 40 * minute, a3,
      ",\"by\":{\"user\":\"muster\",\"name\":\"muster\"},\"step\":2,\"reason\":\"no_response\"");
  t.add("guidance.reminder", t0 + 40 * minute,
        "{\"guidance\":" + guidance("g-1", "Hold v2", 2, t0 + minute, t0 + 30 * minute) +
            ",\"pending\":[{\"user\":\"ben\",\"name\":\"Ben\",\"since\":1},{\"user\":\"cat\"," +
            "\"name\":\"Cat\",\"since\":1}],\"as_of\":" + std::to_string(t0 + 40 * minute) + "}");
  t.add("guidance.posted", t0 + 45 * minute,
        "{\"guidance\":" + guidance("g-2", "Hold new", 1, t0 + 45 * minute, 0, "g-1") + "}");
  t.add("guidance.acked", t0 + 46 * minute, ack("g-2", "ben", t0 + 46 * minute, minute, 1));
  a2.status = "responded", a2.responder = ben, a2.responded_at = t0 + 50 * minute;
  a2.guidance = R"([{"id":"g-2","kind":"holding_statement","version":1}])";
  t.alert("alert.responded", t0 + 50 * minute, a2, ",\"by\":" + ben);
  t.add("guidance.overdue", t0 + 55 * minute,
        "{\"guidance\":" + guidance("g-2", "Hold new", 1, t0 + 45 * minute, 0, "g-1") +
            ",\"pending\":[{\"user\":\"ana\",\"name\":\"Ana\",\"since\":1},{\"user\":\"cat\"," +
            "\"name\":\"Cat\",\"since\":1}],\"as_of\":1}");
  t.alert("alert.new", t0 + 61 * minute, a4);
  t.add("channel.spike", t0 + 62 * minute,
        "{\"channel\":\"crisis.r\",\"drill\":true,\"at\":" + std::to_string(t0 + 62 * minute) +
            ",\"rate\":12.5,\"baseline_rate\":2,\"factor\":6.25,\"reach_rate\":100,"
            "\"baseline_reach_rate\":50,\"reach_factor\":2,\"by_reach\":false,"
            "\"alerts_in_window\":6,\"window_s\":600,\"baseline_s\":43200,\"top\":[],"
            "\"severity_raised\":true}");
  auto propose = [&](std::string_view ev, std::int64_t ts, const std::string& p,
                     const std::string& by) {
    t.alert(ev, ts, a4, ",\"by\":" + by + ",\"proposal\":" + p);
  };
  propose("alert.proposed", t0 + 62 * minute, proposal("p-1", ana, t0 + 62 * minute, "pending"),
          ana);
  propose("alert.proposed", t0 + 63 * minute, proposal("p-2", ben, t0 + 63 * minute, "pending"),
          ben);
  propose("alert.approved", t0 + 64 * minute,
          proposal("p-1", ana, t0 + 62 * minute, "approved", t0 + 64 * minute), lena);
  propose("alert.approved", t0 + 65 * minute,
          proposal("p-3", ana, t0 + 65 * minute, "approved", t0 + 65 * minute, false, true), ana);
  propose("alert.proposed", t0 + 66 * minute, proposal("p-5", ben, t0 + 66 * minute, "pending"),
          ben);
  propose("alert.approved", t0 + 67 * minute,
          proposal("p-5", ben, t0 + 66 * minute, "approved", t0 + 67 * minute, true), lena);
  propose("alert.rejected", t0 + 68 * minute,
          proposal("p-2", ben, t0 + 63 * minute, "rejected", t0 + 68 * minute), lena);
  propose("alert.proposed", t0 + 70 * minute, proposal("p-4", ben, t0 + 70 * minute, "pending"),
          ben);
  t.alert("alert.approval_overdue", t0 + 80 * minute, a4,
          ",\"proposal\":" + proposal("p-4", ben, t0 + 70 * minute, "pending") +
              ",\"waited_ms\":600000");
  a4.proposals = "[" + proposal("p-4", ben, t0 + 70 * minute, "withdrawn") + "]";
  t.alert("alert.updated", t0 + 85 * minute, a4, ",\"by\":" + ben);
  return t;
}

report build(const timeline& t, report_inputs in = {.now_ms = t0 + 90 * minute}) {
  report_builder b;
  for (const auto& line : t.lines) b.add(line);
  return b.build(in);
}

}  // namespace

TEST(report, the_header_counts_every_event_frame) {
  auto t = crisis();
  report_builder b;
  int used = 0;
  for (const auto& line : t.lines) used += b.add(line);
  EXPECT_EQ(used, 36) << "the plain message is skipped";
  EXPECT_FALSE(b.add("not json")) << "a line that is no event frame";
  EXPECT_EQ(b.events(), 37u);
  auto r = b.build({.now_ms = t0 + 90 * minute});
  EXPECT_EQ(r.channel, "crisis.r");
  EXPECT_EQ(r.title, hostile_title);
  EXPECT_EQ(r.sev, severity::sev2);
  EXPECT_EQ(r.status, "open");
  EXPECT_TRUE(r.drill);
  EXPECT_EQ(r.generated_at, t0 + 90 * minute);
  EXPECT_EQ(r.first_offset, 1u);
  EXPECT_EQ(r.last_offset, 37u);
  EXPECT_EQ(r.from, t0);
  EXPECT_EQ(r.to, t0 + 85 * minute);
  EXPECT_EQ(r.events, 37u);
}

TEST(report, volume_uses_five_minute_buckets_for_85_minutes) {
  auto r = build(crisis());
  // 1-min buckets would be 86 > 60; 5-min ones are 0..85 min = 18.
  EXPECT_EQ(r.volume.bucket_ms, 5 * minute);
  ASSERT_EQ(r.volume.buckets.size(), 18u);
  EXPECT_EQ(r.volume.buckets[0].start, t0);
  EXPECT_EQ(r.volume.buckets[0].by_severity, (std::array<std::uint64_t, 4>{1, 1, 1, 0}));
  EXPECT_EQ(r.volume.buckets[12].start, t0 + 60 * minute);
  EXPECT_EQ(r.volume.buckets[12].by_severity, (std::array<std::uint64_t, 4>{0, 0, 0, 1}));
  std::uint64_t total = 0;
  for (auto& b : r.volume.buckets)
    for (auto n : b.by_severity) total += n;
  EXPECT_EQ(total, 4u) << "duplicates and updates are not new alerts";
  ASSERT_EQ(r.volume.spikes.size(), 1u);
  EXPECT_EQ(r.volume.spikes[0].at, t0 + 62 * minute);
  EXPECT_EQ(r.volume.spikes[0].offset, 27u);
  EXPECT_DOUBLE_EQ(r.volume.spikes[0].rate, 12.5);
  EXPECT_DOUBLE_EQ(r.volume.spikes[0].baseline_rate, 2);
  EXPECT_DOUBLE_EQ(r.volume.spikes[0].factor, 6.25);
  EXPECT_EQ(r.volume.spikes[0].alerts_in_window, 6u);
  EXPECT_TRUE(r.volume.spikes[0].severity_raised);
}

TEST(report, claim_and_response_times) {
  auto r = build(crisis());
  // First claims: a-1 30 s, a-3 60 s (its later assignment is not a first claim), a-2 19 min.
  EXPECT_EQ(r.time_to_claim.count, 3u);
  EXPECT_EQ(r.time_to_claim.median_ms, 60'000);
  EXPECT_EQ(r.time_to_claim.p90_ms, 19 * minute) << "ceil(0.9*3) = 3rd";
  EXPECT_EQ(r.time_to_claim.histogram, (std::array<std::uint64_t, 5>{1, 1, 0, 1, 0}));
  // Responses: a-1 4 min, a-2 30 min; median (4+30)/2 = 17 min.
  EXPECT_EQ(r.time_to_respond.count, 2u);
  EXPECT_EQ(r.time_to_respond.median_ms, 17 * minute);
  EXPECT_EQ(r.time_to_respond.p90_ms, 30 * minute);
  EXPECT_EQ(r.time_to_respond.histogram, (std::array<std::uint64_t, 5>{0, 1, 0, 1, 0}));
}

TEST(report, percentiles_are_nearest_rank_and_medians_as_stats) {
  auto d = summarize({5, 1, 4, 2, 3, 6, 7, 8, 9, 10});
  EXPECT_EQ(d.median_ms, 5) << "(5+6)/2 truncated";
  EXPECT_EQ(d.p90_ms, 9) << "ceil(9) = 9th smallest";
  EXPECT_EQ(summarize({7}).p90_ms, 7);
  EXPECT_EQ(summarize({}).median_ms, -1);
  EXPECT_EQ(summarize({}).p90_ms, -1);
  auto edges = summarize({59'999, 60'000, 299'999, 300'000, 3'599'999, 3'600'000});
  EXPECT_EQ(edges.histogram, (std::array<std::uint64_t, 5>{1, 2, 1, 1, 1}));
}

TEST(report, escalations_and_duplicates) {
  auto r = build(crisis());
  EXPECT_EQ(r.escalations.total, 2u);
  EXPECT_EQ(r.escalations.by_step.at("1"), 1u);
  EXPECT_EQ(r.escalations.by_step.at("2"), 1u);
  EXPECT_EQ(r.escalations.by_reason.at("unclaimed"), 1u);
  EXPECT_EQ(r.escalations.by_reason.at("no_response"), 1u);
  EXPECT_EQ(r.escalations.alerts, 2u);
  EXPECT_EQ(r.escalations.alert_ids, (std::vector<std::string>{"a-2", "a-3"}));
  // Final counts 3, 1, 1, 1.
  EXPECT_EQ(r.duplicates.triggers, 6u);
  EXPECT_EQ(r.duplicates.alerts, 4u);
  EXPECT_EQ(r.duplicates.folded, 2u);
  EXPECT_EQ(r.duplicates.alerts_with_duplicates, 1u);
}

TEST(report, guidance_versions_with_their_acknowledgement_curves) {
  auto r = build(crisis());
  ASSERT_EQ(r.guidance.size(), 2u);
  const auto& g1 = r.guidance[0];
  EXPECT_EQ(g1.id, "g-1");
  EXPECT_EQ(g1.kind, "holding_statement");
  EXPECT_FALSE(g1.supersedes);
  EXPECT_TRUE(g1.superseded) << "g-2 replaced it";
  EXPECT_EQ(g1.reminders, 1u);
  EXPECT_EQ(g1.overdue, 0u);
  ASSERT_EQ(g1.versions.size(), 2u);
  EXPECT_EQ(g1.versions[0].title, "Hold <b>");
  EXPECT_EQ(g1.versions[0].at, t0 + minute);
  EXPECT_EQ(g1.versions[0].by.user, "lena");
  EXPECT_EQ(g1.versions[0].acks, 2u);
  EXPECT_EQ(g1.versions[0].median_ack_delay_ms, 10 * minute) << "(1 + 19) / 2 min";
  ASSERT_EQ(g1.versions[0].curve.size(), 2u);
  EXPECT_EQ(g1.versions[0].curve[0].after_ms, minute);
  EXPECT_EQ(g1.versions[0].curve[0].acks, 1u);
  EXPECT_EQ(g1.versions[0].curve[1].after_ms, 19 * minute);
  EXPECT_EQ(g1.versions[0].curve[1].acks, 2u);
  EXPECT_EQ(g1.versions[1].version, 2u);
  EXPECT_EQ(g1.versions[1].title, "Hold v2");
  EXPECT_EQ(g1.versions[1].at, t0 + 30 * minute);
  EXPECT_EQ(g1.versions[1].changes, "recall official");
  EXPECT_EQ(g1.versions[1].acks, 1u);
  EXPECT_EQ(g1.versions[1].median_ack_delay_ms, minute);
  const auto& g2 = r.guidance[1];
  EXPECT_EQ(g2.supersedes, std::optional<std::string>("g-1"));
  EXPECT_FALSE(g2.superseded);
  EXPECT_EQ(g2.reminders, 0u);
  EXPECT_EQ(g2.overdue, 1u);
  ASSERT_EQ(g2.versions.size(), 1u);
  EXPECT_EQ(g2.versions[0].acks, 1u);
}

TEST(report, approvals_by_final_state) {
  auto r = build(crisis());
  const auto& a = r.approvals;
  EXPECT_EQ(a.proposals, 5u);
  EXPECT_EQ(a.approved, 3u) << "p-1, p-3 (auto), p-5 (edited)";
  EXPECT_EQ(a.auto_approved, 1u);
  EXPECT_EQ(a.edited, 1u);
  EXPECT_EQ(a.rejected, 1u);
  EXPECT_EQ(a.withdrawn, 1u) << "p-4, withdrawn in the alert's proposals";
  EXPECT_EQ(a.pending, 0u);
  EXPECT_EQ(a.overdue, 1u);
  // Decision delays by a lead: 1, 2 and 5 min (the automatic approval is none).
  EXPECT_EQ(a.delay.count, 3u);
  EXPECT_EQ(a.delay.median_ms, 2 * minute);
  EXPECT_EQ(a.delay.p90_ms, 5 * minute);
}

TEST(report, people_are_ordered_by_the_documented_score) {
  auto r = build(crisis());
  ASSERT_EQ(r.people.size(), 2u) << "only people who did something; Cat was only pending";
  const auto& ana_row = r.people[0];
  EXPECT_EQ(ana_row.user, "ana");
  EXPECT_EQ(ana_row.name, "Ana");
  EXPECT_EQ(ana_row.claimed, 2u);
  EXPECT_EQ(ana_row.responded, 1u);
  EXPECT_EQ(ana_row.median_response_ms, 4 * minute);
  EXPECT_EQ(ana_row.acks, 2u);
  EXPECT_EQ(ana_row.median_ack_delay_ms, minute);
  EXPECT_EQ(ana_row.under_superseded, 1u) << "a-1 was answered under g-1 v1, later revised";
  EXPECT_EQ(ana_row.expired_claims, 1u);
  EXPECT_EQ(ana_row.proposals_approved, 2u);
  EXPECT_EQ(ana_row.proposals_rejected, 0u);
  // 10 (response) + 2 + 2 (fast acks) - 1 (superseded) - 3 (expired) + 2 (p-1 unedited; p-3
  // was approved from a template, without a lead, and earns nothing).
  EXPECT_EQ(ana_row.score, 12);
  const auto& ben_row = r.people[1];
  EXPECT_EQ(ben_row.user, "ben");
  EXPECT_EQ(ben_row.claimed, 2u) << "the assignment of a-3 and the claim of a-2";
  EXPECT_EQ(ben_row.responded, 1u);
  EXPECT_EQ(ben_row.median_response_ms, 30 * minute);
  EXPECT_EQ(ben_row.acks, 2u);
  EXPECT_EQ(ben_row.median_ack_delay_ms, 10 * minute);
  EXPECT_EQ(ben_row.under_superseded, 0u);
  EXPECT_EQ(ben_row.proposals_approved, 1u);
  EXPECT_EQ(ben_row.proposals_rejected, 1u);
  // 5 (response after escalation) + 1 (slow ack) + 2 (fast ack) + 0 (edited) - 2 (rejected).
  EXPECT_EQ(ben_row.score, 6);
}

TEST(report, a_score_never_goes_below_zero_and_ties_go_by_responses_then_name) {
  timeline t;
  alert_state a{.id = "a-9", .status = "new", .url = "https://x.com/9", .first_seen = t0};
  t.alert("alert.new", t0, a);
  for (auto& [user, name] : {std::pair{"zoe", "Zoe"}, std::pair{"amy", "Amy"}}) {
    a.status = "claimed", a.holder = who(user, name), a.claimed_at = t0 + minute;
    t.alert("alert.claimed", t0 + minute, a);
    a.status = "new", a.holder = "null", a.claimed_at = 0;
    t.alert("alert.released", t0 + 2 * minute, a,
            ",\"reason\":\"expired\",\"previous\":" + who(user, name));
  }
  auto r = build(t);
  ASSERT_EQ(r.people.size(), 2u);
  EXPECT_EQ(r.people[0].name, "Amy");
  EXPECT_EQ(r.people[0].score, 0) << "-3 floors at 0";
  EXPECT_EQ(r.people[1].name, "Zoe");
  EXPECT_FALSE(r.drill_scoring) << "not a drill channel";
}

TEST(report, drill_targets_and_score) {
  auto r = build(crisis(), {.now_ms = 1,
                            .drill = {.first_claim = std::chrono::seconds(300),
                                      .answered_share = 0.8,
                                      .ack_share = 0.9}});
  ASSERT_TRUE(r.drill_scoring);
  const auto& d = *r.drill_scoring;
  ASSERT_EQ(d.targets.size(), 3u);
  EXPECT_EQ(d.targets[0].name, "first_claim_s");
  EXPECT_DOUBLE_EQ(d.targets[0].measured, 60.0);
  EXPECT_TRUE(d.targets[0].met);
  EXPECT_EQ(d.targets[1].name, "answered_share");
  EXPECT_DOUBLE_EQ(d.targets[1].measured, 0.25) << "only a-1 of 4 before escalation";
  EXPECT_FALSE(d.targets[1].met);
  // Ana, Ben, Cat x 2 posts expected; Ana acked g-1 v2 and Ben g-2 v1: 2 / 6.
  EXPECT_EQ(d.targets[2].name, "ack_share");
  EXPECT_DOUBLE_EQ(d.targets[2].measured, 2.0 / 6.0);
  EXPECT_FALSE(d.targets[2].met);
  EXPECT_DOUBLE_EQ(d.score, 1.0 / 3.0);
  auto lenient = build(crisis(), {.now_ms = 1,
                                  .drill = {.first_claim = std::chrono::seconds(30),
                                            .answered_share = 0.25,
                                            .ack_share = 0.3}});
  EXPECT_FALSE(lenient.drill_scoring->targets[0].met) << "60 s > 30 s";
  EXPECT_TRUE(lenient.drill_scoring->targets[1].met);
  EXPECT_TRUE(lenient.drill_scoring->targets[2].met);
}

TEST(report, alerts_in_their_final_state) {
  auto r = build(crisis());
  ASSERT_EQ(r.alerts.size(), 4u);
  const auto& a1 = r.alerts[0];
  EXPECT_EQ(a1.id, "a-1");
  EXPECT_EQ(a1.status, alert_status::responded);
  EXPECT_EQ(a1.sev, severity::sev2);
  EXPECT_EQ(a1.count, 3u);
  EXPECT_EQ(a1.holder.user, "ana");
  EXPECT_EQ(a1.responder.name, "Ana");
  EXPECT_EQ(a1.claimed_at, t0 + 30'000);
  EXPECT_EQ(a1.responded_at, t0 + 270'000);
  EXPECT_EQ(a1.reach, 100u);
  EXPECT_TRUE(a1.drill);
  const auto& a3 = r.alerts[2];
  EXPECT_EQ(a3.id, "a-3");
  EXPECT_EQ(a3.status, alert_status::claimed);
  EXPECT_EQ(a3.holder.user, "ben");
  EXPECT_EQ(a3.escalations, 2u);
  EXPECT_EQ(r.alerts[3].id, "a-4");
}

TEST(report, json_carries_the_numbers) {
  auto json = render_json(build(crisis()));
  simdjson::dom::parser p;
  simdjson::dom::element e;
  ASSERT_FALSE(p.parse(json).get(e)) << json;
  auto i64 = [&](std::string_view ptr) {
    std::int64_t v = -99;
    EXPECT_FALSE(e.at_pointer(ptr).get_int64().get(v)) << ptr;
    return v;
  };
  EXPECT_EQ(i64("/events"), 37);
  EXPECT_EQ(i64("/volume/bucket_ms"), 5 * minute);
  EXPECT_EQ(i64("/volume/buckets/0/sev1"), 1);
  EXPECT_EQ(i64("/volume/buckets/0/total"), 3);
  EXPECT_EQ(i64("/time_to_claim/median_ms"), 60'000);
  EXPECT_EQ(i64("/time_to_claim/histogram/3/count"), 1);
  EXPECT_EQ(i64("/time_to_claim/histogram/3/from_ms"), 15 * minute);
  EXPECT_TRUE(e.at_pointer("/time_to_claim/histogram/4/to_ms").is_null());
  EXPECT_EQ(i64("/escalations/by_step/2"), 1);
  EXPECT_EQ(i64("/duplicates/folded"), 2);
  EXPECT_EQ(i64("/guidance/0/versions/0/curve/1/acks"), 2);
  EXPECT_EQ(i64("/approvals/delay/p90_ms"), 5 * minute);
  EXPECT_EQ(i64("/people/0/score"), 12);
  EXPECT_EQ(i64("/alerts/0/count"), 3);
  double share = 0;
  EXPECT_FALSE(e.at_pointer("/drill_scoring/targets/1/measured").get_double().get(share));
  EXPECT_DOUBLE_EQ(share, 0.25);
  std::string_view title;
  EXPECT_FALSE(e.at_pointer("/title").get_string().get(title));
  EXPECT_EQ(title, hostile_title);
}

TEST(report, html_escapes_hostile_text_and_needs_nothing_from_outside) {
  auto html = render_html(build(crisis()));
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("Kettle &lt;script&gt;alert(1)&lt;/script&gt; &quot;recall&quot; &amp; "
                      "&#39;more&#39;"),
            std::string::npos);
  EXPECT_NE(html.find("Hold &lt;b&gt;"), std::string::npos);
  EXPECT_EQ(html.find("Hold <b>"), std::string::npos);
  EXPECT_EQ(html.find("href=\"javascript:"), std::string::npos) << "only http(s) links";
  EXPECT_NE(html.find("javascript:alert(1)"), std::string::npos) << "shown as text";
  EXPECT_NE(
      html.find("href=\"https://x.com/brand/status/1/reply?a=&quot;1&quot;&amp;b=&lt;2&gt;\""),
      std::string::npos);
  for (std::string_view outside : {" src=", "<link", "@import", "url(", "<iframe", "<object"})
    EXPECT_EQ(html.find(outside), std::string::npos) << outside;
  std::size_t charts = 0;
  for (auto at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 1))
    ++charts;
  EXPECT_EQ(charts, 6u) << "volume, 2 histograms, 3 ack curves";
  EXPECT_NE(html.find("Drill score: 33%"), std::string::npos);
}

TEST(report, csv_quotes_and_guards_formulas) {
  auto csv = render_csv(build(crisis()));
  auto first_line = csv.substr(0, csv.find("\r\n"));
  EXPECT_EQ(first_line,
            "id,first_seen,severity,status,source,url,author,reach,count,holder,claimed_at,"
            "responded_at,responder,reply_url,escalations,drill");
  EXPECT_NE(csv.find("\r\na-1,2026-01-01T09:00:00.000Z,sev2,responded,x,"
                     "https://x.com/brand/status/1,\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\","
                     "100,3,ana,2026-01-01T09:00:30.000Z,2026-01-01T09:04:30.000Z,ana,"
                     "\"https://x.com/brand/status/1/reply?a=\"\"1\"\"&b=<2>\",0,true\r\n"),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find(",'-x,"), std::string::npos) << "a source starting with -";
  EXPECT_NE(csv.find(",\"O'Brien, \"\"Bob\"\"\nline2\","), std::string::npos);
  EXPECT_NE(csv.find(",'+cmd,"), std::string::npos);
  EXPECT_NE(csv.find(",'@sum,"), std::string::npos);
  EXPECT_NE(csv.find("a-4,2026-01-01T10:01:00.000Z,sev4,new,x,javascript:alert(1),'@sum,100,1,,,,"),
            std::string::npos)
      << "never claimed: empty holder and times";
}

TEST(report, formats) {
  EXPECT_EQ(parse_report_format(""), report_format::json);
  EXPECT_EQ(parse_report_format("json"), report_format::json);
  EXPECT_EQ(parse_report_format("html"), report_format::html);
  EXPECT_EQ(parse_report_format("csv"), report_format::csv);
  EXPECT_EQ(parse_report_format("HTML"), std::nullopt);
  EXPECT_EQ(parse_report_format("pdf"), std::nullopt);
  EXPECT_EQ(content_type(report_format::html), "text/html; charset=utf-8");
  EXPECT_EQ(content_type(report_format::csv), "text/csv; charset=utf-8");
  EXPECT_EQ(content_type(report_format::json), "application/json");
  EXPECT_EQ(rfc3339(t0 + 1), "2026-01-01T09:00:00.001Z");
  EXPECT_EQ(rfc3339(0), "");
}

TEST(report, an_old_channel_object_without_drill_is_no_drill) {
  timeline t;
  t.add("channel.created", t0,
        "{\"channel\":{\"channel\":\"crisis.r\",\"title\":\"Old\",\"severity\":\"sev3\","
        "\"status\":\"monitoring\",\"created_by\":null,\"created_at\":1,\"updated_at\":1},"
        "\"by\":null}");
  auto r = build(t);
  EXPECT_FALSE(r.drill);
  EXPECT_EQ(r.status, "monitoring");
  EXPECT_EQ(r.volume.buckets.size(), 1u);
  EXPECT_EQ(r.time_to_claim.median_ms, -1);
  EXPECT_TRUE(r.people.empty());
}
