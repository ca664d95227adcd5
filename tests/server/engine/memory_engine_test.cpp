#include "server/engine/memory_engine.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace muster::server;
using muster::protocol::stream_position;
using namespace std::chrono_literals;

namespace {

// A settable clock, shared with the engine through a pointer.
struct fake_clock {
  std::chrono::system_clock::time_point now =
      std::chrono::system_clock::time_point{} + std::chrono::seconds(1'700'000'000);
  memory_engine::clock_fn fn() {
    return [this] { return now; };
  }
};

std::int64_t to_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

struct recorded_event {
  std::string channel;
  std::uint64_t offset;
  bool presence;
  std::string frame;
};

// Records every event; a short private lock only (on_event runs under the engine's lock).
class recording_sink final : public engine_sink {
 public:
  void on_event(std::string_view channel, const channel_event& ev) override {
    std::lock_guard lock(mutex_);
    events_.push_back({std::string(channel), ev.offset, ev.presence, ev.frame ? *ev.frame : ""});
  }
  std::vector<recorded_event> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::vector<std::uint64_t> offsets(std::string_view channel) const {
    std::lock_guard lock(mutex_);
    std::vector<std::uint64_t> out;
    for (const auto& e : events_)
      if (e.channel == channel && !e.presence) out.push_back(e.offset);
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<recorded_event> events_;
};

const client_info alice{"node-0-1", "alice", "u-alice"};
const client_info bob{"node-0-2", "bob", "u-bob"};

stream_position publish(memory_engine& e, std::string_view channel, std::string data = "1",
                        const client_info& sender = alice) {
  stream_position out;
  bool called = false;
  e.publish(channel, std::move(data), sender, [&](std::error_code ec, stream_position p) {
    EXPECT_FALSE(ec) << ec.message();
    out = std::move(p);
    called = true;
  });
  EXPECT_TRUE(called) << "memory_engine runs the publish handler inline";
  return out;
}

history_result history(memory_engine& e, std::string_view channel,
                       std::optional<std::uint64_t> since, std::size_t limit) {
  history_result out;
  bool called = false;
  e.history(channel, history_query{since, limit}, [&](std::error_code ec, history_result r) {
    EXPECT_FALSE(ec) << ec.message();
    out = std::move(r);
    called = true;
  });
  EXPECT_TRUE(called) << "memory_engine runs the history handler inline";
  return out;
}

std::vector<client_info> presence(memory_engine& e, std::string_view channel) {
  std::vector<client_info> out;
  bool called = false;
  e.presence(channel, [&](std::error_code ec, std::vector<client_info> v) {
    EXPECT_FALSE(ec) << ec.message();
    out = std::move(v);
    called = true;
  });
  EXPECT_TRUE(called) << "memory_engine runs the presence handler inline";
  return out;
}

std::vector<std::uint64_t> offsets_of(const history_result& h) {
  std::vector<std::uint64_t> out;
  for (const auto& p : h.publications) out.push_back(p.offset);
  return out;
}

std::vector<std::uint64_t> range(std::uint64_t first, std::uint64_t last) {
  std::vector<std::uint64_t> out;
  for (auto i = first; i <= last; ++i) out.push_back(i);
  return out;
}

memory_engine::options opts(std::size_t size = 1000, std::chrono::seconds ttl = 86400s) {
  memory_engine::options o;
  o.history_size = size;
  o.history_ttl = ttl;
  return o;
}

void publish_n(memory_engine& e, std::string_view channel, int n) {
  for (int i = 0; i < n; ++i) publish(e, channel, std::to_string(i + 1));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Offsets and epochs

TEST(memory_engine, offsets_increase_by_one_per_publish_within_one_epoch) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  auto first = publish(e, "room");
  EXPECT_EQ(first.offset, 1u);
  EXPECT_FALSE(first.epoch.empty());
  for (std::uint64_t i = 2; i <= 20; ++i) {
    auto p = publish(e, "room");
    EXPECT_EQ(p.offset, i);
    EXPECT_EQ(p.epoch, first.epoch);
  }
}

TEST(memory_engine, channels_have_independent_offsets_and_epochs) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  publish_n(e, "a", 5);
  auto b1 = publish(e, "b");
  EXPECT_EQ(b1.offset, 1u);
  auto a6 = publish(e, "a");
  EXPECT_EQ(a6.offset, 6u);
  auto b2 = publish(e, "b");
  EXPECT_EQ(b2.offset, 2u);
  EXPECT_EQ(b2.epoch, b1.epoch);
  EXPECT_EQ(history(e, "a", std::nullopt, 100).top.offset, 6u);
  EXPECT_EQ(history(e, "b", std::nullopt, 100).top.offset, 2u);
}

TEST(memory_engine, a_new_engine_starts_a_new_epoch) {
  // Epochs are 32 random bits: a false failure here has probability 2^-32.
  fake_clock clk;
  memory_engine e1(opts(), clk.fn());
  memory_engine e2(opts(), clk.fn());
  auto p1 = publish(e1, "room");
  auto p2 = publish(e2, "room");
  EXPECT_EQ(p1.offset, p2.offset);
  EXPECT_NE(p1.epoch, p2.epoch);
}

TEST(memory_engine, fresh_channel_reports_empty_position_with_stable_epoch) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  auto h = history(e, "empty", std::nullopt, 100);
  EXPECT_EQ(h.top.offset, 0u);
  EXPECT_FALSE(h.top.epoch.empty());
  EXPECT_EQ(h.first_offset, 1u);
  EXPECT_TRUE(h.publications.empty());
  // The epoch seen before the first publish is the one the stream keeps.
  auto p = publish(e, "empty");
  EXPECT_EQ(p.epoch, h.top.epoch);
}

TEST(memory_engine, sweep_forgets_unused_channels_but_keeps_live_ones) {
  fake_clock clk;
  memory_engine e(opts(10, 3600s), clk.fn());
  history(e, "probed-only", std::nullopt, 10);
  publish(e, "published");
  e.presence_join("occupied", {"c1", "alice"});
  EXPECT_EQ(e.channel_count(), 3u);
  clk.now += 61s;
  e.sweep();
  EXPECT_EQ(e.channel_count(), 2u) << "a channel only read, never published, goes after a minute";
  clk.now += 3600s;
  e.sweep();
  EXPECT_EQ(e.channel_count(), 1u) << "expired history and no presence: forgotten";
  EXPECT_EQ(presence(e, "occupied").size(), 1u);
}

TEST(memory_engine, works_without_a_sink) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  EXPECT_TRUE(e.ready());
  EXPECT_EQ(publish(e, "room").offset, 1u);
  e.presence_join("room", alice);
  e.presence_leave("room", alice);
  EXPECT_TRUE(presence(e, "room").empty());
}

