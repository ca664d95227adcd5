// Each crisis record: encode -> decode -> encode gives the same text, and documents stored by
// earlier versions (the same JSON) still read.
#include "server/crisis/records.hpp"

#include <gtest/gtest.h>

using namespace muster::server::crisis;

namespace {

template <class Record>
std::string round_trip(const Record& r) {
  auto text = encode(r);
  Record back;
  EXPECT_TRUE(decode(text, back)) << text;
  EXPECT_EQ(encode(back), text);
  return text;
}

time_point at(std::int64_t ms) {
  return time_point(std::chrono::milliseconds(ms));
}

}  // namespace

TEST(records, alert_round_trips_every_field) {
  alert_record r;
  r.a.id = "a-1";
  r.a.input = {"x",
               "https://x.com/1",
               "@who",
               "text with \"quotes\" and\nnewline",
               severity::sev2,
               "https://x.com/1",
               {"t1", "t2"},
               12000,
               340};
  r.a.status = alert_status::claimed;
  r.a.holder = "amb:1";
  r.holder_name = "Ana";
  r.responder = {"lead-1", "Lea"};
  r.a.reply_url = "https://x.com/r";
  r.a.reply_text = "Thanks";
  r.a.count = 3;
  r.a.later_texts = {"second", "third"};
  r.a.first_seen = at(1000);
  r.a.last_seen = at(2000);
  r.a.claimed_at = at(1500);
  r.a.responded_at = at(1800);
  r.a.escalations = 2;
  r.a.claim_expires_at = at(3500);
  r.a.expired_claims = 1;
  r.a.takeovers = 2;
  r.a.notes = 4;
  r.a.reach_jumps = 1;
  r.drill = true;
  proposal_record p;
  p.id = "p-1";
  p.text = "Sorry";
  p.url = "https://x.com/r";
  p.by = {"amb:1", "Ana"};
  p.at = 1600;
  p.state = "approved";
  p.decided_by = {"lead-1", "Lea"};
  p.decided_at = 1700;
  p.comment = "ok";
  p.edited = true;
  p.overdue = true;
  r.proposals.push_back(p);
  r.channel = "crisis.a";
  r.channels = {"crisis.a", "crisis.b"};
  r.occurred_at = "\"2026-01-01T08:59:00Z\"";
  r.closed_at = 2500;
  r.closed_by = "lead-1";
  r.next_escalation_step = 2;
  r.next_escalation_at = 2100;
  auto text = round_trip(r);
  EXPECT_EQ(
      text,
      R"({"id":"a-1","channel":"crisis.a","channels":["crisis.a","crisis.b"],"status":"claimed","source":"x","url":"https://x.com/1","author":"@who","text":"text with \"quotes\" and\nnewline","later_texts":["second","third"],"severity":"sev2","dedup_key":"https://x.com/1","tags":["t1","t2"],"metrics":{"reach":12000,"engagement":340},"occurred_at":"2026-01-01T08:59:00Z","holder":{"user":"amb:1","name":"Ana"},"responder":{"user":"lead-1","name":"Lea"},"reply_url":"https://x.com/r","reply_text":"Thanks","count":3,"first_seen":1000,"last_seen":2000,"claimed_at":1500,"responded_at":1800,"closed_at":2500,"closed_by":"lead-1","escalations":2,"claim_expires_at":3500,"expired_claims":1,"takeovers":2,"notes":4,"reach_jumps":1,"guidance":[],"drill":true,"proposals":[{"id":"p-1","text":"Sorry","url":"https://x.com/r","template":"","by":{"user":"amb:1","name":"Ana"},"at":1600,"state":"approved","decided_by":{"user":"lead-1","name":"Lea"},"decided_at":1700,"comment":"ok","edited":true,"auto":false,"overdue":true}],"next_escalation":{"step":2,"reason":"no_response","at":2100}})");
  alert_record back;
  ASSERT_TRUE(decode(text, back));
  EXPECT_EQ(back.a.holder, "amb:1");
  EXPECT_EQ(back.a.status, alert_status::claimed);
  EXPECT_EQ(back.a.input.tags, (std::vector<std::string>{"t1", "t2"}));
  EXPECT_EQ(back.responder, (person{"lead-1", "Lea"}));
  EXPECT_EQ(back.a.claim_expires_at, at(3500));
  EXPECT_EQ(back.a.expired_claims, 1u);
  EXPECT_EQ(back.a.takeovers, 2u);
  EXPECT_EQ(back.a.notes, 4u);
  EXPECT_TRUE(back.drill);
  EXPECT_EQ(back.next_escalation_step, 2u);
  EXPECT_EQ(back.next_escalation_at, 2100);
  ASSERT_EQ(back.proposals.size(), 1u);
  EXPECT_EQ(back.proposals[0], p);
}

TEST(records, spike_detector_round_trips) {
  spike_record s;
  s.detector.buckets = {{1000, 3, 500}, {2000, 1, 18446744073709551615ull}};
  s.detector.first_ms = 900;
  s.detector.armed = false;
  s.recent = {{"a-1", "https://x.com/1", "@a", 9000, severity::sev2, 1500}};
  s.spikes = 2;
  s.last_spike_at = 1999;
  auto text = round_trip(s);
  EXPECT_EQ(
      text,
      R"({"buckets":[[1000,3,500],[2000,1,18446744073709551615]],"first_ms":900,"armed":false,"recent":[{"id":"a-1","url":"https://x.com/1","author":"@a","reach":9000,"severity":"sev2","at":1500}],"spikes":2,"last_spike_at":1999})");
  spike_record back;
  ASSERT_TRUE(decode(text, back));
  EXPECT_EQ(back.detector.buckets, s.detector.buckets);
  EXPECT_EQ(back.recent, s.recent);
  EXPECT_FALSE(decode(R"({"buckets":[[1,2]]})", back)) << "a bucket is three numbers";
  EXPECT_FALSE(decode(R"({"buckets":[[1,-2,3]]})", back));
}

TEST(records, person_held_claims_and_note_round_trip) {
  person_record p{"amb:1", "Ana \"A\"", "ambassador", 10, 20, {"crisis.a", "triage"}};
  auto text = round_trip(p);
  EXPECT_EQ(
      text,
      R"({"user":"amb:1","name":"Ana \"A\"","role":"ambassador","first_seen":10,"last_seen":20,"channels":["crisis.a","triage"]})");
  auto back = decoded<person_record>(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->channels, p.channels);
  EXPECT_EQ(back->last_seen, 20);

  held_record h{"amb:1", {"crisis.a a-1", "triage a-2"}};
  auto held = decoded<held_record>(round_trip(h));
  ASSERT_TRUE(held);
  EXPECT_EQ(held->alerts, h.alerts);

  note_record n{"n-1", "a-1", "Called the customer", {"lead-1", "Lea"}, 99};
  EXPECT_EQ(
      round_trip(n),
      R"({"id":"n-1","alert":"a-1","text":"Called the customer","by":{"user":"lead-1","name":"Lea"},"at":99})");
  EXPECT_FALSE(decoded<person_record>(R"({"name":"x"})")) << "a person needs a user";
  EXPECT_FALSE(decoded<note_record>(R"({"id":5})"));
}

TEST(records, guidance_versions_and_receipts_round_trip) {
  guidance_record g;
  g.id = "g-2";
  g.channel = "crisis.a";
  g.kind = "holding_statement";
  g.title = "Line v3";
  g.body = "Say this";
  g.by = {"lead-1", "Lea"};
  g.posted_at = 10;
  g.version = 3;
  g.revised_at = 30;
  g.revised_by = {"lead-2", "Max"};
  g.changes = "recall is official";
  g.history = {{1, 10, {"lead-1", "Lea"}, ""}, {2, 20, {"lead-1", "Lea"}, "typo"}};
  g.ack_within_s = 600;
  g.ack_deadline = 600030;
  g.overdue = true;
  auto text = round_trip(g);
  EXPECT_NE(
      text.find(
          R"("version":3,"revised_at":30,"revised_by":{"user":"lead-2","name":"Max"},"changes":"recall is official","history":[{"version":1,"at":10,"by":{"user":"lead-1","name":"Lea"},"changes":""},{"version":2,"at":20,"by":{"user":"lead-1","name":"Lea"},"changes":"typo"}],"ack_within_s":600,"ack_deadline":600030,"overdue":true)"),
      std::string::npos)
      << text;
  auto back = decoded<guidance_record>(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->history, g.history);
  EXPECT_EQ(back->version_at(), 30);
  // A post stored before versions existed is version 1.
  auto old = decoded<guidance_record>(R"({"id":"g-0","channel":"c","posted_at":5})");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->version, 1u);
  EXPECT_EQ(old->version_at(), 5);
  EXPECT_FALSE(decoded<guidance_record>(R"({"id":"g-0","version":0})")) << "versions start at 1";

  receipt_record r{"g-2", "amb:1", "Ana", 3, 100, 200};
  auto rt = decoded<receipt_record>(round_trip(r));
  ASSERT_TRUE(rt);
  EXPECT_EQ(rt->read_at, 200);
  EXPECT_EQ(rt->version, 3u);

  alert_record a;
  a.a.id = "a-3";
  a.channel = "crisis.a";
  a.guidance = {{"g-2", "holding_statement", 3}};
  auto at = decoded<alert_record>(round_trip(a));
  ASSERT_TRUE(at);
  EXPECT_EQ(at->guidance, a.guidance);
}

