// Crisis intelligence on the memory engine with an injected clock: spikes raised once across
// nodes, viral reach jumps, reply approval, drills.
#include <gtest/gtest.h>

#include <string>

#include "tests/server/crisis/service_fixture.hpp"

using namespace crisis_test;

namespace {

class crisis_intelligence : public crisis_service {
 protected:
  crisis_intelligence() {
    auto& s = opts_.spike;
    s.policy.window = 60s;
    s.policy.baseline = 600s;
    s.policy.factor = 3;
    s.policy.rearm_factor = 1.5;
    s.policy.min_alerts = 4;
    s.raise_severity = true;
    create_channel("triage", "Everything unrouted");
  }

  // A new alert from `node` with `reach`.
  std::string push_on(service& node, std::string_view url, std::uint64_t reach = 0) {
    auto r = run_on(
        node, "alert.push",
        alert_frame(url, "sev3", "x", ",\"metrics\":{\"reach\":" + std::to_string(reach) + "}"),
        bot_);
    EXPECT_TRUE(r.ok) << r.message;
    return json(r.json).str("/alert/id");
  }
  // One alert a minute from `from` for `minutes`, scanning after each.
  void steady(int minutes, std::string_view tag) {
    for (int i = 0; i < minutes; ++i) {
      now_ += 60s;
      push_on(svc_, "https://x.com/steady/" + std::string(tag) + std::to_string(i), 100);
      scan();
    }
  }
};

TEST_F(crisis_intelligence, a_steady_rate_raises_no_spike) {
  steady(30, "s");
  EXPECT_EQ(count("triage", "channel.spike"), 0u);
}

TEST_F(crisis_intelligence, a_burst_raises_one_spike_across_nodes_and_rearms_when_it_fades) {
  metrics other_metrics(1);
  service other_node(engine_, opts_, other_metrics, clock());
  steady(12, "a");
  // Twelve alerts in twenty seconds, half on each node, each node scanning after every push.
  for (int i = 0; i < 12; ++i) {
    now_ += 2s;
    auto& node = i % 2 ? other_node : svc_;
    push_on(node, "https://x.com/burst/" + std::to_string(i), 1000u * static_cast<unsigned>(i));
    scan_with(node);
  }
  auto spikes = frames("triage", "channel.spike");
  ASSERT_EQ(spikes.size(), 1u);
  json j(spikes[0]);
  EXPECT_EQ(j.str("/data/channel"), "triage");
  EXPECT_EQ(j.flag("/data/drill"), false);
  EXPECT_EQ(j.flag("/data/by_reach"), false);
  EXPECT_GE(j.num("/data/alerts_in_window"), 4);
  EXPECT_EQ(j.num("/data/window_s"), 60);
  EXPECT_EQ(j.num("/data/baseline_s"), 600);
  EXPECT_EQ(j.str("/sender/client"), "scheduler");
  EXPECT_EQ(j.flag("/data/severity_raised"), true);
  // The highest reach first, at most five.
  ASSERT_GE(j.size("/data/top"), 1u);
  EXPECT_LE(j.size("/data/top"), 5u);
  EXPECT_EQ(j.str("/data/top/0/severity"), "sev3");
  EXPECT_GE(j.num("/data/top/0/reach"), j.num("/data/top/1/reach"));
  EXPECT_EQ(count("leads", "channel.spike"), 1u) << "the leads hear of it too";
  EXPECT_EQ(metrics_.total(counter::spikes) + other_metrics.total(counter::spikes), 1u);
  // The channel's severity went up one step, announced once.
  auto updated = frames("triage", "channel.updated");
  ASSERT_EQ(updated.size(), 1u);
  EXPECT_EQ(json(updated[0]).str("/data/channel/severity"), "sev2");
  EXPECT_EQ(json(updated[0]).str("/data/changed/0"), "severity");

  // The rate falls back; a later burst is a new spike.
  steady(12, "b");
  EXPECT_EQ(count("triage", "channel.spike"), 1u);
  for (int i = 0; i < 12; ++i) {
    now_ += 2s;
    push_on(svc_, "https://x.com/burst2/" + std::to_string(i));
  }
  scan();
  EXPECT_EQ(count("triage", "channel.spike"), 2u) << "one batch, one spike";
  EXPECT_EQ(json(frames("triage", "channel.updated").back()).str("/data/channel/severity"), "sev1");
}

TEST_F(crisis_intelligence, spikes_can_be_off_for_a_channel) {
  opts_.spike_channels["triage"] = opts_.spike;
  opts_.spike_channels["triage"].enabled = false;
  steady(12, "a");
  for (int i = 0; i < 12; ++i) {
    now_ += 1s;
    push_on(svc_, "https://x.com/burst/" + std::to_string(i));
  }
  scan();
  EXPECT_EQ(count("triage", "channel.spike"), 0u);
}

TEST_F(crisis_intelligence, a_repeat_whose_reach_jumps_raises_the_alerts_severity) {
  opts_.viral = {10.0, 10000};
  auto id = push_on(svc_, "https://x.com/viral/1", 2000);
  auto again =
      run("alert.push",
          alert_frame("https://x.com/viral/1", "sev3", "x", R"(,"metrics":{"reach":30000})"), bot_);
  ASSERT_TRUE(again.ok) << again.message;
  EXPECT_EQ(json(again.json).flag("/viral"), true);
  EXPECT_EQ(json(again.json).flag("/severity_raised"), true);
  auto updated = frames("triage", "alert.updated");
  ASSERT_EQ(updated.size(), 1u);
  json u(updated[0]);
  EXPECT_EQ(u.str("/data/alert/id"), id);
  EXPECT_EQ(u.str("/data/alert/severity"), "sev2");
  EXPECT_EQ(u.num("/data/alert/reach_jumps"), 1);
  EXPECT_EQ(u.flag("/data/viral"), true);
  EXPECT_EQ(u.flag("/data/severity_raised"), true);
  auto small =
      run("alert.push",
          alert_frame("https://x.com/viral/1", "sev3", "x", R"(,"metrics":{"reach":40000})"), bot_);
  EXPECT_EQ(json(small.json).flag("/viral"), false);
}

}  // namespace
