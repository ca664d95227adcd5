// redis_connection against a real redis-server: pipelining, pushes (sharded too), timeouts,
// Redis going away and coming back.
#include "server/engine/redis/redis_connection.hpp"

#include <gtest/gtest.h>

#include "server/engine/engine.hpp"
#include "tests/integration/redis_process.hpp"

using namespace muster::server;
using namespace muster::server::redis;
using namespace muster::test;
using namespace std::chrono_literals;
namespace net = boost::asio;

namespace {

struct fixture {
  net::io_context ioc;
  template <class Pred>
  bool run_until(Pred p, std::chrono::milliseconds t = 5s) {
    auto deadline = std::chrono::steady_clock::now() + t;
    while (!p() && std::chrono::steady_clock::now() < deadline) {
      ioc.restart();
      ioc.run_for(5ms);
    }
    return p();
  }
  std::shared_ptr<redis_connection> connect(std::uint16_t port, redis_connection::options o = {}) {
    o.port = port;
    o.min_backoff = 20ms;
    o.max_backoff = 100ms;
    auto c = redis_connection::create(ioc, o);
    c->start();
    EXPECT_TRUE(run_until([&] { return c->up(); })) << "never connected";
    return c;
  }
};

}  // namespace

TEST(redis_connection, pipelined_commands_are_answered_in_order) {
  redis_process redis;
  fixture f;
  auto c = f.connect(redis.port());
  std::vector<std::string> got;
  for (int i = 0; i < 500; ++i)
    c->command(
        format_command({"SET", "k" + std::to_string(i), std::string("v\0", 2) + std::to_string(i)}),
        [](std::error_code ec, reply_ptr r) {
          EXPECT_TRUE(!ec && r && r->type == REDIS_REPLY_STATUS);
        });
  for (int i = 0; i < 500; ++i)
    c->command(format_command({"GET", "k" + std::to_string(i)}),
               [&](std::error_code ec, reply_ptr r) {
                 ASSERT_FALSE(ec);
                 got.emplace_back(text(*r));
               });
  ASSERT_TRUE(f.run_until([&] { return got.size() == 500; }));
  for (int i = 0; i < 500; ++i)
    EXPECT_EQ(got[i], std::string("v\0", 2) + std::to_string(i)) << "binary-safe, in order";
}

TEST(redis_connection, error_replies_are_replies) {
  redis_process redis;
  fixture f;
  auto c = f.connect(redis.port());
  bool done = false;
  c->command(format_command({"NOSUCHCOMMAND"}), [&](std::error_code ec, reply_ptr r) {
    EXPECT_FALSE(ec);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->type, REDIS_REPLY_ERROR);
    done = true;
  });
  ASSERT_TRUE(f.run_until([&] { return done; }));
  EXPECT_TRUE(c->up());
}

TEST(redis_connection, pushes_from_plain_and_sharded_pubsub_reach_the_push_handler) {
  redis_process redis;
  fixture f;
  auto sub = f.connect(redis.port());
  auto pub = f.connect(redis.port());
  std::vector<std::string> pushes;
  sub->on_push([&](const redisReply& r) {
    pushes.push_back(std::string(text(*r.element[0])) + ":" + std::string(text(*r.element[1])) +
                     ":" + std::string(text(*r.element[2])));
  });
  int confirmed = 0;
  sub->command(
      format_command({"SUBSCRIBE", "a", "b"}),
      [&](std::error_code ec, reply_ptr) {
        EXPECT_FALSE(ec);
        ++confirmed;
      },
      2);
  sub->command(format_command({"SSUBSCRIBE", "s"}), [&](std::error_code ec, reply_ptr) {
    EXPECT_FALSE(ec);
    ++confirmed;
  });
  ASSERT_TRUE(f.run_until([&] { return confirmed == 2; }));
  pub->command(format_command({"PUBLISH", "b", "hello"}), [](std::error_code, reply_ptr) {});
  pub->command(format_command({"SPUBLISH", "s", "sharded"}), [](std::error_code, reply_ptr) {});
  ASSERT_TRUE(f.run_until([&] { return pushes.size() == 2; }));
  EXPECT_EQ(pushes[0], "message:b:hello");
  EXPECT_EQ(pushes[1], "smessage:s:sharded");
  // The subscribed connection still answers commands in order (PING in subscriber mode).
  bool pong = false;
  sub->command(format_command({"PING"}), [&](std::error_code ec, reply_ptr r) { pong = !ec && r; });
  EXPECT_TRUE(f.run_until([&] { return pong; }));
}

TEST(redis_connection, slow_command_times_out_and_the_connection_recovers) {
  redis_process redis;
  fixture f;
  redis_connection::options o;
  o.command_timeout = 200ms;
  auto c = f.connect(redis.port(), o);
  std::error_code slow_ec, next_ec;
  bool slow_done = false, next_done = false;
  c->command(format_command({"DEBUG", "SLEEP", "1"}), [&](std::error_code ec, reply_ptr) {
    slow_ec = ec;
    slow_done = true;
  });
  c->command(format_command({"PING"}), [&](std::error_code ec, reply_ptr) {
    next_ec = ec;
    next_done = true;
  });
  ASSERT_TRUE(f.run_until([&] { return slow_done && next_done; }));
  EXPECT_EQ(slow_ec, make_error_code(engine_errc::timeout));
  EXPECT_TRUE(next_ec) << "a command queued behind a timed-out one fails too";
  // Redis itself is asleep for a second: keep asking (bounded) until it answers again.
  bool ok = false, in_flight = false;
  int attempts = 0;
  EXPECT_TRUE(f.run_until(
      [&] {
        if (!ok && !in_flight && c->up() && attempts < 50) {
          in_flight = true;
          ++attempts;
          c->command(format_command({"PING"}), [&](std::error_code ec, reply_ptr r) {
            ok = !ec && r;
            in_flight = false;
          });
        }
        return ok;
      },
      10s));
}

TEST(redis_connection, redis_killed_fails_commands_then_reconnects_after_restart) {
  redis_process redis;
  fixture f;
  auto c = f.connect(redis.port());
  std::vector<bool> states;
  c->on_state([&](bool up) { states.push_back(up); });
  redis.kill_hard();
  ASSERT_TRUE(f.run_until([&] { return !c->up(); }));
  std::error_code down_ec;
  bool done = false;
  c->command(format_command({"PING"}), [&](std::error_code ec, reply_ptr) {
    down_ec = ec;
    done = true;
  });
  ASSERT_TRUE(f.run_until([&] { return done; }));
  EXPECT_EQ(down_ec, make_error_code(engine_errc::unavailable))
      << "fails at once, never queued silently";
  redis.restart();
  ASSERT_TRUE(f.run_until([&] { return c->up(); }, 10s));
  EXPECT_GE(c->reconnects(), 1u);
  ASSERT_GE(states.size(), 2u);
  EXPECT_FALSE(states.front());
  EXPECT_TRUE(states.back());
}

TEST(redis_connection, auth_with_password) {
  redis_process redis({"--requirepass", "s3cret"});
  fixture f;
  redis_connection::options o;
  o.password = "s3cret";
  auto c = f.connect(redis.port(), o);
  bool ok = false;
  c->command(format_command({"PING"}), [&](std::error_code ec, reply_ptr r) {
    ok = !ec && r && r->type == REDIS_REPLY_STATUS;
  });
  EXPECT_TRUE(f.run_until([&] { return ok; }));
}