TEST(records, a_new_alert_has_null_people_and_a_numeric_occurred_at_stays_a_number) {
  alert_record r;
  r.a.id = "a-2";
  r.channel = "triage";
  r.channels = {"triage"};
  r.occurred_at = "1767258000000";
  auto text = round_trip(r);
  EXPECT_NE(text.find(R"("occurred_at":1767258000000,"holder":null,"responder":null)"),
            std::string::npos)
      << text;
  r.occurred_at.clear();
  EXPECT_NE(round_trip(r).find(R"("occurred_at":null)"), std::string::npos);
}

TEST(records, guidance_reminded_is_a_field_not_text) {
  guidance_record g;
  g.id = "g-1";
  g.channel = "crisis.a";
  g.kind = "holding_statement";
  g.title = "Line";
  g.body = R"(say "reminded":true})";  // a body that quotes the flag cannot be taken for it
  g.by = {"lead-1", "Lea"};
  g.posted_at = 42;
  auto text = round_trip(g);
  guidance_record back;
  ASSERT_TRUE(decode(text, back));
  EXPECT_FALSE(back.reminded);
  EXPECT_FALSE(back.supersedes);
  back.reminded = true;
  back.supersedes = "g-0";
  auto again = round_trip(back);
  EXPECT_NE(again.find(R"("supersedes":"g-0","reminded":true,)"), std::string::npos) << again;
}

