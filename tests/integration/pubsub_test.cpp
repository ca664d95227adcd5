#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "clients/lib/blocking_client.hpp"
#include "tests/integration/server_process.hpp"

using namespace muster;
using namespace muster::test;
using namespace std::chrono_literals;

TEST(pubsub, messages_reach_every_subscriber_with_consecutive_offsets) {
  server_process server;
  auto alice = connect_client(server, "alice");
  auto bob = connect_client(server, "bob");
  auto carol = connect_client(server, "carol");
  for (auto* c : {alice.get(), bob.get()}) {
    auto r = c->call("subscribe", R"("channel":"crisis:one")");
    ASSERT_FALSE(r.is_error) << r.raw;
    EXPECT_EQ(client::json_bool(r.result, "recovered"), false);
  }
  for (int i = 1; i <= 20; ++i) {
    auto r =
        carol->call("publish", R"("channel":"crisis:one","data":{"n":)" + std::to_string(i) + "}");
    ASSERT_FALSE(r.is_error) << r.raw;
    EXPECT_EQ(client::json_uint(r.result, "offset"), static_cast<std::uint64_t>(i));
  }
  for (auto* c : {alice.get(), bob.get()}) {
    std::string epoch;
    for (int i = 1; i <= 20; ++i) {
      auto ev = c->next_event();
      ASSERT_TRUE(ev) << "missing message " << i;
      EXPECT_EQ(ev->event, "message");
      EXPECT_EQ(ev->channel, "crisis:one");
      EXPECT_EQ(ev->offset, static_cast<std::uint64_t>(i));
      EXPECT_EQ(ev->data, R"({"n":)" + std::to_string(i) + "}");
      EXPECT_EQ(ev->sender_name, "carol");
      EXPECT_GT(ev->ts_ms, 0);
      if (epoch.empty()) epoch = ev->epoch;
      EXPECT_EQ(ev->epoch, epoch);
    }
  }
  // carol did not subscribe and gets nothing.
  EXPECT_FALSE(carol->next_event(200ms));
}