// ---------------------------------------------------------------------------------------------
// History queries

TEST(memory_engine, history_since_returns_offsets_after_since) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  publish_n(e, "room", 10);
  auto h = history(e, "room", 4, 100);
  EXPECT_EQ(offsets_of(h), range(5, 10));
  EXPECT_EQ(h.top.offset, 10u);
  EXPECT_EQ(h.first_offset, 1u);
}

TEST(memory_engine, history_since_zero_returns_everything) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  publish_n(e, "room", 7);
  EXPECT_EQ(offsets_of(history(e, "room", 0, 100)), range(1, 7));
}

TEST(memory_engine, history_since_with_limit_returns_the_oldest_after_since) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  publish_n(e, "room", 10);
  auto h = history(e, "room", 2, 3);
  EXPECT_EQ(offsets_of(h), range(3, 5));
  EXPECT_EQ(h.top.offset, 10u);
}

TEST(memory_engine, history_without_since_returns_the_latest_limit) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  publish_n(e, "room", 10);
  EXPECT_EQ(offsets_of(history(e, "room", std::nullopt, 3)), range(8, 10));
  EXPECT_EQ(offsets_of(history(e, "room", std::nullopt, 100)), range(1, 10));
}

TEST(memory_engine, history_limit_zero_returns_only_the_position) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  auto last = stream_position{};
  for (int i = 0; i < 4; ++i) last = publish(e, "room");
  for (auto since : {std::optional<std::uint64_t>{}, std::optional<std::uint64_t>{1}}) {
    auto h = history(e, "room", since, 0);
    EXPECT_TRUE(h.publications.empty());
    EXPECT_EQ(h.top, last);
    EXPECT_EQ(h.first_offset, 1u);
  }
}

