// What `muster drill replay` reads: timeline exports and alert feeds line by line, each bad line
// named by its number, and the waits between alerts at a speed.
#include "clients/cli/replay_feed.hpp"

#include <gtest/gtest.h>

#include <sstream>

using namespace muster::cli;

namespace {

replay_plan read(const std::string& text) {
  std::istringstream in(text);
  return read_replay(in);
}

}  // namespace

TEST(replay_feed, an_alert_feed_gives_alerts_with_their_times) {
  auto plan = read(
      R"({"source":"x","url":"https://x.com/a/status/1","author":"@a","text":"fire","severity":"sev2","tags":["t"],"metrics":{"reach":500,"engagement":3},"at":1000})"
      "\n\n"
      R"({"source":"x","url":"https://x.com/a/status/2","occurred_at":"2026-01-01T08:59:00.25+01:00"})"
      "\n"
      R"({"source":"x","url":"https://x.com/a/status/3","occurred_at":1767254340000})"
      "\n"
      R"({"source":"x","url":"https://x.com/a/status/4"})");
  ASSERT_TRUE(plan.errors.empty()) << plan.errors[0];
  ASSERT_EQ(plan.items.size(), 4u);
  const auto& first = plan.items[0];
  EXPECT_EQ(first.line, 1u);
  EXPECT_EQ(first.at_ms, 1000);
  EXPECT_EQ(first.post.author, "@a");
  EXPECT_EQ(first.post.severity, "sev2");
  EXPECT_EQ(first.post.tags, (std::vector<std::string>{"t"}));
  EXPECT_EQ(first.post.reach, 500u);
  EXPECT_EQ(first.post.engagement, 3u);
  EXPECT_EQ(plan.items[1].line, 3u) << "blank lines count";
  EXPECT_EQ(plan.items[1].at_ms, 1767254340250) << "07:59:00.25Z";
  EXPECT_EQ(plan.items[2].at_ms, 1767254340000);
  EXPECT_EQ(plan.items[3].at_ms, 0) << "unknown";
}

TEST(replay_feed, a_timeline_export_gives_its_new_alerts_and_repeats_and_skips_the_rest) {
  auto plan = read(
      R"({"event":"channel.created","channel":"c","offset":1,"ts":1,"data":{"channel":{}}})"
      "\n"
      R"({"event":"alert.new","channel":"c","offset":2,"ts":9,"data":{"alert":{"id":"a-1","source":"x","url":"https://x.com/1","text":"first","dedup_key":"k1","metrics":{"reach":10},"first_seen":5000}}})"
      "\n"
      R"({"event":"message","channel":"c","offset":3,"ts":10,"data":"hi"})"
      "\n"
      R"({"event":"alert.updated","channel":"c","offset":4,"ts":20,"data":{"alert":{"id":"a-1","source":"x","url":"https://x.com/1","text":"first","later_texts":["second"],"metrics":{"reach":99},"first_seen":5000,"last_seen":8000}}})");
  ASSERT_TRUE(plan.errors.empty()) << plan.errors[0];
  EXPECT_EQ(plan.skipped, 2u);
  ASSERT_EQ(plan.items.size(), 2u);
  EXPECT_EQ(plan.items[0].at_ms, 5000);
  EXPECT_EQ(plan.items[0].post.dedup_key, "k1");
  EXPECT_FALSE(plan.items[0].repeat);
  EXPECT_TRUE(plan.items[1].repeat);
  EXPECT_EQ(plan.items[1].at_ms, 8000);
  EXPECT_EQ(plan.items[1].post.text, "second") << "what the post says now";
  EXPECT_EQ(plan.items[1].post.reach, 99u);
}

TEST(replay_feed, a_repeat_that_went_viral_is_pushed_at_the_severity_it_had_before) {
  auto plan = read(
      R"({"event":"alert.new","data":{"alert":{"id":"a-1","source":"x","url":"https://x.com/1","severity":"sev3","metrics":{"reach":1000}}}})"
      "\n"
      R"({"event":"alert.updated","data":{"alert":{"id":"a-1","source":"x","url":"https://x.com/1","severity":"sev2","metrics":{"reach":20000}},"severity_raised":true,"viral":true}})"
      "\n"
      R"({"event":"alert.updated","data":{"alert":{"id":"a-1","source":"x","url":"https://x.com/1","severity":"sev1","metrics":{"reach":20000}},"severity_raised":true}})");
  ASSERT_EQ(plan.items.size(), 3u);
  EXPECT_EQ(plan.items[1].post.severity, "sev3") << "the server's reach jump raises it again";
  EXPECT_EQ(plan.items[2].post.severity, "sev1") << "the bot's own raise is replayed as it was";
}

TEST(replay_feed, each_bad_line_is_named_and_the_rest_is_kept) {
  auto plan = read(
      "{oops\n"
      "[1]\n"
      R"({"url":"https://x.com/1"})"
      "\n"
      R"({"source":"x","url":"ftp://x.com/1"})"
      "\n"
      R"({"source":"x","url":"https://x.com/1","metrics":{"reach":"12k"}})"
      "\n"
      R"({"source":"x","url":"https://x.com/1","tags":"t"})"
      "\n"
      R"({"source":"x","url":"https://x.com/1","at":-5})"
      "\n"
      R"({"event":"alert.new","data":{}})"
      "\n"
      R"({"event":"alert.new","data":{"alert":{"source":7,"url":"https://x.com/1"}}})"
      "\n"
      R"({"source":"x","url":"https://x.com/ok"})");
  EXPECT_EQ(plan.errors,
            (std::vector<std::string>{"line 1: not valid JSON", "line 2: not a JSON object",
                                      "line 3: source is required",
                                      "line 4: url must be an http or https URL",
                                      "line 5: metrics.reach must be a non-negative integer",
                                      "line 6: tags must be an array of strings",
                                      "line 7: at must be milliseconds since the Unix epoch",
                                      "line 8: alert.new without a data.alert object",
                                      "line 9: data.alert.source must be a string"}));
  ASSERT_EQ(plan.items.size(), 1u);
  EXPECT_EQ(plan.items[0].line, 10u);
}

TEST(replay_feed, waits_keep_the_original_gaps_divided_by_the_speed_and_capped) {
  replay_plan plan;
  for (std::int64_t at : {1000, 21000, 22000, 0, 500000, 400000}) {
    replay_item item;
    item.at_ms = at;
    plan.items.push_back(item);
  }
  EXPECT_EQ(replay_delays(plan, 20, 1, 60), (std::vector<std::int64_t>{0, 1000, 50, 50, 50, 0}))
      << "unknown time: the interval; backwards in time: no wait";
  EXPECT_EQ(replay_delays(plan, 1, 1, 10),
            (std::vector<std::int64_t>{0, 10000, 1000, 1000, 1000, 0}))
      << "no wait beyond the cap";
}
