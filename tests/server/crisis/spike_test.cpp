// The spike detector fed with arrivals at chosen times (no clock, no I/O).
#include "server/crisis/spike.hpp"

#include <gtest/gtest.h>

using namespace muster::server::crisis;
using namespace std::chrono_literals;

namespace {

const time_point t0 = time_point{} + 1'800'000'000s;

spike_policy policy() {
  spike_policy p;
  p.window = 600s;
  p.baseline = 3600s;
  p.factor = 3.0;
  p.rearm_factor = 1.5;
  p.min_alerts = 5;
  return p;
}

// One alert every `every` from `from` for `n` alerts; returns how many spikes they raised.
int feed(spike_state& s, const spike_policy& p, time_point from, std::chrono::seconds every, int n,
         std::uint64_t reach = 100, time_point* last = nullptr) {
  int spikes = 0;
  for (int i = 0; i < n; ++i) {
    auto at = from + every * i;
    if (observe_alert(s, p, at, reach)) ++spikes;
    if (last) *last = at;
  }
  return spikes;
}

}  // namespace

TEST(spike, a_steady_rate_never_spikes) {
  spike_state s;
  EXPECT_EQ(feed(s, policy(), t0, 60s, 180), 0) << "one a minute for three hours";
  auto f = measure(s, policy(), t0 + 180min);
  EXPECT_TRUE(f.baseline_known);
  EXPECT_NEAR(f.factor, 1.0, 0.15);
}

TEST(spike, a_burst_spikes_exactly_once_and_rearms_when_the_rate_falls_back) {
  auto p = policy();
  spike_state s;
  time_point at;
  ASSERT_EQ(feed(s, p, t0, 60s, 120, 100, &at), 0);
  // Twenty alerts in two minutes: one spike, however long the burst goes on.
  int spikes = 0;
  std::optional<spike> first;
  for (int i = 0; i < 40; ++i) {
    auto sp = observe_alert(s, p, at + 6s * (i + 1), 100);
    if (sp && !first) first = sp;
    spikes += sp.has_value();
  }
  EXPECT_EQ(spikes, 1);
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->by_reach);
  EXPECT_GE(first->figures.factor, 3.0);
  EXPECT_GE(first->figures.alerts_in_window, 5u);
  EXPECT_FALSE(s.armed);
  // Back to one a minute: once the burst has left the window the detector is armed again...
  at += 240s;
  EXPECT_EQ(feed(s, p, at, 60s, 20, 100, &at), 0);
  measure(s, p, at);
  EXPECT_TRUE(s.armed);
  // ...and the next burst is a new spike (bigger: the first one is part of the baseline now).
  EXPECT_EQ(feed(s, p, at + 5s, 5s, 60), 1);
}

TEST(spike, a_jump_in_reach_spikes_by_reach) {
  auto p = policy();
  spike_state s;
  time_point at;
  ASSERT_EQ(feed(s, p, t0, 60s, 120, 100, &at), 0);
  auto n = feed(s, p, at + 60s, 60s, 10, 5000);  // same pace, fifty times the reach
  EXPECT_EQ(n, 1);
  auto f = measure(s, p, at + 11min);
  EXPECT_GE(f.reach_factor, 3.0);
}

TEST(spike, no_spike_without_a_window_of_history_or_with_too_few_alerts) {
  auto p = policy();
  spike_state s;
  EXPECT_EQ(feed(s, p, t0, 5s, 30), 0) << "a first burst has nothing to compare with";
  spike_state quiet;
  time_point at;
  feed(quiet, p, t0, 30min, 3, 100, &at);
  at += 11min;  // the last quiet one has left the window
  EXPECT_EQ(feed(quiet, p, at, 10s, 4), 0) << "four alerts are below min_alerts";
  EXPECT_EQ(feed(quiet, p, at + 1min, 10s, 1), 1) << "the fifth makes it one";
}

TEST(spike, history_is_bounded_and_kept_in_time_order) {
  auto p = policy();
  spike_state s;
  feed(s, p, t0, 7s, 5000);
  auto per = (600 + 3600) / 60;  // buckets of a tenth of the window
  EXPECT_LE(s.buckets.size(), static_cast<std::size_t>(per + 2));
  // A node whose clock is a little behind adds to an earlier bucket, in order.
  auto last = t0 + 7s * 4999;
  observe_alert(s, p, last - 2min, 1);
  EXPECT_TRUE(std::is_sorted(s.buckets.begin(), s.buckets.end(),
                             [](const auto& a, const auto& b) { return a.start_ms < b.start_ms; }));
}

TEST(spike, hostile_reach_and_a_zero_window_do_not_break_it) {
  auto p = policy();
  spike_state s;
  for (int i = 0; i < 10; ++i) observe_alert(s, p, t0 + 1s * i, UINT64_MAX);
  EXPECT_EQ(s.buckets.back().reach, UINT64_MAX) << "saturates, never wraps";
  p.window = 0s;
  auto f = measure(s, p, t0 + 20s);
  EXPECT_EQ(f.rate, 0.0);
  EXPECT_FALSE(observe_alert(s, p, t0 + 21s, 1));
}
