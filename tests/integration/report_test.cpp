// The post-crisis report against real servers (one musterd on the memory engine, or two nodes
// sharing a real redis-server): a small crisis through the client library, then the report's
// numbers against ones recomputed here from the exported timeline, the same report from every
// node, the HTML and CSV formats, and the refusals.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "clients/lib/crisis.hpp"
#include "tests/integration/node_set.hpp"

using namespace muster;
using namespace muster::test;
using namespace std::chrono_literals;
namespace dom = simdjson::dom;

namespace {

constexpr const char* path = "/api/v1/channels/crisis.rep/report";

// Median (mean of the middle two, truncated) and nearest-rank p90, as PROTOCOL.md 20.5 says.
std::pair<std::int64_t, std::int64_t> median_p90(std::vector<std::int64_t> v) {
  if (v.empty()) return {-1, -1};
  std::sort(v.begin(), v.end());
  auto n = v.size();
  auto median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  auto rank = static_cast<std::size_t>(std::ceil(0.9 * static_cast<double>(n)));
  return {median, v[rank - 1]};
}

std::int64_t num(dom::element e, std::string_view ptr) {
  std::int64_t v = -99;
  if (e.at_pointer(ptr).get_int64().get(v)) return -99;
  return v;
}
std::string text(dom::element e, std::string_view ptr) {
  std::string_view v;
  if (e.at_pointer(ptr).get_string().get(v)) return "<none>";
  return std::string(v);
}

// What the report should say, worked out from the timeline's JSON Lines on their own.
struct expected {
  std::int64_t events = 0, first_offset = 0, last_offset = 0, from = 0, to = 0;
  std::int64_t new_alerts = 0, escalations = 0, triggers = 0;
  std::vector<std::int64_t> to_claim, to_respond;
  std::map<std::string, std::int64_t> responded, claimed, acks;  // by user
  std::map<std::string, std::int64_t> acks_of;                   // "<guidance> v<version>"

  explicit expected(const std::string& lines) {
    dom::parser p;
    std::set<std::string> claimed_once;
    std::map<std::string, std::int64_t> count;  // alert id -> final count
    for (std::size_t at = 0, end; (end = lines.find('\n', at)) != std::string::npos; at = end + 1) {
      dom::element ev;
      if (p.parse(lines.substr(at, end - at)).get(ev)) continue;
      ++events;
      if (events == 1) first_offset = num(ev, "/offset"), from = num(ev, "/ts");
      last_offset = num(ev, "/offset");
      to = num(ev, "/ts");
      add(ev, claimed_once, count);
    }
    for (auto& [id, n] : count) triggers += n;
  }

