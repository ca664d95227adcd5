#include <gtest/gtest.h>

#include "clients/lib/blocking_client.hpp"
#include "tests/integration/server_process.hpp"

using namespace muster;
using namespace muster::test;
using namespace std::chrono_literals;

namespace {
std::string recover_fields(const std::string& channel, std::uint64_t offset,
                           const std::string& epoch) {
  return R"("channel":")" + channel + R"(","recover":{"offset":)" + std::to_string(offset) +
         R"(,"epoch":")" + epoch + R"("})";
}
}  // namespace

TEST(recovery, reconnecting_client_gets_exactly_what_it_missed) {
  server_process server;
  auto pub = connect_client(server, "bot");
  auto sub = connect_client(server, "amb");
  auto r = sub->call("subscribe", R"("channel":"c")");
  ASSERT_FALSE(r.is_error);
  std::string epoch = *client::json_string(r.result, "epoch");
  for (int i = 1; i <= 10; ++i)
    ASSERT_FALSE(pub->call("publish", R"("channel":"c","data":)" + std::to_string(i)).is_error);
  std::uint64_t last = 0;
  for (int i = 1; i <= 10; ++i) {
    auto ev = sub->next_event();
    ASSERT_TRUE(ev);
    last = ev->offset;
  }
  ASSERT_EQ(last, 10u);
  sub.reset();  // connection dropped without a goodbye

  for (int i = 11; i <= 25; ++i)
    ASSERT_FALSE(pub->call("publish", R"("channel":"c","data":)" + std::to_string(i)).is_error);
  auto again = connect_client(server, "amb");
  auto rr = again->call("subscribe", recover_fields("c", last, epoch));
  ASSERT_FALSE(rr.is_error) << rr.raw;
  EXPECT_EQ(client::json_bool(rr.result, "recovered"), true) << rr.result;
  EXPECT_EQ(client::json_uint(rr.result, "missed"), 15u);
  // Live messages published while (and after) the client recovers.
  for (int i = 26; i <= 30; ++i)
    ASSERT_FALSE(pub->call("publish", R"("channel":"c","data":)" + std::to_string(i)).is_error);
  for (int i = 11; i <= 30; ++i) {
    auto ev = again->next_event();
    ASSERT_TRUE(ev) << "missing " << i;
    EXPECT_EQ(ev->offset, static_cast<std::uint64_t>(i));
    EXPECT_EQ(ev->data, std::to_string(i));
  }
  EXPECT_FALSE(again->next_event(200ms)) << "duplicate delivered";
}

TEST(recovery, live_publishes_during_recovery_are_merged_without_gap_or_duplicate) {
  server_process server(
      {"--set", "limits.publish_rate=100000", "--set", "limits.publish_burst=100000"});
  auto pub = connect_client(server, "bot");
  auto sub = connect_client(server, "amb");
  auto first = sub->call("subscribe", R"("channel":"m")");
  std::string epoch = *client::json_string(first.result, "epoch");
  ASSERT_FALSE(sub->call("unsubscribe", R"("channel":"m")").is_error);
  for (int i = 1; i <= 300; ++i)
    pub->send_command("publish", R"("channel":"m","data":)" + std::to_string(i));
  // Resubscribe from 0 while the publisher is still flooding.
  auto id = sub->send_command("subscribe", recover_fields("m", 0, epoch));
  for (int i = 301; i <= 600; ++i)
    pub->send_command("publish", R"("channel":"m","data":)" + std::to_string(i));
  auto rr = sub->wait_reply(id);
  ASSERT_FALSE(rr.is_error) << rr.raw;
  ASSERT_EQ(client::json_bool(rr.result, "recovered"), true);
  for (std::uint64_t i = 1; i <= 600; ++i) {
    auto ev = sub->next_event(5s);
    ASSERT_TRUE(ev) << "missing " << i;
    ASSERT_EQ(ev->offset, i);
  }
  EXPECT_FALSE(sub->next_event(200ms));
}

TEST(recovery, wrong_epoch_or_future_offset_is_not_recovered) {
  server_process server;
  auto c = connect_client(server, "x");
  ASSERT_FALSE(c->call("publish", R"("channel":"e","data":1)").is_error);
  auto r = c->call("subscribe", recover_fields("e", 0, "not-the-epoch"));
  ASSERT_FALSE(r.is_error);
  EXPECT_EQ(client::json_bool(r.result, "recovered"), false);
  EXPECT_EQ(client::json_uint(r.result, "offset"), 1u);
  EXPECT_FALSE(c->next_event(200ms)) << "nothing is replayed when recovery fails";
  std::string epoch = *client::json_string(r.result, "epoch");
  ASSERT_FALSE(c->call("unsubscribe", R"("channel":"e")").is_error);
  auto future = c->call("subscribe", recover_fields("e", 99, epoch));
  EXPECT_EQ(client::json_bool(future.result, "recovered"), false);
}

TEST(recovery, truncated_history_is_reported_not_recovered) {
  server_process server({"--set", "history.size=5"});
  auto c = connect_client(server, "x");
  auto r = c->call("subscribe", R"("channel":"t")");
  std::string epoch = *client::json_string(r.result, "epoch");
  ASSERT_FALSE(c->call("unsubscribe", R"("channel":"t")").is_error);
  for (int i = 1; i <= 10; ++i)
    ASSERT_FALSE(c->call("publish", R"("channel":"t","data":)" + std::to_string(i)).is_error);
  auto lost = c->call("subscribe", recover_fields("t", 2, epoch));
  EXPECT_EQ(client::json_bool(lost.result, "recovered"), false) << lost.result;
  ASSERT_FALSE(c->call("unsubscribe", R"("channel":"t")").is_error);
  auto ok = c->call("subscribe", recover_fields("t", 5, epoch));
  EXPECT_EQ(client::json_bool(ok.result, "recovered"), true) << ok.result;
  for (std::uint64_t i = 6; i <= 10; ++i) {
    auto ev = c->next_event();
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->offset, i);
  }
}
