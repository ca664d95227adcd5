// The presence concern of the engine contract, against every engine.
#include "tests/integration/engines/engine_fixture.hpp"

using namespace muster::server;
using namespace muster::test;
using namespace std::chrono_literals;

class presence_conformance : public engine_fixture {};

TEST_P(presence_conformance, presence_join_list_leave_and_events) {
  eng->subscribe("p");
  eng->presence_join("p", {"c1", "alice", "u-alice"});
  eng->presence_join("p", {"c2", "bob", "u-bob"});
  ASSERT_TRUE(run_until([&] { return presence("p").size() == 2; }));
  auto list = presence("p");
  EXPECT_EQ(list[0].client, "c1");
  EXPECT_EQ(list[0].user, "u-alice") << "presence names the user, as the directory does";
  EXPECT_EQ(list[1].name, "bob");
  eng->presence_leave("p", {"c1", "alice"});
  ASSERT_TRUE(run_until([&] { return presence("p").size() == 1; }));
  // Join/leave events reach the sink (after the subscription is active).
  eng->presence_join("p", {"c3", "carol"});
  EXPECT_TRUE(run_until([&] {
    std::lock_guard l(sink.m);
    for (auto& [ch, ev] : sink.events)
      if (ev.presence && ev.frame->find("carol") != std::string::npos) return true;
    return false;
  }));
}

INSTANTIATE_TEST_SUITE_P(engines, presence_conformance, engine_kinds, engine_name);