  void add(dom::element ev, std::set<std::string>& claimed_once,
           std::map<std::string, std::int64_t>& count) {
    auto name = text(ev, "/event");
    auto id = text(ev, "/data/alert/id");
    if (name.starts_with("alert.")) count[id] = num(ev, "/data/alert/count");
    if (name == "alert.new") ++new_alerts;
    if (name == "alert.escalated") ++escalations;
    if (name == "alert.claimed" || name == "alert.assigned") {
      ++claimed[text(ev, "/data/alert/holder/user")];
      if (claimed_once.insert(id).second)
        to_claim.push_back(num(ev, "/data/alert/claimed_at") - num(ev, "/data/alert/first_seen"));
    }
    if (name == "alert.responded") {
      ++responded[text(ev, "/data/alert/responder/user")];
      to_respond.push_back(num(ev, "/data/alert/responded_at") - num(ev, "/data/alert/claimed_at"));
    }
    if (name == "guidance.acked") {
      ++acks[text(ev, "/data/user")];
      ++acks_of[text(ev, "/data/guidance") + " v" + std::to_string(num(ev, "/data/version"))];
    }
  }
};

class report_api : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::vector<std::string> args;
    for (const char* kv : {"crisis.triage_channel=\"crisis.rep\"", "crisis.scan_interval_ms=100",
                           "escalation.sev3_escalate_after_s=1", "limits.command_rate=100000",
                           "limits.command_burst=100000"})
      args.insert(args.end(), {"--set", kv});
    nodes_ = std::make_unique<node_set>(GetParam(), args);
    ASSERT_TRUE(nodes_->ready()) << nodes_->logs();
  }

  http_reply get(int node, const std::string& target, const std::string& token = lead_token()) {
    return http_request(nodes_->node(node).port(), "GET", target, "", token);
  }
  static std::string lead_token() { return test_token("lena", "lead"); }
  std::string logs() { return nodes_->logs(); }

  // Two alerts answered, one held, one left to escalate, a duplicate, guidance revised once.
  void run_crisis() {
    auto lead = nodes_->connect(0, "lena", "lead");
    auto bot = nodes_->connect(1, "scout", "bot");
    auto amy = nodes_->connect(0, "amy", "ambassador");
    auto ben = nodes_->connect(1, "ben", "ambassador");
    client::create_channel(*lead, "crisis.rep", "Report drill", "sev2");
    for (auto* c : {amy.get(), ben.get()})
      ASSERT_FALSE(c->call("subscribe", R"("channel":"crisis.rep")").is_error);
    auto push = [&](int i) {
      client::alert_post a;
      a.source = "x";
      a.url = "https://x.com/brand/status/" + std::to_string(i);
      a.text = "post " + std::to_string(i);
      return client::push_alert(*bot, a);
    };
    auto a1 = push(1);
    client::claim_alert(*amy, "crisis.rep", a1.id);
    client::respond_alert(*amy, "crisis.rep", a1.id, "https://x.com/reply/1");
    auto a2 = push(2);
    client::claim_alert(*ben, "crisis.rep", a2.id);
    auto g = client::post_guidance(*lead, "crisis.rep", "holding_statement", "Hold", "Say little");
    ASSERT_TRUE(client::ack_guidance(*amy, "crisis.rep", g));
    client::respond_alert(*ben, "crisis.rep", a2.id, "https://x.com/reply/2");
    auto a3 = push(3);
    client::claim_alert(*amy, "crisis.rep", a3.id);
    EXPECT_TRUE(push(1).deduplicated);
    client::revise_guidance(*lead, "crisis.rep", g, "Say less", "shorter");
    ASSERT_TRUE(client::ack_guidance(*ben, "crisis.rep", g));
    ASSERT_TRUE(client::ack_guidance(*amy, "crisis.rep", g));
    push(4);  // nobody claims it: escalated after a second
    ASSERT_TRUE(eventually(
        [&] {
          return get(0, "/api/v1/channels/crisis.rep/timeline").body.find("\"alert.escalated\"") !=
                 std::string::npos;
        },
        15s))
        << logs();
  }

  std::unique_ptr<node_set> nodes_;
};

}  // namespace

TEST_P(report_api, the_numbers_are_those_of_the_exported_timeline_on_every_node) {
  ASSERT_NO_FATAL_FAILURE(run_crisis());
  auto tl = get(0, "/api/v1/channels/crisis.rep/timeline");
  ASSERT_EQ(tl.status, 200);
  auto rep = get(0, path);
  ASSERT_EQ(rep.status, 200) << rep.body;
  EXPECT_EQ(rep.headers["content-type"], "application/json");
  expected want(tl.body);
  dom::parser p;
  dom::element r;
  ASSERT_FALSE(p.parse(rep.body).get(r)) << rep.body;
  EXPECT_EQ(text(r, "/channel"), "crisis.rep");
  EXPECT_EQ(text(r, "/title"), "Report drill");
  EXPECT_EQ(text(r, "/severity"), "sev2");
  EXPECT_EQ(num(r, "/events"), want.events);
  EXPECT_EQ(num(r, "/first_offset"), want.first_offset);
  EXPECT_EQ(num(r, "/last_offset"), want.last_offset);
  EXPECT_EQ(num(r, "/from"), want.from);
  EXPECT_EQ(num(r, "/to"), want.to);
  EXPECT_EQ(want.new_alerts, 4);
  EXPECT_EQ(num(r, "/duplicates/alerts"), want.new_alerts);
  EXPECT_EQ(num(r, "/duplicates/triggers"), want.triggers);
  EXPECT_EQ(num(r, "/duplicates/folded"), want.triggers - want.new_alerts);
  EXPECT_EQ(want.triggers, 5) << "one duplicate";
  EXPECT_EQ(num(r, "/escalations/total"), want.escalations);
  std::int64_t volume = 0;
  dom::array buckets;
  ASSERT_FALSE(r.at_pointer("/volume/buckets").get_array().get(buckets));
  for (dom::element b : buckets) volume += num(b, "/total");
  EXPECT_EQ(volume, want.new_alerts);
  auto [claim_median, claim_p90] = median_p90(want.to_claim);
  EXPECT_EQ(num(r, "/time_to_claim/count"), static_cast<std::int64_t>(want.to_claim.size()));
  EXPECT_EQ(num(r, "/time_to_claim/median_ms"), claim_median);
  EXPECT_EQ(num(r, "/time_to_claim/p90_ms"), claim_p90);
  auto [respond_median, respond_p90] = median_p90(want.to_respond);
  EXPECT_EQ(num(r, "/time_to_respond/count"), 2);
  EXPECT_EQ(num(r, "/time_to_respond/median_ms"), respond_median);
  EXPECT_EQ(num(r, "/time_to_respond/p90_ms"), respond_p90);
  dom::array people;
  ASSERT_FALSE(r.at_pointer("/people").get_array().get(people));
  std::set<std::string> seen;
  for (dom::element who : people) {
    auto user = text(who, "/user");
    seen.insert(user);
    EXPECT_EQ(num(who, "/responded"), want.responded[user]) << user;
    EXPECT_EQ(num(who, "/claimed"), want.claimed[user]) << user;
    EXPECT_EQ(num(who, "/acks"), want.acks[user]) << user;
  }
  EXPECT_EQ(seen, (std::set<std::string>{"amy", "ben"}));
  // Amy 10 + 2 + 2; Ben 10 - 1 (answered under version 1, revised since) + 2.
  EXPECT_EQ(text(r, "/people/0/user"), "amy");
  EXPECT_EQ(num(r, "/people/0/score"), 14);
  EXPECT_EQ(num(r, "/people/1/score"), 11);
  EXPECT_EQ(num(r, "/people/1/under_superseded"), 1);
  auto g = text(r, "/guidance/0/id");
  EXPECT_EQ(num(r, "/guidance/0/versions/0/acks"), want.acks_of[g + " v1"]);
  EXPECT_EQ(num(r, "/guidance/0/versions/1/acks"), want.acks_of[g + " v2"]);
  EXPECT_EQ(num(r, "/guidance/0/versions/1/version"), 2);
  // Any node builds the same report from the same timeline.
  auto other = get(static_cast<int>(nodes_->size()) - 1, path);
  ASSERT_EQ(other.status, 200);
  auto strip = [](std::string s) {
    auto at = s.find("\"generated_at\":");
    return s.erase(at, s.find(',', at) - at);
  };
  EXPECT_EQ(strip(other.body), strip(rep.body));
}