TEST(memory_engine, history_since_at_or_beyond_top_is_empty) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  publish_n(e, "room", 5);
  EXPECT_TRUE(history(e, "room", 5, 100).publications.empty());
  EXPECT_TRUE(history(e, "room", 6, 100).publications.empty());
  EXPECT_TRUE(
      history(e, "room", std::numeric_limits<std::uint64_t>::max(), 100).publications.empty());
}

TEST(memory_engine, history_entries_carry_timestamp_sender_and_frame) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  publish(e, "room", R"({"text":"hi"})", alice);
  clk.now += 1500ms;
  auto p = publish(e, "room", R"({"text":"yo"})", bob);
  auto h = history(e, "room", std::nullopt, 10);
  ASSERT_EQ(h.publications.size(), 2u);
  EXPECT_EQ(h.publications[0].ts_ms, to_ms(clk.now - 1500ms));
  EXPECT_EQ(h.publications[1].ts_ms, to_ms(clk.now));
  ASSERT_TRUE(h.publications[1].frame);
  const std::string& f = *h.publications[1].frame;
  EXPECT_NE(f.find(R"("event":"message")"), std::string::npos) << f;
  EXPECT_NE(f.find(R"("channel":"room")"), std::string::npos) << f;
  EXPECT_NE(f.find(R"("offset":2)"), std::string::npos) << f;
  EXPECT_NE(f.find("\"epoch\":\"" + p.epoch + "\""), std::string::npos) << f;
  EXPECT_NE(f.find("\"ts\":" + std::to_string(to_ms(clk.now))), std::string::npos) << f;
  EXPECT_NE(f.find(R"("sender":{"client":"node-0-2","name":"bob"})"), std::string::npos) << f;
  EXPECT_NE(f.find(R"("data":{"text":"yo"})"), std::string::npos) << f;
}

TEST(memory_engine, history_is_bounded_by_size_and_first_offset_moves) {
  fake_clock clk;
  memory_engine e(opts(5), clk.fn());
  publish_n(e, "room", 3);
  EXPECT_EQ(history(e, "room", std::nullopt, 100).first_offset, 1u);
  publish_n(e, "room", 9);
  auto h = history(e, "room", std::nullopt, 100);
  EXPECT_EQ(h.top.offset, 12u);
  EXPECT_EQ(h.first_offset, 8u);
  EXPECT_EQ(offsets_of(h), range(8, 12));
  // `since` older than what is held starts at the oldest held publication.
  EXPECT_EQ(offsets_of(history(e, "room", 2, 100)), range(8, 12));
  EXPECT_EQ(offsets_of(history(e, "room", 9, 100)), range(10, 12));
  EXPECT_EQ(offsets_of(history(e, "room", 2, 2)), range(8, 9));
}

TEST(memory_engine, history_size_zero_keeps_offsets_but_no_publications) {
  fake_clock clk;
  memory_engine e(opts(0), clk.fn());
  publish_n(e, "room", 4);
  auto h = history(e, "room", 0, 100);
  EXPECT_EQ(h.top.offset, 4u);
  EXPECT_EQ(h.first_offset, 5u);
  EXPECT_TRUE(h.publications.empty());
}

// ---------------------------------------------------------------------------------------------
// TTL

