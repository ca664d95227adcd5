// Crisis intelligence against real servers (one musterd on the memory engine, and two nodes
// sharing a real redis-server): reply approval between an ambassador and a lead on different
// nodes, drills replayed by `muster drill replay`, and a spike raised exactly once by a burst in
// a replayed feed.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/wait.h>

#include <fstream>
#include <future>

#include "clients/lib/blocking_client.hpp"
#include "clients/lib/crisis.hpp"
#include "protocol/codec.hpp"
#include "tests/integration/node_set.hpp"

using namespace muster;
using namespace muster::test;
using namespace std::chrono_literals;
namespace dom = simdjson::dom;

namespace {

struct run_result {
  int status = -1;
  std::string out;
};

// Runs `muster drill replay FILE ARGS` (bounded by `timeout`).
run_result replay(const std::filesystem::path& file, const std::vector<std::string>& args,
                  const std::filesystem::path& out_path) {
  std::string cmd =
      "timeout 120 " + std::string(MUSTER_CLI_PATH) + " drill replay '" + file.string() + "'";
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " > '" + out_path.string() + "' 2>&1";
  int status = std::system(cmd.c_str());
  std::ifstream out(out_path);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1,
          std::string((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>())};
}

// The stored events of `channel` called `name` (as JSON texts), read on `c`.
std::vector<std::string> events_of(client::blocking_client& c, const std::string& channel,
                                   std::string_view name) {
  std::vector<std::string> out;
  std::uint64_t since = 0;
  for (int page = 0; page < 20; ++page) {
    auto h = c.call("history", "\"channel\":\"" + channel +
                                   "\",\"since\":" + std::to_string(since) + ",\"limit\":1000");
    dom::parser p;
    dom::element e;
    dom::array pubs;
    if (h.is_error || p.parse(h.result).get(e) || e["publications"].get_array().get(pubs))
      return out;
    if (pubs.size() == 0) break;
    for (dom::element pub : pubs) {
      std::string_view ev;
      std::uint64_t offset = 0;
      if (!pub["offset"].get_uint64().get(offset)) since = offset;
      if (!pub["event"].get_string().get(ev) && ev == name) out.emplace_back(simdjson::minify(pub));
    }
  }
  return out;
}

std::optional<bool> flag_at(const std::string& json, std::string_view ptr) {
  dom::parser p;
  dom::element e;
  bool v = false;
  if (p.parse(json).get(e) || e.at_pointer(ptr).get_bool().get(v)) return std::nullopt;
  return v;
}

std::string line(std::int64_t at_ms, const std::string& url, std::uint64_t reach = 100) {
  return R"({"source":"x","url":")" + url + R"(","text":"kettle","metrics":{"reach":)" +
         std::to_string(reach) + R"(},"at":)" + std::to_string(at_ms) + "}\n";
}

class crisis_intelligence : public ::testing::TestWithParam<std::string> {
 protected:
  void start(std::vector<std::string> more = {}) {
    std::vector<std::string> args;
    for (const char* kv : {"crisis.scan_interval_ms=100", "limits.command_rate=100000",
                           "limits.command_burst=100000"})
      args.insert(args.end(), {"--set", kv});
    for (auto& kv : more) args.insert(args.end(), {"--set", kv});
    nodes_ = std::make_unique<node_set>(GetParam(), args);
    ASSERT_TRUE(nodes_->ready()) << nodes_->logs();
    lead_ = nodes_->connect(0, "lena", "lead");
  }
  std::string url(int node) {
    return "ws://127.0.0.1:" + std::to_string(nodes_->node(node).port()) + "/ws";
  }
  std::filesystem::path dir() { return nodes_->node(0).dir(); }

