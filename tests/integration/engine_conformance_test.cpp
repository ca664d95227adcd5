// The same engine contract checked against both engines: memory and redis (real redis-server).
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "server/engine/memory_engine.hpp"
#include "server/engine/redis/redis_engine.hpp"
#include "tests/integration/redis_process.hpp"

using namespace muster::server;
using namespace muster::test;
using namespace std::chrono_literals;
namespace net = boost::asio;

namespace {

struct recording_sink : engine_sink {
  std::mutex m;
  std::vector<std::pair<std::string, channel_event>> events;
  void on_event(std::string_view channel, const channel_event& ev) override {
    std::lock_guard l(m);
    events.emplace_back(std::string(channel), ev);
  }
  std::size_t count() {
    std::lock_guard l(m);
    return events.size();
  }
};

class engine_conformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { make(5); }
  void TearDown() override {
    if (eng) eng->stop();
    eng.reset();
  }
  void make(std::size_t history_size) {
    if (eng) eng->stop();
    eng.reset();
    if (GetParam() == "redis") {
      if (!redis) redis = std::make_unique<redis_process>();
      redis::redis_engine::options o;
      o.port = redis->port();
      o.prefix = "t" + std::to_string(++generation) + ":";
      o.history_size = history_size;
      o.presence_ttl = 2s;
      eng = std::make_unique<redis::redis_engine>(ioc, o);
      eng->start(sink);
      ASSERT_TRUE(run_until([&] { return eng->ready(); })) << "redis engine not ready";
    } else {
      eng = std::make_unique<memory_engine>(memory_engine::options{history_size, 86400s});
      eng->start(sink);
    }
  }
  template <class Pred>
  bool run_until(Pred p, std::chrono::milliseconds t = 5s) {
    auto deadline = std::chrono::steady_clock::now() + t;
    while (!p() && std::chrono::steady_clock::now() < deadline) {
      ioc.restart();
      ioc.run_for(2ms);
    }
    return p();
  }
  muster::protocol::stream_position publish(const std::string& ch, const std::string& data) {
    std::optional<muster::protocol::stream_position> out;
    eng->publish(ch, data, {"c1", "alice"},
                 [&](std::error_code ec, muster::protocol::stream_position p) {
                   EXPECT_FALSE(ec) << ec.message();
                   out = p;
                 });
    EXPECT_TRUE(run_until([&] { return out.has_value(); }));
    return out.value_or(muster::protocol::stream_position{});
  }
  history_result history(const std::string& ch, std::optional<std::uint64_t> since,
                         std::size_t limit) {
    std::optional<history_result> out;
    eng->history(ch, {since, limit}, [&](std::error_code ec, history_result h) {
      EXPECT_FALSE(ec) << ec.message();
      out = std::move(h);
    });
    EXPECT_TRUE(run_until([&] { return out.has_value(); }));
    return out.value_or(history_result{});
  }
  std::vector<client_info> presence(const std::string& ch) {
    std::optional<std::vector<client_info>> out;
    eng->presence(ch, [&](std::error_code ec, std::vector<client_info> v) {
      EXPECT_FALSE(ec);
      out = std::move(v);
    });
    EXPECT_TRUE(run_until([&] { return out.has_value(); }));
    return out.value_or(std::vector<client_info>{});
  }
  static std::vector<std::uint64_t> offsets(const history_result& h) {
    std::vector<std::uint64_t> v;
    for (auto& p : h.publications) v.push_back(p.offset);
    return v;
  }

  net::io_context ioc;
  recording_sink sink;
  std::unique_ptr<engine> eng;
  static inline std::unique_ptr<redis_process> redis;
  static inline int generation = 0;

 public:
  static void TearDownTestSuite() { redis.reset(); }
};

}  // namespace

TEST_P(engine_conformance, offsets_increase_by_one_within_an_epoch) {
  auto a = publish("c", "1"), b = publish("c", "2"), other = publish("d", "1");
  EXPECT_EQ(a.offset, 1u);
  EXPECT_EQ(b.offset, 2u);
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_FALSE(a.epoch.empty());
  EXPECT_EQ(other.offset, 1u);
}

TEST_P(engine_conformance, history_since_limit_latest_and_bounds) {
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

TEST_P(engine_conformance, recovery_decisions) {
  for (int i = 1; i <= 8; ++i) publish("r", std::to_string(i));
  auto epoch = history("r", std::nullopt, 0).top.epoch;
  EXPECT_TRUE(can_recover({8, epoch}, history("r", 8, 100))) << "exact position";
  EXPECT_TRUE(can_recover({5, epoch}, history("r", 5, 100))) << "covered";
  EXPECT_FALSE(can_recover({2, epoch}, history("r", 2, 100))) << "truncated";
  EXPECT_FALSE(can_recover({5, "other"}, history("r", 5, 100))) << "wrong epoch";
  EXPECT_FALSE(can_recover({9, epoch}, history("r", 9, 100))) << "future";
}

TEST_P(engine_conformance, subscribed_sink_gets_each_event_once_in_offset_order) {
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

TEST_P(engine_conformance, presence_join_list_leave_and_events) {
  eng->subscribe("p");
  eng->presence_join("p", {"c1", "alice"});
  eng->presence_join("p", {"c2", "bob"});
  ASSERT_TRUE(run_until([&] { return presence("p").size() == 2; }));
  auto list = presence("p");
  EXPECT_EQ(list[0].client, "c1");
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

INSTANTIATE_TEST_SUITE_P(engines, engine_conformance, ::testing::Values("memory", "redis"),
                         [](const auto& p) { return p.param; });
