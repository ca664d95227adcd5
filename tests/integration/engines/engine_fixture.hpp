#pragma once
// The engine contract, one suite per concern (streams, presence, documents, indexes), each run
// against every engine: the same tests decide whether a new engine may take an old one's place.
// The engines are named in `engine_kinds`; this fixture builds each one on a real backend.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <filesystem>
#include <mutex>
#include <optional>
#include <random>

#include "server/engine/embedded/embedded_engine.hpp"
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

/// A directory of its own under the system temp dir, removed with everything in it.
struct temp_dir {
  temp_dir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("muster-engine-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
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
    } else if (GetParam() == "embedded") {
      embedded::embedded_engine::options o;
      o.path = (dir.path() / ("t" + std::to_string(++generation) + ".db")).string();
      o.history_size = history_size;
      o.window = 4;  // small: reads past it go to the file
      eng = std::make_unique<embedded::embedded_engine>(o);
      eng->start(sink);
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
  // Starts a call with a handler that may run on any engine thread; waits for its value.
  template <class T, class Start>
  T await(Start start) {
    auto box = std::make_shared<std::pair<std::mutex, std::optional<T>>>();
    start([box](T value) {
      std::lock_guard l(box->first);
      box->second = std::move(value);
    });
    auto ready = [&] {
      std::lock_guard l(box->first);
      return box->second.has_value();
    };
    EXPECT_TRUE(run_until(ready));
    std::lock_guard l(box->first);
    return box->second.value_or(T{});
  }
  muster::protocol::stream_position publish(const std::string& ch, const std::string& data) {
    return await<muster::protocol::stream_position>([&](auto set) {
      eng->publish(ch, data, {"c1", "alice"},
                   [set](std::error_code ec, muster::protocol::stream_position p) {
                     EXPECT_FALSE(ec) << ec.message();
                     set(std::move(p));
                   });
    });
  }
  history_result history(const std::string& ch, std::optional<std::uint64_t> since,
                         std::size_t limit) {
    return await<history_result>([&](auto set) {
      eng->history(ch, {since, limit}, [set](std::error_code ec, history_result h) {
        EXPECT_FALSE(ec) << ec.message();
        set(std::move(h));
      });
    });
  }
  std::vector<client_info> presence(const std::string& ch) {
    return await<std::vector<client_info>>([&](auto set) {
      eng->presence(ch, [set](std::error_code ec, std::vector<client_info> v) {
        EXPECT_FALSE(ec);
        set(std::move(v));
      });
    });
  }
  commit_result commit(const std::string& ch, std::vector<doc_write> w,
                       std::vector<event_spec> ev = {}, std::optional<retention> keep = {}) {
    return await<commit_result>([&](auto set) {
      eng->commit(ch, std::move(w), std::move(ev), keep,
                  [set](std::error_code ec, commit_result r) {
                    EXPECT_FALSE(ec) << ec.message();
                    set(std::move(r));
                  });
    });
  }
  std::vector<doc> read_docs(const std::string& ch, std::vector<std::string> keys) {
    return await<std::vector<doc>>([&](auto set) {
      eng->read_docs(ch, std::move(keys), [set](std::error_code ec, std::vector<doc> d) {
        EXPECT_FALSE(ec) << ec.message();
        set(std::move(d));
      });
    });
  }
  std::vector<doc> list_docs(const std::string& ch, const std::string& prefix) {
    return await<std::vector<doc>>([&](auto set) {
      eng->list_docs(ch, prefix, [set](std::error_code ec, std::vector<doc> d) {
        EXPECT_FALSE(ec) << ec.message();
        set(std::move(d));
      });
    });
  }
  std::vector<std::pair<std::string, std::int64_t>> index_range(const std::string& idx,
                                                                std::int64_t max,
                                                                std::size_t limit) {
    using rows = std::vector<std::pair<std::string, std::int64_t>>;
    return await<rows>([&](auto set) {
      eng->index_range(idx, max, limit, [set](std::error_code ec, rows v) {
        EXPECT_FALSE(ec) << ec.message();
        set(std::move(v));
      });
    });
  }
  void index_op(bool put, const std::string& idx, const std::string& member, std::int64_t score) {
    await<bool>([&](auto set) {
      auto h = [set](std::error_code ec) {
        EXPECT_FALSE(ec) << ec.message();
        set(true);
      };
      if (put)
        eng->index_put(idx, member, score, h);
      else
        eng->index_remove(idx, member, h);
    });
  }
  static std::vector<std::uint64_t> offsets(const history_result& h) {
    std::vector<std::uint64_t> v;
    for (auto& p : h.publications) v.push_back(p.offset);
    return v;
  }

  temp_dir dir;
  net::io_context ioc;
  recording_sink sink;
  std::unique_ptr<engine> eng;
  static inline std::unique_ptr<redis_process> redis;
  static inline int generation = 0;

 public:
  static void TearDownTestSuite() { redis.reset(); }
};

/// Every engine the conformance suites run against.
inline const auto engine_kinds = ::testing::Values("memory", "embedded", "redis");
inline std::string engine_name(const ::testing::TestParamInfo<std::string>& p) {
  return p.param;
}

}  // namespace muster::test