TEST(memory_engine, history_expires_publications_older_than_ttl) {
  fake_clock clk;
  memory_engine e(opts(1000, 60s), clk.fn());
  publish_n(e, "room", 3);  // t0
  clk.now += 30s;
  publish_n(e, "room", 2);  // t0 + 30 s
  clk.now += 29s;           // t0 + 59 s: nothing expired yet
  EXPECT_EQ(offsets_of(history(e, "room", 0, 100)), range(1, 5));
  clk.now += 2s;  // t0 + 61 s: the first three expired
  auto h = history(e, "room", 0, 100);
  EXPECT_EQ(offsets_of(h), range(4, 5));
  EXPECT_EQ(h.first_offset, 4u);
  EXPECT_EQ(h.top.offset, 5u);
  auto epoch = h.top.epoch;
  clk.now += 30s;  // t0 + 91 s: everything expired, the position survives
  h = history(e, "room", 0, 100);
  EXPECT_TRUE(h.publications.empty());
  EXPECT_EQ(h.first_offset, 6u);
  EXPECT_EQ(h.top.offset, 5u);
  EXPECT_EQ(h.top.epoch, epoch);
  // Publishing continues the stream.
  EXPECT_EQ(publish(e, "room").offset, 6u);
}

TEST(memory_engine, publication_just_younger_than_ttl_is_kept) {
  fake_clock clk;
  memory_engine e(opts(1000, 10s), clk.fn());
  publish(e, "room");
  clk.now += 10s - 1ms;
  EXPECT_EQ(history(e, "room", 0, 100).publications.size(), 1u);
  clk.now += 2ms;
  EXPECT_TRUE(history(e, "room", 0, 100).publications.empty());
}

TEST(memory_engine, sweep_expires_history_of_every_channel) {
  // history() trims by TTL itself, so to observe sweep() alone the clock is moved past the TTL,
  // sweep() runs, and the clock is moved back before reading: only sweep() can have expired them.
  fake_clock clk;
  memory_engine e(opts(1000, 60s), clk.fn());
  std::vector<std::string> channels;
  for (int i = 0; i < 40; ++i) channels.push_back("ch" + std::to_string(i));  // spread over shards
  for (const auto& c : channels) {
    publish_n(e, c, 2);
    e.presence_join(c, {"watcher", "w"});  // occupied channels are kept, only trimmed
  }
  clk.now += 30s;
  publish(e, "ch0");  // offset 3, younger

  const auto t_publish = clk.now - 30s;
  clk.now = t_publish + 61s;
  e.sweep();
  clk.now = t_publish;

  for (const auto& c : channels) {
    auto h = history(e, c, 0, 100);
    if (c == "ch0") {
      EXPECT_EQ(offsets_of(h), range(3, 3)) << c;
      EXPECT_EQ(h.first_offset, 3u) << c;
    } else {
      EXPECT_TRUE(h.publications.empty()) << c;
      EXPECT_EQ(h.first_offset, 3u) << c;
      EXPECT_EQ(h.top.offset, 2u) << c;
    }
  }
}

TEST(memory_engine, without_sweep_rewound_clock_keeps_history) {
  // The control for sweep_expires_history_of_every_channel.
  fake_clock clk;
  memory_engine e(opts(1000, 60s), clk.fn());
  publish_n(e, "room", 2);
  auto t0 = clk.now;
  clk.now = t0 + 61s;
  clk.now = t0;
  EXPECT_EQ(offsets_of(history(e, "room", 0, 100)), range(1, 2));
}

TEST(memory_engine, publish_also_expires_old_history) {
  fake_clock clk;
  memory_engine e(opts(1000, 60s), clk.fn());
  publish_n(e, "room", 2);
  auto t0 = clk.now;
  clk.now = t0 + 61s;
  publish(e, "room");  // offset 3 at t0 + 61 s
  clk.now = t0;        // rewound: only the publish can have expired 1 and 2
  EXPECT_EQ(offsets_of(history(e, "room", 0, 100)), range(3, 3));
}

// ---------------------------------------------------------------------------------------------
// can_recover, against real engine reads

TEST(memory_engine, can_recover_at_exact_position) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  publish_n(e, "room", 5);
  auto top = history(e, "room", std::nullopt, 0).top;
  EXPECT_TRUE(can_recover(top, history(e, "room", top.offset, 100)));
  EXPECT_TRUE(can_recover(top, history(e, "room", top.offset, 0)));
}