TEST(records, ack_member_template_and_channel_round_trip) {
  round_trip(ack_record{"g-1", "update", "amb:1", "Ana", 100, 58});
  round_trip(member_record{"amb:1", "Ana", 99});
  round_trip(template_record{"thanks", "Thanks", "We hear you.", {"lead-1", "Lea"}, 7});
  channel_record c{"crisis.a", "Kettles", severity::sev1, "monitoring", {"lead-1", "Lea"},
                   1,          2,         false,          false,        std::nullopt};
  EXPECT_EQ(
      round_trip(c),
      R"({"channel":"crisis.a","title":"Kettles","severity":"sev1","status":"monitoring","created_by":{"user":"lead-1","name":"Lea"},"created_at":1,"updated_at":2,"drill":false,"approval":{"required":false,"min_severity":null}})");
  c.drill = c.approval_required = true;
  c.approval_min_severity = severity::sev2;
  EXPECT_NE(
      round_trip(c).find(R"("drill":true,"approval":{"required":true,"min_severity":"sev2"})"),
      std::string::npos);
  channel_record old;  // stored before drills and approvals
  ASSERT_TRUE(decode(R"({"channel":"crisis.a","title":"K"})", old));
  EXPECT_FALSE(old.drill);
  EXPECT_FALSE(old.approval_required);
}

TEST(records, malformed_or_mistyped_documents_do_not_decode) {
  alert_record a;
  EXPECT_FALSE(decode("", a));
  EXPECT_FALSE(decode("[1]", a));
  EXPECT_FALSE(decode(R"({"id":"a","channel":"c","count":"three"})", a));
  EXPECT_FALSE(decode(R"({"id":"a","channel":"c","status":"exploded"})", a));
  EXPECT_FALSE(decode(R"({"channel":"c"})", a)) << "an alert has an id";
  guidance_record g;
  EXPECT_FALSE(decode(R"({"id":"g","reminded":"yes"})", g));
  ack_record k;
  EXPECT_FALSE(decode(R"({"guidance":"g"})", k)) << "an ack names its user";
  channel_record c;
  EXPECT_FALSE(decode(R"({"channel":"c","severity":"sev9"})", c));
}

TEST(records, unknown_fields_are_ignored) {
  member_record m;
  ASSERT_TRUE(decode(R"({"future":{"x":[1,2]},"user":"u","name":"N","since":5})", m));
  EXPECT_EQ(m.user, "u");
  EXPECT_EQ(m.since, 5);
}
