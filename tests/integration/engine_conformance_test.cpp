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
  commit_result commit(const std::string& ch, std::vector<doc_write> w,
                       std::vector<event_spec> ev = {}, std::optional<retention> keep = {}) {
    std::optional<commit_result> out;
    eng->commit(ch, std::move(w), std::move(ev), keep, [&](std::error_code ec, commit_result r) {
      EXPECT_FALSE(ec) << ec.message();
      out = std::move(r);
    });
    EXPECT_TRUE(run_until([&] { return out.has_value(); }));
    return out.value_or(commit_result{});
  }
  std::vector<doc> read_docs(const std::string& ch, std::vector<std::string> keys) {
    std::optional<std::vector<doc>> out;
    eng->read_docs(ch, std::move(keys), [&](std::error_code ec, std::vector<doc> d) {
      EXPECT_FALSE(ec) << ec.message();
      out = std::move(d);
    });
    EXPECT_TRUE(run_until([&] { return out.has_value(); }));
    return out.value_or(std::vector<doc>{});
  }
  std::vector<doc> list_docs(const std::string& ch, const std::string& prefix) {
    std::optional<std::vector<doc>> out;
    eng->list_docs(ch, prefix, [&](std::error_code ec, std::vector<doc> d) {
      EXPECT_FALSE(ec) << ec.message();
      out = std::move(d);
    });
    EXPECT_TRUE(run_until([&] { return out.has_value(); }));
    return out.value_or(std::vector<doc>{});
  }
  std::vector<std::pair<std::string, std::int64_t>> index_range(const std::string& idx,
                                                                std::int64_t max,
                                                                std::size_t limit) {
    std::optional<std::vector<std::pair<std::string, std::int64_t>>> out;
    eng->index_range(idx, max, limit, [&](std::error_code ec, auto v) {
      EXPECT_FALSE(ec) << ec.message();
      out = std::move(v);
    });
    EXPECT_TRUE(run_until([&] { return out.has_value(); }));
    return out.value_or(std::vector<std::pair<std::string, std::int64_t>>{});
  }
  void index_op(bool put, const std::string& idx, const std::string& member, std::int64_t score) {
    bool done = false;
    auto h = [&](std::error_code ec) {
      EXPECT_FALSE(ec) << ec.message();
      done = true;
    };
    if (put)
      eng->index_put(idx, member, score, h);
    else
      eng->index_remove(idx, member, h);
    EXPECT_TRUE(run_until([&] { return done; }));
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

TEST_P(engine_conformance, commit_is_compare_and_set_and_appends_events_in_order) {
  publish("docs", R"({"n":1})");
  auto r = commit("docs", {{"alert:1", 0, R"({"s":"open"})"}, {"dedup:x", 0, "1"}},
                  {{"alert.new", R"({"alert":"1"})", {"c1", "bot"}}});
  ASSERT_TRUE(r.applied);
  EXPECT_EQ(r.versions, (std::vector<std::uint64_t>{1, 1}));
  EXPECT_EQ(r.offsets, (std::vector<std::uint64_t>{2}));
  EXPECT_FALSE(r.epoch.empty());

  // A second writer expecting "absent" loses and learns the current value.
  auto lost = commit("docs", {{"alert:1", 0, R"({"s":"other"})"}},
                     {{"alert.new", R"({"alert":"1"})", {"c2", "bot"}}});
  EXPECT_FALSE(lost.applied);
  ASSERT_EQ(lost.current.size(), 1u);
  EXPECT_EQ(lost.current[0].value, R"({"s":"open"})");
  EXPECT_EQ(lost.current[0].version, 1u);

  // All-or-nothing: one failed expectation applies none of the writes.
  auto partial = commit("docs", {{"dedup:x", 1, "2"}, {"alert:1", 7, "{}"}});
  EXPECT_FALSE(partial.applied);
  auto docs = read_docs("docs", {"dedup:x", "alert:1", "missing"});
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0].value, "1");
  EXPECT_EQ(docs[0].version, 1u);
  EXPECT_EQ(docs[1].version, 1u);
  EXPECT_EQ(docs[2].version, 0u);
  EXPECT_EQ(docs[2].key, "missing");

  auto claimed = commit("docs", {{"alert:1", 1, R"({"s":"claimed"})"}},
                        {{"alert.claimed", R"({"alert":"1"})", {"c3", "amy"}},
                         {"alert.escalated", R"({"alert":"1","step":1})", {"c3", "amy"}}});
  ASSERT_TRUE(claimed.applied);
  EXPECT_EQ(claimed.versions, (std::vector<std::uint64_t>{2}));
  EXPECT_EQ(claimed.offsets, (std::vector<std::uint64_t>{3, 4}));
  auto any = commit("docs", {{"alert:1", doc_write::any, R"({"s":"resolved"})"}});
  ASSERT_TRUE(any.applied);
  EXPECT_EQ(any.versions, (std::vector<std::uint64_t>{3}));

  // The events are stream entries like messages: in history, with their own event names.
  auto h = history("docs", 0, 10);
  ASSERT_EQ(offsets(h), (std::vector<std::uint64_t>{1, 2, 3, 4}));
  EXPECT_NE(h.publications[1].frame->find(R"("event":"alert.new")"), std::string::npos);
  EXPECT_NE(h.publications[1].frame->find(R"("data":{"alert":"1"})"), std::string::npos);
  EXPECT_NE(h.publications[2].frame->find(R"("event":"alert.claimed")"), std::string::npos);
  EXPECT_NE(h.publications[2].frame->find(R"("name":"amy")"), std::string::npos);

  // Deleting: an empty value removes the document.
  ASSERT_TRUE(commit("docs", {{"dedup:x", 1, ""}}).applied);
  EXPECT_EQ(read_docs("docs", {"dedup:x"})[0].version, 0u);
}

