// The ephemeral concern of the engine contract (short-lived entries, announced outside the
// stream), against every engine.
#include "tests/integration/engines/engine_fixture.hpp"

using namespace muster::server;
using namespace muster::test;
using namespace std::chrono_literals;

class ephemeral_conformance : public engine_fixture {
 protected:
  std::vector<std::pair<std::string, std::string>> entries(std::string channel,
                                                           std::string prefix) {
    return await<std::vector<std::pair<std::string, std::string>>>([&](auto set) {
      eng->ephemeral_list(channel, prefix, [set](std::error_code ec, auto v) {
        EXPECT_FALSE(ec) << ec.message();
        set(std::move(v));
      });
    });
  }
  void put(std::string channel, std::string key, std::string value, std::chrono::milliseconds ttl,
           std::string event) {
    auto ec = await<std::error_code>([&](auto set) {
      eng->ephemeral_set(channel, key, value, ttl, event, [set](std::error_code e) { set(e); });
    });
    EXPECT_FALSE(ec) << ec.message();
  }
  bool delivered(std::string_view marker) {
    std::lock_guard l(sink.m);
    for (auto& [ch, ev] : sink.events)
      if (ev.frame->find(marker) != std::string::npos) return ev.offset == 0 && !ev.presence;
    return false;
  }
};

TEST_P(ephemeral_conformance, entries_are_listed_by_prefix_announced_and_removed) {
  eng->subscribe("e");
  put("e", "a-1 c1", R"({"v":1})", 10s, R"({"event":"x","n":"first"})");
  put("e", "a-1 c2", R"({"v":2})", 10s, R"({"event":"x","n":"second"})");
  put("e", "a-2 c1", R"({"v":3})", 10s, R"({"event":"x","n":"third"})");
  auto of_a1 = entries("e", "a-1 ");
  ASSERT_EQ(of_a1.size(), 2u);
  EXPECT_EQ(of_a1[0].first, "a-1 c1");
  EXPECT_EQ(of_a1[1].second, R"({"v":2})");
  EXPECT_EQ(entries("e", "").size(), 3u);
  EXPECT_TRUE(entries("other", "").empty());
  // Every change is delivered to subscribers outside the stream (no offset, not presence).
  EXPECT_TRUE(run_until([&] { return delivered("third"); }));
  put("e", "a-1 c1", "", 10s, R"({"event":"x","n":"gone"})");
  EXPECT_EQ(entries("e", "a-1 ").size(), 1u);
  EXPECT_TRUE(run_until([&] { return delivered("gone"); }));
  history_result h = history("e", 0, 10);
  EXPECT_EQ(h.top.offset, 0u) << "nothing went into the stream";
}

TEST_P(ephemeral_conformance, an_entry_lapses_after_its_ttl_unless_set_again) {
  put("e", "short", "v1", 300ms, "{}");
  put("e", "long", "v2", 60s, "{}");
  put("e", "renewed", "v3", 300ms, "{}");
  put("e", "renewed", "v3", 60s, "{}");  // set again: the new TTL counts
  EXPECT_TRUE(run_until([&] { return entries("e", "").size() == 2; }))
      << "only the short one lapses";
  auto left = entries("e", "");
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].first, "long");
  EXPECT_EQ(left[1].first, "renewed");
  eng->sweep();  // the in-process engines also drop lapsed entries on their sweep
  EXPECT_EQ(entries("e", "").size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(engines, ephemeral_conformance, engine_kinds, engine_name);
