// A full crisis drill against real musterd processes (one node with the memory engine, or two
// nodes sharing a real redis-server with the ambassadors split across them): a bot pushes 200
// alerts with duplicates and rising severities, five ambassadors race to claim them, the
// unclaimed ones escalate exactly once, a lead's guidance is acknowledged by four of five,
// and the timeline export and stats match what the clients saw.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "clients/lib/blocking_client.hpp"
#include "tests/integration/node_set.hpp"

using namespace muster;
using namespace muster::test;
using namespace std::chrono_literals;
namespace dom = simdjson::dom;

namespace {

constexpr int unique_alerts = 150;
constexpr int duplicates = 50;
constexpr int held_out = 10;  // alerts nobody claims: they must escalate
constexpr int ambassadors = 5;

std::string str(dom::element e, std::string_view key) {
  std::string_view v;
  if (e[key].get_string().get(v)) return {};
  return std::string(v);
}
std::int64_t num(dom::element e, std::string_view key) {
  std::int64_t v = -1;
  if (e[key].get_int64().get(v)) return -1;
  return v;
}

std::string url_of(int i, bool variant) {
  // The duplicate is the same post reached through a different link.
  return variant
             ? "HTTPS://X.com/brand/status/" + std::to_string(i) + "/?utm_source=rt&utm_medium=s"
             : "https://x.com/brand/status/" + std::to_string(i);
}

// Severities: every 10th post is sev1; the first 20 duplicates come back as sev2 (rising,
// except over a sev1); the others repeat sev3.
std::string original_severity(int i) {
  return i % 10 == 0 ? "sev1" : "sev3";
}
std::string duplicate_severity(int i) {
  return i < 20 ? "sev2" : "sev3";
}

class crisis_drill : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("muster-drill-" + std::to_string(::getpid()) + "-" + GetParam());
    std::filesystem::create_directories(dir_);
    auto conf = dir_ / "musterd.toml";
    std::ofstream(conf) << R"(
[crisis]
scan_interval_ms = 200
reminder_after_s = 2
# The drill races 5 ambassadors for 200 alerts: no cap on how many one may win.
claim_limit = 0
[escalation]
sev1_escalate_after_s = 8
sev2_escalate_after_s = 8
sev3_escalate_after_s = 8
sev4_escalate_after_s = 8
sev1_respond_within_s = 3600
sev2_respond_within_s = 3600
sev3_respond_within_s = 3600
sev4_respond_within_s = 3600
[limits]
command_rate = 100000
command_burst = 100000
publish_rate = 100000
publish_burst = 100000
[[route]]
sources = ["x", "reddit", "mastodon", "news"]
channels = ["crisis.drill"]
[[route]]
min_severity = "sev1"
channels = ["crisis.exec"]
)";
    nodes_ =
        std::make_unique<node_set>(GetParam(), std::vector<std::string>{"--config", conf.string()});
    ASSERT_TRUE(nodes_->ready()) << nodes_->logs();
  }
  void TearDown() override {
    nodes_.reset();
    std::filesystem::remove_all(dir_);
  }
  server_process& node(int i) { return nodes_->node(i); }
  std::unique_ptr<client::blocking_client> connect(int on, const std::string& sub,
                                                   const std::string& role) {
    return nodes_->connect(on, sub, role);
  }
  std::string logs() { return nodes_->logs(); }

  std::filesystem::path dir_;
  std::unique_ptr<node_set> nodes_;
};

}  // namespace