TEST(memory_engine, can_recover_on_empty_channel_from_zero) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  auto top = history(e, "room", std::nullopt, 0).top;
  EXPECT_TRUE(can_recover({0, top.epoch}, history(e, "room", 0, 100)));
}

TEST(memory_engine, can_recover_when_all_missed_publications_are_held) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  auto seen = stream_position{};
  for (int i = 0; i < 3; ++i) seen = publish(e, "room");
  publish_n(e, "room", 4);
  auto h = history(e, "room", seen.offset, 100);
  EXPECT_EQ(offsets_of(h), range(4, 7));
  EXPECT_TRUE(can_recover(seen, h));
  // From the very beginning too.
  EXPECT_TRUE(can_recover({0, seen.epoch}, history(e, "room", 0, 100)));
}

TEST(memory_engine, cannot_recover_when_history_was_truncated_by_size) {
  fake_clock clk;
  memory_engine e(opts(5), clk.fn());
  auto seen = stream_position{};
  for (int i = 0; i < 2; ++i) seen = publish(e, "room");
  publish_n(e, "room", 10);  // 3..12, only 8..12 held
  auto h = history(e, "room", seen.offset, 100);
  EXPECT_FALSE(h.publications.empty());
  EXPECT_FALSE(can_recover(seen, h));
  // One step later than the gap is recoverable.
  EXPECT_TRUE(can_recover({7, seen.epoch}, history(e, "room", 7, 100)));
}

TEST(memory_engine, cannot_recover_when_history_expired) {
  fake_clock clk;
  memory_engine e(opts(1000, 60s), clk.fn());
  auto seen = publish(e, "room");
  publish_n(e, "room", 3);
  clk.now += 61s;
  EXPECT_FALSE(can_recover(seen, history(e, "room", seen.offset, 100)));
}

TEST(memory_engine, cannot_recover_from_another_epoch) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  auto seen = publish(e, "room");
  publish_n(e, "room", 2);
  stream_position other{seen.offset, seen.epoch + "x"};
  EXPECT_FALSE(can_recover(other, history(e, "room", other.offset, 100)));
  // Even at the exact top offset: the offsets of another epoch mean nothing.
  stream_position other_top{3, seen.epoch + "x"};
  EXPECT_FALSE(can_recover(other_top, history(e, "room", 3, 100)));
}

TEST(memory_engine, cannot_recover_from_a_future_offset) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  auto seen = publish(e, "room");
  stream_position future{seen.offset + 5, seen.epoch};
  EXPECT_FALSE(can_recover(future, history(e, "room", future.offset, 100)));
}

TEST(memory_engine, cannot_recover_from_a_read_cut_by_limit) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  auto seen = publish(e, "room");
  publish_n(e, "room", 10);
  auto h = history(e, "room", seen.offset, 4);
  EXPECT_EQ(offsets_of(h), range(2, 5));
  EXPECT_FALSE(can_recover(seen, h));
  EXPECT_TRUE(can_recover(seen, history(e, "room", seen.offset, 10)));
  // A read with limit 0 holds nothing: not a recovery either.
  EXPECT_FALSE(can_recover(seen, history(e, "room", seen.offset, 0)));
}

// ---------------------------------------------------------------------------------------------
// can_recover, against hand-built results

TEST(memory_engine, can_recover_rejects_results_that_miss_either_end) {
  auto pub = [](std::uint64_t o) { return stored_publication{o, 0, nullptr}; };
  history_result h;
  h.top = {5, "e1"};
  h.first_offset = 1;
  h.publications = {pub(3), pub(4), pub(5)};
  EXPECT_TRUE(can_recover({2, "e1"}, h));
  EXPECT_FALSE(can_recover({1, "e1"}, h)) << "offset 2 missing at the front";
  h.publications = {pub(3), pub(4)};
  EXPECT_FALSE(can_recover({2, "e1"}, h)) << "offset 5 missing at the back";
  h.publications = {};
  EXPECT_FALSE(can_recover({2, "e1"}, h));
  EXPECT_TRUE(can_recover({5, "e1"}, h));
  EXPECT_FALSE(can_recover({5, "e2"}, h));
  EXPECT_FALSE(can_recover({6, "e1"}, h));
}

