// sequence: steps one after another, inline or not, with a constant stack.
#include "server/crisis/sequence.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

using muster::server::crisis::sequence;

TEST(sequence, a_hundred_thousand_inline_steps_run_in_order_without_nesting) {
  std::vector<std::size_t> order;
  bool done = false;
  sequence::run(
      100000,
      [&](std::size_t i, std::function<void()> next) {
        order.push_back(i);
        next();  // inline: would nest 100000 calls deep without the loop
      },
      [&] { done = true; });
  ASSERT_TRUE(done);
  ASSERT_EQ(order.size(), 100000u);
  for (std::size_t i = 0; i < order.size(); ++i) ASSERT_EQ(order[i], i);
}

TEST(sequence, steps_that_finish_on_other_threads_still_run_one_after_another) {
  std::atomic<int> running{0}, most{0}, steps{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  std::mutex m;
  sequence::run(
      200,
      [&](std::size_t i, std::function<void()> next) {
        int now = ++running;
        most = std::max(most.load(), now);
        ++steps;
        if (i % 3 == 0) {  // every third one finishes elsewhere
          std::lock_guard l(m);
          threads.emplace_back([&running, next] {
            --running;
            next();
          });
        } else {
          --running;
          next();
        }
      },
      [&] { done = true; });
  for (int i = 0; i < 500 && !done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  {
    std::lock_guard l(m);
    for (auto& t : threads) t.join();
  }
  EXPECT_TRUE(done);
  EXPECT_EQ(steps.load(), 200);
  EXPECT_EQ(most.load(), 1) << "never two steps at once";
  sequence::run(
      0, [](std::size_t, std::function<void()>) { FAIL(); }, [&] { done = false; });
  EXPECT_FALSE(done) << "no steps: done at once";
}
