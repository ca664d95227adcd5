// The subscription state machine, fed event by event: every recovery edge case the engine tests
// reach through sockets, here without any.
#include "server/session/recovery.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace muster::server;
using muster::server::session::action;
using muster::server::session::actions;
using muster::server::session::recovery;

namespace {

channel_event live(std::uint64_t offset, std::string epoch = "e1") {
  return {offset, std::make_shared<const std::string>("ev" + std::to_string(offset)), false,
          std::move(epoch)};
}

channel_event presence_event() {
  return {0, std::make_shared<const std::string>("join"), true, {}};
}

// A history read that holds offsets [from, to] of a stream whose top is `top`.
history_result held(std::uint64_t from, std::uint64_t to, std::uint64_t top,
                    std::string epoch = "e1") {
  history_result h;
  h.top = {top, std::move(epoch)};
  h.first_offset = from;
  for (auto o = from; o <= to && to > 0; ++o)
    h.publications.push_back({o, 0, std::make_shared<const std::string>("h" + std::to_string(o))});
  return h;
}

// The actions, written compactly: "reply:true@5/e1:2", "replay:h4", "live:ev6", "fill:h8",
// "read:7+", "read:-" (no since), "end:gap", "fail".
std::vector<std::string> show(const actions& todo) {
  std::vector<std::string> out;
  for (const auto& a : todo) {
    switch (a.kind) {
      case action::reply_subscribed:
        out.push_back("reply:" + std::string(a.recovered ? "true" : "false") + "@" +
                      std::to_string(a.position.offset) + "/" + a.position.epoch + ":" +
                      std::to_string(a.missed));
        break;
      case action::send_replay:
        out.push_back("replay:" + *a.frame);
        break;
      case action::send_live:
        out.push_back("live:" + *a.frame);
        break;
      case action::send_fill:
        out.push_back("fill:" + *a.frame);
        break;
      case action::read_history:
        out.push_back("read:" + (a.query.since ? std::to_string(*a.query.since) : "-") +
                      (a.resync ? "+" : ""));
        break;
      case action::end:
        out.push_back("end:" + std::string(a.reason));
        break;
      case action::fail:
        out.push_back("fail");
        break;
    }
  }
  return out;
}

using V = std::vector<std::string>;

class recovery_fsm : public ::testing::Test {
 protected:
  // Feeds one input, returns what it asked for.
  V start(std::optional<muster::protocol::stream_position> from = std::nullopt) {
    actions a;
    fsm.start(std::move(from), a);
    last_read = a.empty() ? 0 : a.back().read;
    last_query = a.empty() ? history_query{} : a.back().query;
    return show(a);
  }
  V history(const history_result& h, std::error_code ec = {}) {
    actions a;
    fsm.on_history(last_read, ec, h, a);
    remember(a);
    return show(a);
  }
  V event(const channel_event& ev) {
    actions a;
    fsm.on_live(ev, a);
    remember(a);
    return show(a);
  }
  void remember(const actions& a) {
    for (const auto& x : a)
      if (x.kind == action::read_history) {
        last_read = x.read;
        last_query = x.query;
      }
  }
  recovery::limits limits{100, 64};
  recovery fsm{limits};
  std::uint64_t last_read = 0;
  history_query last_query;
};

}  // namespace

TEST_F(recovery_fsm, subscribe_without_recover_reads_only_the_position) {
  EXPECT_EQ(start(), V{"read:-"});
  EXPECT_EQ(last_query.limit, 0u);
  EXPECT_EQ(history(held(1, 0, 5)), V{"reply:false@5/e1:0"});
  EXPECT_TRUE(fsm.live());
  EXPECT_EQ(event(live(6)), V{"live:ev6"});
}

TEST_F(recovery_fsm, recover_replays_exactly_what_was_missed) {
  EXPECT_EQ(start({{3, "e1"}}), V{"read:3"});
  EXPECT_EQ(last_query.limit, 100u);
  EXPECT_EQ(history(held(4, 5, 5)), (V{"reply:true@5/e1:2", "replay:h4", "replay:h5"}));
  EXPECT_EQ(event(live(6)), V{"live:ev6"});
}

TEST_F(recovery_fsm, recover_at_the_top_misses_nothing) {
  start({{5, "e1"}});
  EXPECT_EQ(history(held(1, 0, 5)), V{"reply:true@5/e1:0"});
}

TEST_F(recovery_fsm, recover_beyond_retention_says_recovered_false) {
  start({{1, "e1"}});
  // Offsets 2..3 are gone: a partial replay would be a silent gap.
  EXPECT_EQ(history(held(4, 6, 6)), V{"reply:false@6/e1:0"});
  EXPECT_EQ(event(live(7)), V{"live:ev7"});
}

TEST_F(recovery_fsm, recover_from_another_epoch_or_the_future_is_not_recovery) {
  start({{3, "old"}});
  EXPECT_EQ(history(held(1, 5, 5)), V{"reply:false@5/e1:0"});
  recovery other(limits);
  actions a;
  other.start(muster::protocol::stream_position{9, "e1"}, a);
  actions b;
  other.on_history(a.back().read, {}, held(1, 5, 5), b);
  EXPECT_EQ(show(b), V{"reply:false@5/e1:0"});
}