TEST(memory_engine, engine_error_codes_have_messages) {
  std::error_code ec = engine_errc::timeout;
  EXPECT_EQ(ec.category(), engine_category());
  EXPECT_STREQ(ec.category().name(), "muster.engine");
  EXPECT_EQ(ec.message(), "engine timed out");
  EXPECT_EQ(std::error_code(engine_errc::unavailable).message(), "engine unavailable");
  EXPECT_EQ(std::error_code(engine_errc::bad_reply).message(), "engine sent an unexpected reply");
}

// ---------------------------------------------------------------------------------------------
// The sink

TEST(memory_engine, sink_receives_each_publication_in_offset_order) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  recording_sink sink;
  e.start(sink);
  publish_n(e, "a", 3);
  publish_n(e, "b", 2);
  publish_n(e, "a", 2);
  auto events = sink.events();
  ASSERT_EQ(events.size(), 7u);
  EXPECT_EQ(sink.offsets("a"), range(1, 5));
  EXPECT_EQ(sink.offsets("b"), range(1, 2));
  for (const auto& ev : events) {
    EXPECT_FALSE(ev.presence);
    EXPECT_NE(ev.frame.find("\"channel\":\"" + ev.channel + "\""), std::string::npos) << ev.frame;
    EXPECT_NE(ev.frame.find("\"offset\":" + std::to_string(ev.offset) + ","), std::string::npos)
        << ev.frame;
  }
  e.stop();
}

TEST(memory_engine, sink_event_frame_is_the_history_frame) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  recording_sink sink;
  e.start(sink);
  publish(e, "room", R"({"n":1})");
  auto h = history(e, "room", 0, 10);
  ASSERT_EQ(h.publications.size(), 1u);
  ASSERT_EQ(sink.events().size(), 1u);
  EXPECT_EQ(*h.publications[0].frame, sink.events()[0].frame);
}

TEST(memory_engine, sink_receives_concurrent_publishes_to_one_channel_in_offset_order) {
  constexpr int threads = 4;
  constexpr int per_thread = 500;
  memory_engine e(opts(100));  // real clock: ordering must not depend on it
  recording_sink sink;
  e.start(sink);

  std::vector<std::vector<std::uint64_t>> assigned(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&e, &assigned, t] {
      client_info me{"client-" + std::to_string(t), "t" + std::to_string(t)};
      for (int i = 0; i < per_thread; ++i)
        e.publish("busy", std::to_string(i), me,
                  [&assigned, t](std::error_code ec, stream_position p) {
                    if (!ec) assigned[static_cast<std::size_t>(t)].push_back(p.offset);
                  });
    });
  }
  // Another channel published concurrently must not disturb the first.
  workers.emplace_back([&e] {
    for (int i = 0; i < per_thread; ++i)
      e.publish("quiet", "0", alice, [](std::error_code, stream_position) {});
  });
  for (auto& w : workers) w.join();

  constexpr auto total = static_cast<std::uint64_t>(threads) * per_thread;
  EXPECT_EQ(sink.offsets("busy"), range(1, total));
  EXPECT_EQ(sink.offsets("quiet"), range(1, per_thread));

  // Every publisher got distinct offsets, increasing within its own thread.
  std::vector<std::uint64_t> all;
  for (const auto& v : assigned) {
    EXPECT_EQ(v.size(), static_cast<std::size_t>(per_thread));
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
    all.insert(all.end(), v.begin(), v.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, range(1, total));

  // The frames match their offsets, and history holds the latest 100.
  for (const auto& ev : sink.events())
    ASSERT_NE(ev.frame.find("\"offset\":" + std::to_string(ev.offset) + ","), std::string::npos);
  auto h = history(e, "busy", std::nullopt, 1000);
  EXPECT_EQ(offsets_of(h), range(total - 99, total));
}

// ---------------------------------------------------------------------------------------------
// Presence

