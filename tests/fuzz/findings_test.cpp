// Inputs the fuzzers (and the review of their targets) found, each checked against its fix.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "server/crisis/alert.hpp"
#include "server/crisis/records.hpp"
#include "server/engine/redis/replies.hpp"
#include "server/engine/redis/resp.hpp"
#include "tests/fuzz/targets.hpp"

namespace muster::server::redis {
namespace {

reply_ptr parse(std::string_view resp) {
  reply_reader reader;
  reader.feed(resp);
  std::error_code ec;
  auto r = reader.next(ec);
  EXPECT_FALSE(ec) << resp;
  EXPECT_TRUE(r) << resp;
  return r;
}

TEST(redis_reader, refuses_an_array_longer_than_any_reply_before_allocating_room_for_it) {
  // Was (fuzz target redis_reply): hiredis allocated 16 GiB of element pointers on reading the
  // count (libFuzzer: out-of-memory, malloc(17179869176) in createArrayObject).
  reply_reader reader;
  reader.feed("*2147483647\r\n");
  std::error_code ec;
  EXPECT_FALSE(reader.next(ec));
  EXPECT_TRUE(ec);
  reply_reader nested;
  nested.feed("*1\r\n*16777217\r\n");
  ec.clear();
  EXPECT_FALSE(nested.next(ec));
  EXPECT_TRUE(ec);
  // The bound leaves room for every reply the engine reads.
  reply_reader fine;
  fine.feed("*3\r\n:1\r\n$1\r\na\r\n*0\r\n");
  ec.clear();
  auto r = fine.next(ec);
  ASSERT_TRUE(r);
  EXPECT_FALSE(ec);
  EXPECT_EQ(r->elements, 3u);
}

TEST(redis_replies, a_slot_range_outside_0_to_16383_is_skipped_not_written_out_of_bounds) {
  // Was: owner[-5] written (the range's start was used as an index unchecked).
  auto r = parse(
      "*3\r\n*3\r\n:-5\r\n:3\r\n*2\r\n$1\r\nh\r\n:1\r\n"
      "*3\r\n:16384\r\n:16390\r\n*2\r\n$1\r\nh\r\n:1\r\n"
      "*3\r\n:100\r\n:99999\r\n*2\r\n$1\r\nh\r\n:7000\r\n");
  auto ranges = replies::cluster_slots(*r);
  ASSERT_TRUE(ranges);
  ASSERT_EQ(ranges->size(), 1u);
  EXPECT_EQ((*ranges)[0].first, 100);
  EXPECT_EQ((*ranges)[0].last, 16383);
  EXPECT_EQ((*ranges)[0].port, 7000);
}

TEST(redis_replies, a_slot_range_of_strings_or_a_port_out_of_range_is_skipped) {
  auto r = parse(
      "*2\r\n*3\r\n$1\r\n0\r\n$1\r\n9\r\n*2\r\n$1\r\nh\r\n:1\r\n"
      "*3\r\n:0\r\n:9\r\n*2\r\n$1\r\nh\r\n:70000\r\n");
  auto ranges = replies::cluster_slots(*r);
  ASSERT_TRUE(ranges);
  EXPECT_TRUE(ranges->empty());
}

TEST(redis_replies,
     an_index_score_beyond_64_bits_is_clamped_not_converted_with_undefined_behaviour) {
  // Was: static_cast<int64_t>(1e300), undefined (UBSan: float-cast-overflow).
  auto r = parse(
      "*8\r\n$1\r\na\r\n$6\r\n1e+300\r\n$1\r\nb\r\n$4\r\n-inf\r\n"
      "$1\r\nc\r\n$3\r\nnan\r\n$1\r\nd\r\n$5\r\n1e+17\r\n");
  auto out = replies::index_range(*r);
  ASSERT_TRUE(out);
  ASSERT_EQ(out->size(), 4u);
  EXPECT_EQ((*out)[0].second, std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ((*out)[1].second, std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ((*out)[2].second, 0);
  EXPECT_EQ((*out)[3].second, 100000000000000000);
}

TEST(redis_replies, a_history_or_commit_with_a_wrong_element_type_is_a_bad_reply) {
  EXPECT_FALSE(replies::history(*parse("*3\r\n$1\r\n5\r\n$2\r\nep\r\n:1\r\n")));
  EXPECT_FALSE(
      replies::history(*parse("*6\r\n:5\r\n$2\r\nep\r\n:1\r\n:-1\r\n$1\r\n1\r\n$2\r\n{}\r\n")));
  EXPECT_TRUE(
      replies::history(*parse("*6\r\n:5\r\n$2\r\nep\r\n:1\r\n:5\r\n$1\r\n1\r\n$2\r\n{}\r\n")));
  EXPECT_FALSE(replies::commit(*parse("*4\r\n:1\r\n$2\r\nep\r\n:1\r\n$1\r\n4\r\n"), {"k"}, 0));
  EXPECT_FALSE(replies::published(*parse("*2\r\n:-3\r\n$2\r\nep\r\n")));
}

}  // namespace
}  // namespace muster::server::redis

namespace muster::server::crisis {
namespace {

TEST(stored_times, beyond_what_the_clock_holds_are_clamped_not_overflowed) {
  // Was (fuzz target stored_records): a record's "last_seen":11767258000000 (year 2342) became
  // nanoseconds in a signed 64-bit count (UBSan: signed integer overflow in chrono.h).
  auto a = decoded<alert_record>(
      R"({"id":"a-1","channel":"c","status":"new","first_seen":1,"last_seen":11767258000000,)"
      R"("claimed_at":-11767258000000})");
  ASSERT_TRUE(a);
  EXPECT_EQ(to_ms(from_ms(std::numeric_limits<std::int64_t>::max())), 9223372036854);
  EXPECT_EQ(to_ms(from_ms(std::numeric_limits<std::int64_t>::min())), -9223372036854);
  EXPECT_EQ(to_ms(from_ms(1767258000000)), 1767258000000);
}

}  // namespace
}  // namespace muster::server::crisis