TEST_F(recovery_fsm, live_events_during_the_read_are_merged_by_offset) {
  start({{3, "e1"}});
  EXPECT_EQ(event(live(5)), V{});  // published while history was read: held
  EXPECT_EQ(event(live(6)), V{});
  EXPECT_EQ(event(live(7)), V{});
  // History already has 4..6; only 7 is new.
  EXPECT_EQ(history(held(4, 6, 6)),
            (V{"reply:true@6/e1:3", "replay:h4", "replay:h5", "replay:h6", "live:ev7"}));
}

TEST_F(recovery_fsm, duplicate_and_old_live_events_are_dropped) {
  start();
  history(held(1, 0, 5));
  EXPECT_EQ(event(live(6)), V{"live:ev6"});
  EXPECT_EQ(event(live(6)), V{});
  EXPECT_EQ(event(live(2)), V{});
  EXPECT_EQ(event(live(7)), V{"live:ev7"});
}

TEST_F(recovery_fsm, a_gap_is_filled_from_history_then_live_goes_on) {
  start();
  history(held(1, 0, 7));
  EXPECT_EQ(event(live(10)), V{"read:7+"});  // 8 and 9 went missing between engine and node
  EXPECT_FALSE(fsm.live());
  EXPECT_EQ(event(live(11)), V{});  // held while the gap is read
  EXPECT_EQ(history(held(8, 10, 10)), (V{"fill:h8", "fill:h9", "fill:h10", "live:ev11"}));
  EXPECT_EQ(fsm.position().offset, 11u);
}

TEST_F(recovery_fsm, a_gap_that_history_cannot_fill_ends_the_subscription) {
  start();
  history(held(1, 0, 7));
  event(live(10));
  EXPECT_EQ(history(held(9, 10, 10)), V{"end:gap"});  // 8 is gone
  EXPECT_TRUE(fsm.ended());
  EXPECT_EQ(event(live(11)), V{});
}

TEST_F(recovery_fsm, an_engine_error_while_filling_a_gap_ends_with_gap) {
  start();
  history(held(1, 0, 7));
  event(live(9));
  EXPECT_EQ(history({}, make_error_code(engine_errc::timeout)), V{"end:gap"});
}

TEST_F(recovery_fsm, a_gap_inside_the_events_held_during_recovery_starts_a_resync) {
  start({{3, "e1"}});
  event(live(5));
  event(live(7));  // 6 is missing
  event(live(8));
  EXPECT_EQ(history(held(4, 4, 4)), (V{"reply:true@4/e1:1", "replay:h4", "live:ev5", "read:5+"}));
  EXPECT_EQ(history(held(6, 8, 8)), (V{"fill:h6", "fill:h7", "fill:h8"}));
  EXPECT_EQ(event(live(9)), V{"live:ev9"});
}

TEST_F(recovery_fsm, a_new_epoch_is_followed_from_its_start) {
  start();
  history(held(1, 0, 5));
  // The engine lost the stream (Redis restarted empty): offset 1 of a new epoch is new.
  EXPECT_EQ(event(live(1, "e2")), V{"live:ev1"});
  EXPECT_EQ(fsm.position().epoch, "e2");
  EXPECT_EQ(event(live(2, "e2")), V{"live:ev2"});
  // And a gap in the new epoch is read from the new epoch's offset.
  EXPECT_EQ(event(live(4, "e2")), V{"read:2+"});
  EXPECT_EQ(history(held(3, 4, 4, "e2")), (V{"fill:h3", "fill:h4"}));
}

TEST_F(recovery_fsm, a_new_epoch_that_does_not_start_at_one_is_a_gap) {
  start();
  history(held(1, 0, 5));
  EXPECT_EQ(event(live(3, "e2")), V{"read:0+"});
  EXPECT_EQ(history(held(1, 3, 3, "e2")), (V{"fill:h1", "fill:h2", "fill:h3"}));
}

TEST_F(recovery_fsm, too_many_events_held_during_the_read_end_with_recovery_overflow) {
  start();  // the buffer holds 64 bytes; each event is 3-4 bytes
  V last;
  int n = 0;
  while (last.empty() && n < 100) last = event(live(static_cast<std::uint64_t>(++n + 5)));
  EXPECT_EQ(last, V{"end:recovery_overflow"});
  EXPECT_GT(n, 10);
  EXPECT_EQ(fsm.buffered_bytes(), 0u);
  EXPECT_EQ(history(held(1, 0, 5)), V{}) << "a late answer changes nothing";
}

TEST_F(recovery_fsm, a_failed_subscribe_read_fails_the_subscribe) {
  start({{3, "e1"}});
  EXPECT_EQ(history({}, make_error_code(engine_errc::unavailable)), V{"fail"});
  EXPECT_TRUE(fsm.ended());
}

TEST_F(recovery_fsm, a_stale_read_answer_is_ignored) {
  start();
  actions a;
  fsm.on_history(last_read + 7, {}, held(1, 0, 5), a);
  EXPECT_TRUE(a.empty());
  EXPECT_FALSE(fsm.live());
}

TEST_F(recovery_fsm, presence_events_are_held_then_delivered_outside_the_stream) {
  start();
  EXPECT_EQ(event(presence_event()), V{});
  EXPECT_EQ(history(held(1, 0, 2)), (V{"reply:false@2/e1:0", "live:join"}));
  EXPECT_EQ(event(presence_event()), V{"live:join"});
  EXPECT_EQ(fsm.position().offset, 2u);
}