  std::unique_ptr<node_set> nodes_;
  std::unique_ptr<client::blocking_client> lead_;
};

TEST_P(crisis_intelligence, approvals_flow_between_an_ambassador_and_a_lead_on_different_nodes) {
  start();
  client::create_channel(*lead_, "crisis.ap", "Approvals");
  client::require_approval(*lead_, "crisis.ap", true);
  auto ana = nodes_->connect(1, "ana", "ambassador");
  auto bot = nodes_->connect(1, "scout", "bot");
  ASSERT_FALSE(ana->call("subscribe", R"("channel":"crisis.ap")").is_error);
  client::alert_post post;
  post.source = "x";
  post.url = "https://x.com/brand/status/77";
  post.channel = "crisis.ap";
  auto alert = client::push_alert(*bot, post);
  client::claim_alert(*ana, "crisis.ap", alert.id);

  try {
    client::respond_alert(*ana, "crisis.ap", alert.id, "https://x.com/r/1");
    FAIL() << "an unapproved reply was recorded";
  } catch (const client::command_error& e) {
    EXPECT_EQ(e.code, "approval_required");
  }
  auto p1 = client::propose_reply(*ana, "crisis.ap", alert.id, "We are looking into it");
  EXPECT_EQ(p1.state, "pending");
  ASSERT_TRUE(
      eventually([&] { return client::pending_approvals(*lead_, "crisis.ap").size() == 1; }, 5s));
  auto queue = client::pending_approvals(*lead_, "crisis.ap");
  EXPECT_EQ(queue[0].id, p1.id);
  EXPECT_EQ(queue[0].alert_id, alert.id);

  client::reject_reply(*lead_, "crisis.ap", alert.id, p1.id, "Say sorry first");
  std::optional<client::server_message> told;
  for (int i = 0; i < 100 && !told; ++i) {
    auto ev = ana->next_event(100ms);
    if (ev && ev->event == "alert.rejected") told = ev;
  }
  ASSERT_TRUE(told) << "the ambassador is told live";
  EXPECT_NE(told->raw.find("Say sorry first"), std::string::npos) << told->raw;

  auto p2 = client::propose_reply(*ana, "crisis.ap", alert.id, "Sorry; we are on it");
  client::approve_reply(*lead_, "crisis.ap", alert.id, p2.id, "Sorry. We are on it.");
  std::optional<client::server_message> approved;
  for (int i = 0; i < 100 && !approved; ++i) {
    auto ev = ana->next_event(100ms);
    if (ev && ev->event == "alert.approved") approved = ev;
  }
  ASSERT_TRUE(approved);
  try {
    client::respond_alert(*ana, "crisis.ap", alert.id, "https://x.com/r/1", "Something else");
    FAIL() << "a reply other than the approved one was recorded";
  } catch (const client::command_error& e) {
    EXPECT_EQ(e.code, "approval_required");
  }
  client::respond_alert(*ana, "crisis.ap", alert.id, "https://x.com/r/1");
  auto got = lead_->call("alert.get", "\"channel\":\"crisis.ap\",\"alert\":\"" + alert.id + "\"");
  EXPECT_NE(got.result.find(R"("reply_text":"Sorry. We are on it.")"), std::string::npos)
      << got.result;
  EXPECT_EQ(events_of(*lead_, "crisis.ap", "alert.proposed").size(), 2u);
}

TEST_P(crisis_intelligence, a_replay_names_malformed_lines_and_replays_the_rest) {
  start();
  auto feed = dir() / "feed.jsonl";
  std::ofstream(feed) << line(1000, "https://x.com/a/status/1") << "{not json\n"
                      << "[1,2]\n"
                      << R"({"source":"x","text":"no url"})"
                      << "\n"
                      << line(2000, "https://x.com/a/status/2")
                      << R"({"event":"message","channel":"c","data":"hi"})"
                      << "\n"
                      << R"({"source":"x","url":"https://x.com/a/3","metrics":{"reach":"12k"}})"
                      << "\n";
  auto token = test_token("lena", "lead");
  auto r =
      replay(feed, {"--channel", "drill.bad", "--url", url(0), "--token", token, "--speed", "100"},
             dir() / "out.txt");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("line 2: not valid JSON"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("line 3: not a JSON object"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("line 4: url is required"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("line 7: metrics.reach must be a non-negative integer"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("replayed 2 alerts"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 other events skipped"), std::string::npos) << r.out;
  auto list = lead_->call("alert.list", R"("channel":"drill.bad")");
  EXPECT_EQ(client::json_uint(list.result, "total"), 2u) << list.raw;
  EXPECT_NE(list.result.find(R"("drill":true)"), std::string::npos);
  auto ch = lead_->call("channel.get", R"("channel":"drill.bad")");
  EXPECT_EQ(flag_at(ch.result, "/channel/drill"), true) << "created as a drill";

  // Never into a real channel: nothing is pushed there.
  client::create_channel(*lead_, "crisis.real", "Real");
  auto refused = replay(feed, {"--channel", "crisis.real", "--url", url(0), "--token", token},
                        dir() / "out2.txt");
  EXPECT_EQ(refused.status, 2) << refused.out;
  EXPECT_NE(refused.out.find("is not a drill channel"), std::string::npos) << refused.out;
  EXPECT_EQ(
      client::json_uint(lead_->call("alert.list", R"("channel":"crisis.real")").result, "total"),
      0u);
  // Nor into the server's own channels, created or not.
  auto triage =
      replay(feed, {"--channel", "triage", "--url", url(0), "--token", token}, dir() / "out3.txt");
  EXPECT_NE(triage.status, 0) << triage.out;
  EXPECT_NE(triage.out.find("a drill needs a channel of its own"), std::string::npos) << triage.out;
  EXPECT_EQ(client::json_uint(lead_->call("alert.list", R"("channel":"triage")").result, "total"),
            0u);
}

TEST_P(crisis_intelligence, alerts_pushed_into_a_channel_over_http_and_websocket) {
  start();
  client::create_channel(*lead_, "drill.http", "HTTP drill", "sev3", true);
  auto port = nodes_->node(0).port();
  auto bot = test_token("scout", "bot");
  auto post = [&](const std::string& body, const std::string& token) {
    return http_request(port, "POST", "/api/v1/alerts", body, token);
  };
  auto base = std::string(R"({"source":"x","url":"https://x.com/h/status/1")");
  auto typed = post(base + R"(,"channel":5})", bot);
  EXPECT_EQ(typed.status, 400);
  EXPECT_NE(typed.body.find("channel must be a string"), std::string::npos) << typed.body;
  auto bad = post(base + R"(,"channel":"no spaces"})", bot);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find(R"("code":"bad_channel")"), std::string::npos) << bad.body;
  auto limited = test_token("scout2", "bot", {"crisis.*"});
  auto outside = post(base + R"(,"channel":"drill.http"})", limited);
  EXPECT_EQ(outside.status, 403) << outside.body;
  auto ok = post(base + R"(,"channel":"drill.http"})", bot);
  EXPECT_EQ(ok.status, 202) << ok.body;
  EXPECT_EQ(flag_at(ok.body, "/alert/drill"), true);
  auto ws = nodes_->connect(1, "scout3", "bot");
  auto empty =
      ws->call("alert.push", R"("source":"x","url":"https://x.com/h/status/2","channel":"")");
  EXPECT_TRUE(empty.is_error);
  EXPECT_EQ(empty.error_message, "channel must not be empty");
  client::blocking_client lim(nodes_->node(1).endpoint());
  lim.connect("lim", limited);
  auto forbidden = lim.call(
      "alert.push", R"("source":"x","url":"https://x.com/h/status/3","channel":"drill.http")");
  EXPECT_EQ(forbidden.error_code, "forbidden");
  EXPECT_EQ(forbidden.error_message, "channel is not in the token's channel allow-list");

  // The report through the client library's typed call.
  client::http_client http;
  auto base_url = "http://127.0.0.1:" + std::to_string(port);
  auto lead = test_token("lena", "lead");
  auto report = client::fetch_report(http, base_url, lead, "drill.http");
  EXPECT_EQ(flag_at(report, "/drill"), true) << report;
  EXPECT_NE(client::fetch_report(http, base_url, lead, "drill.http", "csv").find("\r\n"),
            std::string::npos);
  try {
    client::fetch_report(http, base_url, lead, "nothing.here");
    FAIL() << "a report of a channel with no events";
  } catch (const client::command_error& e) {
    EXPECT_EQ(e.code, "not_found");
  }
}

TEST_P(crisis_intelligence, watchers_hear_of_new_channels_within_their_allow_list) {
  start();
  auto ana = nodes_->connect(1, "ana", "ambassador");
  client::blocking_client limited(nodes_->node(1).endpoint());
  limited.connect("lim", test_token("zed", "ambassador", {"crisis.*"}));
  auto plain = nodes_->connect(1, "ben", "ambassador");
  for (auto* c : {ana.get(), &limited}) {
    auto r = c->call("channel.list", R"("watch":true)");
    ASSERT_FALSE(r.is_error) << r.raw;
  }
  auto typed = plain->call("channel.list", R"("watch":"yes")");
  EXPECT_EQ(typed.error_message, "watch must be true or false");
  ASSERT_FALSE(plain->call("channel.list").is_error) << "a plain list watches nothing";
  client::create_channel(*lead_, "crisis.new", "New crisis");
  client::create_channel(*lead_, "other.new", "Elsewhere");
  // Up to `tries` tenths of a second: a second suffices for what must not come, as what must
  // (sent at the same time to the same node) came already.
  auto next = [](client::blocking_client& c, std::string_view name, int tries = 100) {
    for (int i = 0; i < tries; ++i) {
      auto ev = c.next_event(100ms);
      if (ev && ev->event == name) return ev;
    }
    return std::optional<client::server_message>{};
  };
  auto first = next(*ana, "channel.created");
  ASSERT_TRUE(first) << "a channel created on another node arrives without a reload";
  EXPECT_EQ(first->channel, "_channels");
  EXPECT_NE(first->raw.find(R"("channel":"crisis.new")"), std::string::npos) << first->raw;
  auto second = next(*ana, "channel.created");
  ASSERT_TRUE(second);
  EXPECT_NE(second->raw.find(R"("channel":"other.new")"), std::string::npos);
  auto mine = next(limited, "channel.created");
  ASSERT_TRUE(mine);
  EXPECT_NE(mine->raw.find(R"("channel":"crisis.new")"), std::string::npos);
  EXPECT_FALSE(next(limited, "channel.created", 10)) << "other.new is outside its allow-list";
  EXPECT_FALSE(next(*plain, "channel.created", 10));
  lead_->call("channel.update", R"("channel":"crisis.new","status":"monitoring")");
  EXPECT_TRUE(next(*ana, "channel.updated"));
  ASSERT_FALSE(ana->call("channel.list", R"("watch":false)").is_error);
  lead_->call("channel.update", R"("channel":"crisis.new","status":"resolved")");
  EXPECT_TRUE(next(limited, "channel.updated")) << "the other watcher still hears";
  EXPECT_TRUE(next(limited, "channel.updated"));
  EXPECT_FALSE(next(*ana, "channel.updated", 10)) << "stopped watching";
}

TEST_P(crisis_intelligence, a_drill_replayed_at_20x_raises_its_spike_exactly_once) {
  if (GetParam() != "redis") GTEST_SKIP() << "across nodes: two nodes on redis";
  start({"spike.window_s=10", "spike.baseline_s=60", "spike.min_alerts=5", "spike.factor=3",
         "spike.rearm_factor=1.5"});
  client::create_channel(*lead_, "drill.spike", "Spike drill", "sev3", true);
  // Original times: one post every 20 s for 480 s, then 40 in 40 s, then three more, 20 s apart.
  // At 20x: one a second for 24 s (more than a window of history before the burst), then twenty
  // a second, then one a second. Half the feed goes through each node, so both nodes' batches
  // carry the burst.
  std::string halves[2];
  std::int64_t t = 1767225600000;
  int n = 0;
  auto add = [&](std::int64_t gap_ms) {
    t += gap_ms;
    halves[n % 2] += line(t, "https://x.com/feed/status/" + std::to_string(n), 1000);
    ++n;
  };
  for (int i = 0; i < 24; ++i) add(20000);
  for (int i = 0; i < 40; ++i) add(1000);
  for (int i = 0; i < 3; ++i) add(20000);
  std::filesystem::path files[2] = {dir() / "half0.jsonl", dir() / "half1.jsonl"};
  for (int i = 0; i < 2; ++i) std::ofstream(files[i]) << halves[i];
  auto token = test_token("lena", "lead");
  std::future<run_result> runs[2];
  for (int i = 0; i < 2; ++i)
    runs[i] = std::async(std::launch::async, [&, i] {
      return replay(
          files[i],
          {"--channel", "drill.spike", "--url", url(i), "--token", token, "--speed", "20"},
          dir() / ("replay" + std::to_string(i) + ".txt"));
    });
  for (auto& r : runs) {
    auto res = r.get();
    EXPECT_EQ(res.status, 0) << res.out;
    EXPECT_NE(res.out.find("alerts (0 folded"), std::string::npos) << res.out;
  }
  ASSERT_TRUE(
      eventually([&] { return !events_of(*lead_, "drill.spike", "channel.spike").empty(); }, 5s))
      << nodes_->logs();
  std::this_thread::sleep_for(1s);  // every batch folded in (scans run every 100 ms)
  auto spikes = events_of(*lead_, "drill.spike", "channel.spike");
  ASSERT_EQ(spikes.size(), 1u) << spikes.back();
  EXPECT_EQ(flag_at(spikes[0], "/data/drill"), true);
  EXPECT_EQ(events_of(*lead_, "leads", "channel.spike").size(), 1u);
  auto report =
      http_request(nodes_->node(1).port(), "GET", "/api/v1/channels/drill.spike/report", "", token);
  ASSERT_EQ(report.status, 200) << report.body;
  EXPECT_EQ(flag_at(report.body, "/drill"), true);
  dom::parser p;
  dom::element e;
  dom::array arr;
  ASSERT_FALSE(p.parse(report.body).get(e));
  ASSERT_FALSE(e.at_pointer("/volume/spikes").get_array().get(arr));
  EXPECT_EQ(arr.size(), 1u);
  dom::element scoring;
  EXPECT_FALSE(e.at_pointer("/drill_scoring/score").get(scoring)) << "a drill is scored";
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(engines, crisis_intelligence, ::testing::Values("memory", "redis"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });
