#pragma once
// The engine contract, one suite per concern (streams, presence, documents, indexes), each run
// against every engine: the same tests decide whether a new engine may take an old one's place.
// The engines are named in `engine_kinds`; this fixture builds each one on a real backend.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "server/engine/memory_engine.hpp"
#include "server/engine/redis/redis_engine.hpp"
#include "tests/integration/redis_process.hpp"

namespace muster::test {

using namespace muster::server;
using namespace std::chrono_literals;
namespace net = boost::asio;

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

class engine_fixture : public ::testing::TestWithParam<std::string> {
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

/// Every engine the conformance suites run against.
inline const auto engine_kinds = ::testing::Values("memory", "redis");
inline std::string engine_name(const ::testing::TestParamInfo<std::string>& p) {
  return p.param;
}

}  // namespace muster::test