TEST(memory_engine, presence_join_lists_the_client_and_emits_a_join_event) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  recording_sink sink;
  e.start(sink);
  e.presence_join("room", alice);
  auto members = presence(e, "room");
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].client, alice.client);
  EXPECT_EQ(members[0].name, alice.name);
  EXPECT_EQ(members[0].user, "u-alice");

  auto events = sink.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].channel, "room");
  EXPECT_TRUE(events[0].presence);
  EXPECT_EQ(events[0].offset, 0u);
  EXPECT_EQ(
      events[0].frame,
      R"({"event":"join","channel":"room","client":"node-0-1","name":"alice","user":"u-alice"})");
}

TEST(memory_engine, presence_leave_unlists_the_client_and_emits_a_leave_event) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  recording_sink sink;
  e.start(sink);
  e.presence_join("room", alice);
  e.presence_join("room", bob);
  e.presence_leave("room", alice);
  auto members = presence(e, "room");
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].client, bob.client);

  auto events = sink.events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_TRUE(events[2].presence);
  EXPECT_EQ(events[2].offset, 0u);
  EXPECT_EQ(
      events[2].frame,
      R"({"event":"leave","channel":"room","client":"node-0-1","name":"alice","user":"u-alice"})");
}

TEST(memory_engine, presence_leave_of_an_absent_client_emits_nothing) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  recording_sink sink;
  e.start(sink);
  e.presence_leave("nowhere", alice);  // unknown channel
  e.presence_join("room", bob);
  e.presence_leave("room", alice);  // known channel, absent client
  e.presence_leave("room", bob);
  e.presence_leave("room", bob);  // second leave
  auto events = sink.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_NE(events[0].frame.find(R"("event":"join")"), std::string::npos);
  EXPECT_NE(events[1].frame.find(R"("event":"leave")"), std::string::npos);
  EXPECT_TRUE(presence(e, "room").empty());
}

TEST(memory_engine, presence_is_per_channel_and_sorted_by_client) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  e.presence_join("a", bob);
  e.presence_join("a", alice);
  e.presence_join("b", bob);
  auto a = presence(e, "a");
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].client, alice.client);
  EXPECT_EQ(a[1].client, bob.client);
  auto b = presence(e, "b");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].name, "bob");
  EXPECT_TRUE(presence(e, "c").empty());
}

TEST(memory_engine, presence_rejoin_keeps_one_entry_with_the_latest_name) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  e.presence_join("room", alice);
  e.presence_join("room", {alice.client, "alice2"});
  auto members = presence(e, "room");
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].name, "alice2");
}

TEST(memory_engine, presence_events_are_outside_the_stream) {
  fake_clock clk;
  memory_engine e(opts(), clk.fn());
  recording_sink sink;
  e.start(sink);
  publish(e, "room");
  e.presence_join("room", alice);
  e.presence_leave("room", alice);
  EXPECT_EQ(publish(e, "room").offset, 2u);
  auto h = history(e, "room", 0, 100);
  EXPECT_EQ(offsets_of(h), range(1, 2));
  EXPECT_EQ(h.top.offset, 2u);
  EXPECT_EQ(sink.offsets("room"), range(1, 2));
  EXPECT_EQ(sink.events().size(), 4u);
}

TEST(memory_engine, an_idempotency_key_is_forgotten_after_its_window) {
  fake_clock clk;
  memory_engine::options o;
  o.idempotency_window = 60s;
  memory_engine e(o, clk.fn());
  auto keyed = [&] {
    stream_position out;
    e.publish("k", "1", {"c", "n"}, "key", [&](std::error_code, stream_position p) { out = p; });
    return out;
  };
  EXPECT_EQ(keyed().offset, 1u);
  clk.now += 59s;
  EXPECT_EQ(keyed().offset, 1u) << "still a retry";
  clk.now += 2s;
  EXPECT_EQ(keyed().offset, 2u) << "past the window it is a new message";
  e.sweep();
  clk.now += 61s;
  e.sweep();
  EXPECT_EQ(keyed().offset, 3u);
}