TEST(pubsub, per_channel_order_is_identical_under_concurrent_publishers) {
  server_process server({"--threads", "2", "--set", "limits.publish_rate=100000", "--set",
                         "limits.publish_burst=100000"});
  constexpr int publishers = 4, per_publisher = 200;
  std::vector<std::unique_ptr<client::blocking_client>> subs;
  for (int i = 0; i < 3; ++i) {
    subs.push_back(connect_client(server, "sub" + std::to_string(i)));
    ASSERT_FALSE(subs.back()->call("subscribe", R"("channel":"race")").is_error);
  }
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int p = 0; p < publishers; ++p) {
    threads.emplace_back([&, p] {
      try {
        auto c = connect_client(server, "pub" + std::to_string(p));
        std::vector<std::uint64_t> ids;
        for (int i = 0; i < per_publisher; ++i)
          ids.push_back(c->send_command("publish", R"("channel":"race","data":{"p":)" +
                                                       std::to_string(p) +
                                                       ",\"i\":" + std::to_string(i) + "}"));
        for (auto id : ids)
          if (c->wait_reply(id, 10s).is_error) ++failures;
      } catch (const std::exception&) {
        ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  std::vector<std::vector<std::string>> seen(subs.size());
  for (std::size_t s = 0; s < subs.size(); ++s) {
    std::vector<int> last(publishers, -1);
    for (int k = 1; k <= publishers * per_publisher; ++k) {
      auto ev = subs[s]->next_event(5s);
      ASSERT_TRUE(ev) << "subscriber " << s << " missing event " << k;
      ASSERT_EQ(ev->offset, static_cast<std::uint64_t>(k));
      seen[s].push_back(ev->data);
      auto p = client::json_uint(ev->data, "p"), i = client::json_uint(ev->data, "i");
      ASSERT_TRUE(p && i);
      EXPECT_EQ(static_cast<int>(*i), last[*p] + 1) << "publisher order broken";
      last[*p] = static_cast<int>(*i);
    }
    EXPECT_FALSE(subs[s]->next_event(100ms)) << "duplicate or extra event";
  }
  EXPECT_EQ(seen[0], seen[1]);
  EXPECT_EQ(seen[0], seen[2]);
}

TEST(pubsub, history_presence_and_join_leave) {
  server_process server;
  auto alice = connect_client(server, "alice");
  ASSERT_FALSE(alice->call("subscribe", R"("channel":"room","join_leave":true)").is_error);
  for (int i = 1; i <= 5; ++i)
    ASSERT_FALSE(
        alice->call("publish", R"("channel":"room","data":)" + std::to_string(i)).is_error);
  // alice's own join comes first, then her 5 messages.
  auto join = alice->next_event();
  ASSERT_TRUE(join);
  EXPECT_EQ(join->event, "join");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(alice->next_event());

  auto bob = connect_client(server, "bob");
  auto h = bob->call("history", R"("channel":"room","limit":3)");
  ASSERT_FALSE(h.is_error) << h.raw;
  EXPECT_EQ(client::json_uint(h.result, "offset"), 5u);
  EXPECT_NE(h.result.find(R"("offset":3)"), std::string::npos);
  EXPECT_EQ(h.result.find(R"("offset":2,)"), std::string::npos);
  auto since = bob->call("history", R"("channel":"room","since":4)");
  ASSERT_FALSE(since.is_error);
  EXPECT_NE(since.result.find(R"("data":5)"), std::string::npos);
  EXPECT_EQ(since.result.find(R"("data":4)"), std::string::npos);

  ASSERT_FALSE(bob->call("subscribe", R"("channel":"room")").is_error);
  auto bob_join = alice->next_event();
  ASSERT_TRUE(bob_join);
  EXPECT_EQ(bob_join->event, "join");
  EXPECT_NE(bob_join->raw.find("\"bob\""), std::string::npos);
  auto p = alice->call("presence", R"("channel":"room")");
  ASSERT_FALSE(p.is_error);
  EXPECT_NE(p.result.find("alice"), std::string::npos);
  EXPECT_NE(p.result.find("bob"), std::string::npos);

  bob->close();
  auto leave = alice->next_event();
  ASSERT_TRUE(leave);
  EXPECT_EQ(leave->event, "leave");
  ASSERT_TRUE(eventually([&] {
    auto q = alice->call("presence", R"("channel":"room")");
    return q.result.find("bob") == std::string::npos;
  }));
}

TEST(pubsub, unsubscribe_stops_delivery) {
  server_process server;
  auto a = connect_client(server, "a");
  ASSERT_FALSE(a->call("subscribe", R"("channel":"u")").is_error);
  auto r = a->call("unsubscribe", R"("channel":"u")");
  ASSERT_FALSE(r.is_error) << r.raw;
  ASSERT_FALSE(a->call("publish", R"("channel":"u","data":1)").is_error);
  EXPECT_FALSE(a->next_event(200ms));
  auto again = a->call("unsubscribe", R"("channel":"u")");
  EXPECT_EQ(again.error_code, "not_subscribed");
}

TEST(http, health_ready_and_metrics) {
  server_process server;
  EXPECT_EQ(http_get(server.port(), "/healthz").first, 200);
  EXPECT_EQ(http_get(server.port(), "/readyz").first, 200);
  EXPECT_EQ(http_get(server.port(), "/nope").first, 404);
  auto c = connect_client(server, "m");
  ASSERT_FALSE(c->call("subscribe", R"("channel":"m")").is_error);
  ASSERT_FALSE(c->call("publish", R"("channel":"m","data":1)").is_error);
  c->send_text("not json");
  auto msg = c->next_event();  // the message
  ASSERT_TRUE(msg);
  auto err = c->next_event();  // then the error: only now is it counted for sure
  ASSERT_TRUE(err);
  EXPECT_EQ(err->error_code, "bad_json");
  auto [status, body] = http_get(server.port(), "/metrics");
  EXPECT_EQ(status, 200);
  EXPECT_NE(body.find("muster_connections 1"), std::string::npos) << body;
  EXPECT_NE(body.find("muster_channels 1"), std::string::npos);
  EXPECT_NE(body.find("muster_publications_total 1"), std::string::npos);
  EXPECT_NE(body.find("muster_errors_total{code=\"bad_json\"} 1"), std::string::npos);
}