TEST_P(crisis_drill, two_hundred_alerts_five_ambassadors_escalation_guidance_timeline_stats) {
  dom::parser parser;
  // An observer subscribed before anything happens sees the whole timeline live.
  auto observer = connect(1, "olga", "lead");
  ASSERT_FALSE(observer->call("subscribe", R"("channel":"crisis.drill")").is_error);
  ASSERT_FALSE(observer->call("subscribe", R"("channel":"leads")").is_error);
  auto lead = connect(0, "lena", "lead");
  auto created =
      lead->call("channel.create", R"("channel":"crisis.drill","title":"Drill","severity":"sev2")");
  ASSERT_FALSE(created.is_error) << created.raw;
  ASSERT_FALSE(lead->call("channel.create", R"("channel":"crisis.exec","title":"Exec")").is_error);
  EXPECT_EQ(lead->call("channel.create", R"("channel":"crisis.drill","title":"again")").error_code,
            "already_exists");

  std::vector<std::unique_ptr<client::blocking_client>> amb;
  for (int a = 0; a < ambassadors; ++a) {
    amb.push_back(connect(a, "amb" + std::to_string(a), "ambassador"));
    ASSERT_FALSE(amb.back()->call("subscribe", R"("channel":"crisis.drill")").is_error);
  }

  // The bot: half over HTTP (to the last node), half over WebSocket (first node).
  auto bot = connect(0, "alertbot", "bot");
  auto bot_token = test_token("alertbot", "bot");
  std::map<int, std::string> id_of;
  int dedup_replies = 0, raised = 0;
  for (int k = 0; k < unique_alerts + duplicates; ++k) {
    bool dup = k >= unique_alerts;
    int i = dup ? k - unique_alerts : k;
    std::string body = R"("source":"x","url":")" + url_of(i, dup) + R"(","author":"@user)" +
                       std::to_string(i) + R"(","text":"post )" + std::to_string(i) +
                       R"( about the brand","severity":")" +
                       (dup ? duplicate_severity(i) : original_severity(i)) +
                       R"(","tags":["drill"],"metrics":{"reach":)" + std::to_string(100 * (k + 1)) +
                       R"(,"engagement":7},"occurred_at":"2026-11-27T10:00:00Z")";
    std::string result;
    if (k % 2 == 0) {
      auto r = http_request(node(1).port(), "POST", "/api/v1/alerts", "{" + body + "}", bot_token);
      ASSERT_EQ(r.status, 202) << r.body;
      result = r.body;
    } else {
      auto r = bot->call("alert.push", body);
      ASSERT_FALSE(r.is_error) << r.raw;
      result = r.result;
    }
    dom::element e;
    ASSERT_FALSE(parser.parse(result).get(e)) << result;
    auto id = str(e["alert"], "id");
    bool deduplicated = false;
    ASSERT_FALSE(e["deduplicated"].get_bool().get(deduplicated));
    EXPECT_EQ(deduplicated, dup) << result;
    EXPECT_EQ(str(e["alert"], "channel"), "crisis.drill");
    if (dup) {
      ++dedup_replies;
      EXPECT_EQ(id, id_of[i]) << "duplicate " << i << " made a new alert";
      bool r = false;
      ASSERT_FALSE(e["severity_raised"].get_bool().get(r));
      raised += r;
    } else {
      id_of[i] = id;
    }
  }
  EXPECT_EQ(dedup_replies, duplicates);
  EXPECT_EQ(raised, 18);  // the first 20 duplicates rose to sev2, except the two sev1 posts
  {
    auto r = lead->call("alert.list", R"("channel":"crisis.drill")");
    dom::element e;
    ASSERT_FALSE(parser.parse(r.result).get(e));
    dom::array list;
    ASSERT_FALSE(e["alerts"].get_array().get(list));
    EXPECT_EQ(list.size(), static_cast<std::size_t>(unique_alerts));
    auto sev1 = lead->call("alert.list", R"("channel":"crisis.exec")");  // copies, not alerts
    EXPECT_FALSE(sev1.is_error);
  }

  // The race: every ambassador tries every claimable alert, in its own order, pipelined.
  std::vector<std::string> claimable;
  for (int i = 0; i < unique_alerts - held_out; ++i) claimable.push_back(id_of[i]);
  std::vector<std::vector<std::string>> wins(ambassadors);
  std::vector<std::vector<std::pair<std::string, std::string>>> losses(ambassadors);
  std::atomic<int> failures{0};
  std::vector<std::thread> racers;
  for (int a = 0; a < ambassadors; ++a)
    racers.emplace_back([&, a] {
      try {
        auto order = claimable;
        std::shuffle(order.begin(), order.end(), std::mt19937(static_cast<unsigned>(a) + 1));
        std::vector<std::pair<std::uint64_t, std::string>> sent;
        for (auto& id : order)
          sent.emplace_back(amb[a]->send_command(
                                "alert.claim", R"("channel":"crisis.drill","alert":")" + id + "\""),
                            id);
        for (auto& [cid, id] : sent) {
          auto r = amb[a]->wait_reply(cid, 30s);
          if (!r.is_error) {
            wins[a].push_back(id);
          } else if (r.error_code == "already_claimed") {
            dom::parser p;
            dom::element e;
            if (p.parse(r.raw).get(e)) {
              ++failures;
              continue;
            }
            losses[a].emplace_back(id, str(e["error"]["holder"], "user"));
          } else {
            ++failures;
          }
        }
      } catch (const std::exception&) {
        ++failures;
      }
    });
  for (auto& t : racers) t.join();
  ASSERT_EQ(failures.load(), 0) << logs();
  std::map<std::string, std::string> winner;
  std::size_t total_wins = 0;
  for (int a = 0; a < ambassadors; ++a)
    for (auto& id : wins[a]) {
      ++total_wins;
      EXPECT_TRUE(winner.emplace(id, "amb" + std::to_string(a)).second) << id << " won twice";
    }
  EXPECT_EQ(total_wins, claimable.size());  // each alert claimed exactly once
  EXPECT_EQ(winner.size(), claimable.size());
  for (int a = 0; a < ambassadors; ++a) {
    EXPECT_EQ(wins[a].size() + losses[a].size(), claimable.size());
    for (auto& [id, holder] : losses[a]) EXPECT_EQ(holder, winner[id]) << id;
  }

  // Each ambassador answers (up to) two of the posts it holds.
  std::set<std::string> responded;
  for (int a = 0; a < ambassadors; ++a)
    for (std::size_t k = 0; k < 2 && k < wins[a].size(); ++k) {
      auto r = amb[a]->call("alert.respond", R"("channel":"crisis.drill","alert":")" + wins[a][k] +
                                                 R"(","reply_url":"https://x.com/brand/reply/)" +
                                                 std::to_string(a) + "\"");
      EXPECT_FALSE(r.is_error) << r.raw;
      responded.insert(wins[a][k]);
    }
  // Someone else's claim is not theirs to answer.
  {
    std::string other;
    for (auto& [id, who] : winner)
      if (!responded.count(id)) other = id;
    ASSERT_FALSE(other.empty());
    int not_holder = winner[other] == "amb0" ? 1 : 0;
    auto r = amb[not_holder]->call(
        "alert.respond", R"("channel":"crisis.drill","alert":")" + other + R"(","reply_text":"x")");
    EXPECT_EQ(r.error_code, "forbidden");
  }

  // Guidance: four of five acknowledge; the lead sees exactly who did not.
  auto posted =
      lead->call("guidance.post", R"("channel":"crisis.drill","kind":"holding_statement",)"
                                  R"("title":"Hold","body":"We are looking into it.")");
  ASSERT_FALSE(posted.is_error) << posted.raw;
  std::string gid;
  {
    dom::element e;
    ASSERT_FALSE(parser.parse(posted.result).get(e));
    gid = str(e["guidance"], "id");
  }
  for (int a = 0; a < ambassadors - 1; ++a) {
    auto r = amb[a]->call("guidance.ack", R"("channel":"crisis.drill","guidance":")" + gid + "\"");
    EXPECT_FALSE(r.is_error) << r.raw;
  }
  EXPECT_EQ(client::json_bool(
                amb[0]
                    ->call("guidance.ack", R"("channel":"crisis.drill","guidance":")" + gid + "\"")
                    .result,
                "already"),
            true);
  {
    auto st =
        lead->call("guidance.status", R"("channel":"crisis.drill","guidance":")" + gid + "\"");
    ASSERT_FALSE(st.is_error) << st.raw;
    dom::element e;
    ASSERT_FALSE(parser.parse(st.result).get(e));
    std::set<std::string> acked, pending;
    for (auto x : e["acknowledged"].get_array()) acked.insert(str(x, "user"));
    for (auto x : e["pending"].get_array()) pending.insert(str(x, "user"));
    EXPECT_EQ(acked, (std::set<std::string>{"amb0", "amb1", "amb2", "amb3"}));
    EXPECT_EQ(pending, (std::set<std::string>{"amb4"}));
  }

  // Watch the live stream until the held-out alerts escalated and the reminder went out.
  std::vector<client::server_message> seen;
  std::set<std::string> escalated_in_drill, escalated_in_leads;
  int escalations_in_drill = 0, reminders = 0;
  auto consume = [&](std::chrono::milliseconds wait) {
    while (auto ev = observer->next_event(wait)) {
      if (ev->channel == "crisis.drill") seen.push_back(*ev);
      if (ev->event == "alert.escalated") {
        dom::parser p;
        dom::element e;
        if (p.parse(ev->data).get(e)) continue;
        auto id = str(e["alert"], "id");
        std::int64_t step = 0;
        EXPECT_FALSE(e["step"].get_int64().get(step)) << ev->data;
        EXPECT_EQ(step, 1);
        EXPECT_EQ(str(e, "reason"), "unclaimed");
        if (ev->channel == "crisis.drill") {
          ++escalations_in_drill;
          escalated_in_drill.insert(id);
        } else if (ev->channel == "leads") {
          escalated_in_leads.insert(id);
        }
      }
      if (ev->event == "guidance.reminder" && ev->channel == "crisis.drill") {
        ++reminders;
        dom::parser p;
        dom::element e;
        if (!p.parse(ev->data).get(e)) {
          std::set<std::string> pending;
          for (auto x : e["pending"].get_array()) pending.insert(str(x, "user"));
          EXPECT_EQ(pending, (std::set<std::string>{"amb4"}));
        }
      }
      wait = 10ms;
    }
  };
  auto deadline = std::chrono::steady_clock::now() + 40s;
  while ((escalations_in_drill < held_out || reminders < 1) &&
         std::chrono::steady_clock::now() < deadline)
    consume(200ms);
  // A few more scan passes on every node: nothing may be raised twice.
  std::this_thread::sleep_for(1500ms);
  consume(200ms);
  std::set<std::string> expected_escalations;
  for (int i = unique_alerts - held_out; i < unique_alerts; ++i)
    expected_escalations.insert(id_of[i]);
  EXPECT_EQ(escalations_in_drill, held_out) << logs();
  EXPECT_EQ(escalated_in_drill, expected_escalations);
  EXPECT_EQ(escalated_in_leads, expected_escalations);
  EXPECT_EQ(reminders, 1);

  // The timeline export (from the other node) is exactly what the observer saw, in order.
  auto tl = http_request(node(static_cast<int>(nodes_->size()) - 1).port(), "GET",
                         "/api/v1/channels/crisis.drill/timeline", "", test_token("lena", "lead"));
  ASSERT_EQ(tl.status, 200) << tl.body;
  EXPECT_EQ(tl.headers["x-muster-first-offset"], "1");
  std::vector<std::string> lines;
  for (std::size_t start = 0; start < tl.body.size();) {
    auto nl = tl.body.find('\n', start);
    lines.push_back(tl.body.substr(start, nl - start));
    start = nl == std::string::npos ? tl.body.size() : nl + 1;
  }
  ASSERT_EQ(lines.size(), seen.size());
  for (std::size_t k = 0; k < lines.size(); ++k) EXPECT_EQ(lines[k], seen[k].raw) << "line " << k;
  std::map<std::string, int> kinds;
  int raised_events = 0;
  for (auto& ev : seen) {
    ++kinds[ev.event];
    raised_events += ev.event == "alert.updated" &&
                     ev.data.find(R"("severity_raised":true)") != std::string::npos;
  }
  EXPECT_EQ(raised_events, raised);  // the re-notification travels with the event
  EXPECT_EQ(kinds["channel.created"], 1);
  EXPECT_EQ(kinds["alert.new"], unique_alerts);
  EXPECT_EQ(kinds["alert.updated"], duplicates);
  EXPECT_EQ(kinds["alert.claimed"], unique_alerts - held_out);
  EXPECT_EQ(kinds["alert.responded"], static_cast<int>(responded.size()));
  EXPECT_EQ(kinds["guidance.posted"], 1);
  EXPECT_EQ(kinds["guidance.acked"], ambassadors - 1);
  EXPECT_EQ(kinds["alert.escalated"], held_out);
  EXPECT_EQ(kinds["guidance.reminder"], 1);

  // Stats: the record of who carried the crisis.
  auto stats = http_request(node(0).port(), "GET", "/api/v1/stats?channel=crisis.drill", "",
                            test_token("lena", "lead"));
  ASSERT_EQ(stats.status, 200) << stats.body;
  dom::element s;
  ASSERT_FALSE(parser.parse(stats.body).get(s)) << stats.body;
  dom::element ch = s["channels"].at(0);
  EXPECT_EQ(num(ch["alerts"], "total"), unique_alerts);
  EXPECT_EQ(num(ch["alerts"], "new"), held_out);
  EXPECT_EQ(num(ch["alerts"], "claimed"),
            unique_alerts - held_out - static_cast<std::int64_t>(responded.size()));
  EXPECT_EQ(num(ch["alerts"], "responded"), static_cast<std::int64_t>(responded.size()));
  EXPECT_EQ(num(ch["alerts"], "escalated"), held_out);
  EXPECT_EQ(num(ch["alerts"], "triggers"), unique_alerts + duplicates);
  EXPECT_GE(num(ch, "median_time_to_claim_ms"), 0);
  EXPECT_GE(num(ch, "median_time_to_respond_ms"), 0);
  EXPECT_EQ(num(ch["guidance"], "posted"), 1);
  EXPECT_EQ(num(ch["guidance"], "acks"), ambassadors - 1);
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> people;
  std::map<std::string, std::int64_t> acks;
  for (auto p : ch["people"].get_array()) {
    people[str(p, "user")] = {num(p, "claimed"), num(p, "responded")};
    acks[str(p, "user")] = num(p, "acks");
  }
  for (int a = 0; a < ambassadors; ++a) {
    auto user = "amb" + std::to_string(a);
    EXPECT_EQ(people[user].first, static_cast<std::int64_t>(wins[a].size())) << user;
    EXPECT_EQ(people[user].second,
              std::min<std::int64_t>(2, static_cast<std::int64_t>(wins[a].size())))
        << user;
    EXPECT_EQ(acks[user], a < ambassadors - 1 ? 1 : 0) << user;
  }
  // The WebSocket stats command says the same.
  auto ws_stats = lead->call("stats", R"("channel":"crisis.drill")");
  ASSERT_FALSE(ws_stats.is_error);
  EXPECT_NE(ws_stats.result.find(R"("total":150)"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(engines, crisis_drill, ::testing::Values("memory", "embedded", "redis"),
                         [](const auto& p) { return p.param; });
