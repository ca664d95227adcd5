// The stream concern of the engine contract, against every engine.
#include "tests/integration/engines/engine_fixture.hpp"

using namespace muster::server;
using namespace muster::test;
using namespace std::chrono_literals;

class stream_conformance : public engine_fixture {};

TEST_P(stream_conformance, offsets_increase_by_one_within_an_epoch) {
  auto a = publish("c", "1"), b = publish("c", "2"), other = publish("d", "1");
  EXPECT_EQ(a.offset, 1u);
  EXPECT_EQ(b.offset, 2u);
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_FALSE(a.epoch.empty());
  EXPECT_EQ(other.offset, 1u);
}

TEST_P(stream_conformance, history_since_limit_latest_and_bounds) {
  for (int i = 1; i <= 8; ++i) publish("h", std::to_string(i));
  auto all = history("h", 0, 100);
  EXPECT_EQ(all.top.offset, 8u);
  EXPECT_EQ(offsets(all), (std::vector<std::uint64_t>{4, 5, 6, 7, 8})) << "bounded to 5";
  EXPECT_EQ(all.first_offset, 4u);
  EXPECT_EQ(offsets(history("h", 5, 2)), (std::vector<std::uint64_t>{6, 7}));
  EXPECT_EQ(offsets(history("h", std::nullopt, 2)), (std::vector<std::uint64_t>{7, 8}));
  auto pos = history("h", std::nullopt, 0);
  EXPECT_TRUE(pos.publications.empty());
  EXPECT_EQ(pos.top.offset, 8u);
  auto frame = *history("h", 7, 1).publications.at(0).frame;
  EXPECT_NE(
      frame.find(R"("event":"message","channel":"h","offset":8,"epoch":")" + all.top.epoch + "\""),
      std::string::npos)
      << frame;
  EXPECT_NE(frame.find(R"("sender":{"client":"c1","name":"alice"},"data":8})"), std::string::npos)
      << frame;
}

TEST_P(stream_conformance, recovery_decisions) {
  for (int i = 1; i <= 8; ++i) publish("r", std::to_string(i));
  auto epoch = history("r", std::nullopt, 0).top.epoch;
  EXPECT_TRUE(can_recover({8, epoch}, history("r", 8, 100))) << "exact position";
  EXPECT_TRUE(can_recover({5, epoch}, history("r", 5, 100))) << "covered";
  EXPECT_FALSE(can_recover({2, epoch}, history("r", 2, 100))) << "truncated";
  EXPECT_FALSE(can_recover({5, "other"}, history("r", 5, 100))) << "wrong epoch";
  EXPECT_FALSE(can_recover({9, epoch}, history("r", 9, 100))) << "future";
}

TEST_P(stream_conformance, subscribed_sink_gets_each_event_once_in_offset_order) {
  eng->subscribe("s");
  // Subscription is asynchronous on some engines: publish probes until one arrives.
  ASSERT_TRUE(run_until([&] {
    if (sink.count() > 0) return true;
    publish("s", "0");
    return run_until([&] { return sink.count() > 0; }, 100ms);
  }));
  // Probes published once the subscription is active all arrive; wait for the last one.
  auto base = history("s", std::nullopt, 0).top.offset;
  ASSERT_TRUE(run_until([&] {
    std::lock_guard l(sink.m);
    return !sink.events.empty() && sink.events.back().second.offset == base;
  }));
  {
    std::lock_guard l(sink.m);
    sink.events.clear();
  }
  for (int i = 1; i <= 50; ++i) publish("s", std::to_string(i));
  ASSERT_TRUE(run_until([&] { return sink.count() >= 50; }));
  run_until([] { return false; }, 50ms);  // nothing extra may follow
  std::lock_guard l(sink.m);
  ASSERT_EQ(sink.events.size(), 50u);
  for (std::size_t i = 0; i < sink.events.size(); ++i) {
    EXPECT_EQ(sink.events[i].first, "s");
    EXPECT_EQ(sink.events[i].second.offset, base + i + 1);
    EXPECT_NE(sink.events[i].second.frame->find(R"("offset":)" + std::to_string(base + i + 1)),
              std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(engines, stream_conformance, engine_kinds, engine_name);

TEST_P(stream_conformance, a_publish_retried_with_its_key_gets_the_first_position_once) {
  auto first = await<muster::protocol::stream_position>([&](auto set) {
    eng->publish("idem", "1", {"c1", "alice"}, "key-1", [set](std::error_code ec, auto p) {
      EXPECT_FALSE(ec);
      set(std::move(p));
    });
  });
  auto again = await<muster::protocol::stream_position>([&](auto set) {
    eng->publish("idem", "\"other data\"", {"c1", "alice"}, "key-1",
                 [set](std::error_code ec, auto p) {
                   EXPECT_FALSE(ec);
                   set(std::move(p));
                 });
  });
  EXPECT_EQ(again, first) << "the first answer, same offset and epoch";
  auto other = await<muster::protocol::stream_position>([&](auto set) {
    eng->publish("idem", "2", {"c1", "alice"}, "key-2",
                 [set](std::error_code, auto p) { set(std::move(p)); });
  });
  EXPECT_EQ(other.offset, first.offset + 1);
  EXPECT_EQ(publish("idem", "3").offset, first.offset + 2) << "no key: always appended";
  auto elsewhere = await<muster::protocol::stream_position>([&](auto set) {
    eng->publish("idem-b", "1", {"c1", "alice"}, "key-1",
                 [set](std::error_code, auto p) { set(std::move(p)); });
  });
  EXPECT_EQ(elsewhere.offset, 1u) << "keys are per channel";
  auto h = history("idem", 0, 100);
  ASSERT_EQ(h.publications.size(), 3u) << "the retry appended nothing";
  EXPECT_NE(h.publications[0].frame->find(R"("data":1)"), std::string::npos);
}