TEST_P(engine_conformance, list_docs_by_prefix_in_key_order) {
  commit("lst", {{"alert:b", 0, "2"}, {"alert:a", 0, "1"}, {"guidance:z", 0, "3"}});
  commit("lst", {{"alertx", 0, "4"}});
  auto l = list_docs("lst", "alert:");
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].key, "alert:a");
  EXPECT_EQ(l[0].value, "1");
  EXPECT_EQ(l[0].version, 1u);
  EXPECT_EQ(l[1].key, "alert:b");
  EXPECT_TRUE(list_docs("lst", "nothing:").empty());
  EXPECT_EQ(list_docs("other", "alert:").size(), 0u);
}

TEST_P(engine_conformance, retention_set_by_commit_keeps_more_than_history_size) {
  // SetUp made history_size 5; a channel given a larger retention keeps its whole timeline.
  commit("timeline", {{"meta", 0, "{}"}}, {}, retention{100, std::chrono::seconds(3600)});
  for (int i = 0; i < 20; ++i) publish("timeline", std::to_string(i));
  auto h = history("timeline", 0, 100);
  EXPECT_EQ(h.publications.size(), 20u);
  EXPECT_EQ(h.first_offset, 1u);
  for (int i = 0; i < 20; ++i) publish("plain", std::to_string(i));
  EXPECT_EQ(history("plain", 0, 100).publications.size(), 5u);
}

TEST_P(engine_conformance, index_put_range_remove) {
  index_op(true, "due", "b", 200);
  index_op(true, "due", "a", 100);
  index_op(true, "due", "c", 300);
  index_op(true, "due", "a", 150);  // moves
  auto r = index_range("due", 250, 10);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], (std::pair<std::string, std::int64_t>{"a", 150}));
  EXPECT_EQ(r[1], (std::pair<std::string, std::int64_t>{"b", 200}));
  EXPECT_EQ(index_range("due", 1000, 1).size(), 1u);
  index_op(false, "due", "a", 0);
  index_op(false, "due", "nope", 0);
  r = index_range("due", 1000, 10);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].first, "b");
  EXPECT_TRUE(index_range("other", 1000, 10).empty());
}

INSTANTIATE_TEST_SUITE_P(engines, engine_conformance, ::testing::Values("memory", "redis"),
                         [](const auto& p) { return p.param; });