TEST_P(report_api, html_and_csv) {
  ASSERT_NO_FATAL_FAILURE(run_crisis());
  auto html = get(0, std::string(path) + "?format=html");
  ASSERT_EQ(html.status, 200);
  EXPECT_EQ(html.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_EQ(html.headers["content-security-policy"],
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
  EXPECT_TRUE(html.body.starts_with("<!DOCTYPE html>"));
  EXPECT_NE(html.body.find("<svg"), std::string::npos);
  auto csv = get(0, std::string(path) + "?format=csv");
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv.headers["content-type"], "text/csv; charset=utf-8");
  EXPECT_TRUE(csv.body.starts_with("id,first_seen,severity,status,"));
  EXPECT_EQ(std::count(csv.body.begin(), csv.body.end(), '\n'), 5) << "a header and 4 alerts";
}

TEST_P(report_api, refusals) {
  auto lead = nodes_->connect(0, "lena", "lead");
  client::create_channel(*lead, "crisis.rep", "Report drill");
  auto code = [](const http_reply& r) {
    dom::parser p;
    dom::element e;
    std::string_view c;
    if (p.parse(r.body).get(e) || e.at_pointer("/error/code").get_string().get(c)) return r.body;
    return std::string(c);
  };
  auto bad_format = get(0, std::string(path) + "?format=pdf");
  EXPECT_EQ(bad_format.status, 400);
  EXPECT_EQ(code(bad_format), "bad_request");
  auto bad_name = get(0, "/api/v1/channels/-nope/report");
  EXPECT_EQ(bad_name.status, 400);
  EXPECT_EQ(code(bad_name), "bad_channel");
  auto ambassador = get(0, path, test_token("amy", "ambassador"));
  EXPECT_EQ(ambassador.status, 403);
  EXPECT_NE(ambassador.body.find("may not read reports"), std::string::npos) << ambassador.body;
  auto elsewhere = get(0, path, test_token("lena", "lead", {"crisis.other*"}));
  EXPECT_EQ(elsewhere.status, 403);
  EXPECT_EQ(code(elsewhere), "forbidden");
  auto nothing = get(0, "/api/v1/channels/crisis.never/report");
  EXPECT_EQ(nothing.status, 404);
  EXPECT_EQ(code(nothing), "not_found");
  EXPECT_NE(nothing.body.find("no channel crisis.never"), std::string::npos);
  EXPECT_EQ(http_request(nodes_->node(0).port(), "POST", path, "", lead_token()).status, 405);
  EXPECT_EQ(get(0, path, "").status, 401);
  EXPECT_EQ(get(0, path).status, 200) << "created: one event";
}

INSTANTIATE_TEST_SUITE_P(engines, report_api, ::testing::Values("memory", "redis"),
                         [](const auto& param_info) { return param_info.param; });
