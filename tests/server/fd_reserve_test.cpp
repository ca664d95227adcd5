#include "server/fd_reserve.hpp"

#include <gtest/gtest.h>

#include "server/log_throttle.hpp"

using namespace muster::server;
using namespace std::chrono_literals;

TEST(fd_reserve, spares_are_given_up_and_come_back_when_released) {
  auto r = std::make_shared<fd_reserve>(3);
  EXPECT_EQ(r->top_up(), 3u);
  auto a = r->take();
  auto b = r->take();
  auto c = r->take();
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(r->held(), 0u);
  EXPECT_FALSE(r->take()) << "none left";
  a.reset();
  EXPECT_EQ(r->held(), 3u) << "a released slot tops the spares up again";
  b.reset();
  c.reset();
  EXPECT_EQ(r->held(), 3u) << "never more than asked for";
}

TEST(log_throttle, one_line_per_interval_with_the_count_held_back) {
  log_throttle t(10s);
  auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  EXPECT_EQ(t.allow(t0), 0u);
  EXPECT_FALSE(t.allow(t0 + 1s));
  EXPECT_FALSE(t.allow(t0 + 9s));
  EXPECT_EQ(t.allow(t0 + 10s), 2u);
  EXPECT_EQ(t.allow(t0 + 30s), 0u);
}
