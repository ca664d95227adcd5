#include "server/rate_limiter.hpp"

#include <gtest/gtest.h>

using namespace muster::server;
using namespace std::chrono_literals;

// Rates and steps are powers of two so token arithmetic is exact in binary floating point.

namespace {
const rate_limiter::clock::time_point t0 = rate_limiter::clock::time_point{} + 1000h;

int take_all(rate_limiter& r, rate_limiter::clock::time_point now, int max = 1000) {
  int n = 0;
  while (n < max && r.try_take(now)) ++n;
  return n;
}
}  // namespace

TEST(rate_limiter, starts_full_with_burst_tokens) {
  rate_limiter r(4, 3, t0);
  EXPECT_TRUE(r.try_take(t0));
  EXPECT_TRUE(r.try_take(t0));
  EXPECT_TRUE(r.try_take(t0));
  EXPECT_FALSE(r.try_take(t0));
  EXPECT_FALSE(r.try_take(t0));
}

TEST(rate_limiter, refills_at_rate) {
  rate_limiter r(4, 2, t0);  // one token per 250 ms
  EXPECT_EQ(take_all(r, t0), 2);
  EXPECT_FALSE(r.try_take(t0 + 125ms));  // half a token
  EXPECT_TRUE(r.try_take(t0 + 250ms));
  EXPECT_FALSE(r.try_take(t0 + 250ms));
  EXPECT_EQ(take_all(r, t0 + 750ms), 2);
}

TEST(rate_limiter, never_holds_more_than_burst) {
  rate_limiter r(4, 5, t0);
  EXPECT_EQ(take_all(r, t0), 5);
  EXPECT_EQ(take_all(r, t0 + 1h), 5);
  EXPECT_EQ(take_all(r, t0 + 1h + 250ms), 1);
}

TEST(rate_limiter, rejected_attempts_do_not_consume_tokens) {
  rate_limiter r(2, 1, t0);  // one token per 500 ms
  EXPECT_TRUE(r.try_take(t0));
  for (int i = 1; i < 10; ++i) EXPECT_FALSE(r.try_take(t0 + i * 25ms));
  EXPECT_TRUE(r.try_take(t0 + 500ms));
}

TEST(rate_limiter, sustained_rate_matches_configuration) {
  rate_limiter r(4, 2, t0);
  int accepted = take_all(r, t0);
  for (int step = 1; step <= 80; ++step)  // 10 s in 125 ms steps
    if (r.try_take(t0 + step * 125ms)) ++accepted;
  EXPECT_EQ(accepted, 2 + 40);
}

TEST(rate_limiter, fractional_rate) {
  rate_limiter r(0.5, 1, t0);  // one token per 2 s
  EXPECT_TRUE(r.try_take(t0));
  EXPECT_FALSE(r.try_take(t0 + 1s));
  EXPECT_FALSE(r.try_take(t0 + 1999ms));
  EXPECT_TRUE(r.try_take(t0 + 2s));
}

TEST(rate_limiter, clock_going_backwards_adds_nothing) {
  rate_limiter r(4, 1, t0 + 1s);
  EXPECT_TRUE(r.try_take(t0 + 1s));
  EXPECT_FALSE(r.try_take(t0));
  EXPECT_FALSE(r.try_take(t0 + 1s + 125ms));
  EXPECT_TRUE(r.try_take(t0 + 1s + 250ms));
}

TEST(rate_limiter, retry_after_covers_the_wait_for_one_token) {
  rate_limiter r(4, 1, t0);
  ASSERT_TRUE(r.try_take(t0));
  ASSERT_FALSE(r.try_take(t0));
  long wait = r.retry_after_ms();
  EXPECT_GE(wait, 250);
  EXPECT_LE(wait, 251);
  EXPECT_TRUE(r.try_take(t0 + std::chrono::milliseconds(wait)));
}

TEST(rate_limiter, retry_after_shrinks_as_tokens_refill) {
  rate_limiter r(4, 1, t0);
  ASSERT_TRUE(r.try_take(t0));
  ASSERT_FALSE(r.try_take(t0 + 125ms));  // half a token accrued
  long wait = r.retry_after_ms();
  EXPECT_GE(wait, 125);
  EXPECT_LE(wait, 126);
  EXPECT_FALSE(r.try_take(t0 + 249ms));
  EXPECT_TRUE(r.try_take(t0 + 125ms + std::chrono::milliseconds(wait)));
}

TEST(rate_limiter, retry_after_is_long_for_slow_rates) {
  rate_limiter r(0.25, 1, t0);  // one token per 4 s
  ASSERT_TRUE(r.try_take(t0));
  ASSERT_FALSE(r.try_take(t0));
  EXPECT_GE(r.retry_after_ms(), 4000);
  EXPECT_LE(r.retry_after_ms(), 4001);
}
