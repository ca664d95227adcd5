// The outbound queue's accounting: bytes counted in are counted out from the same entry.
#include "server/session/outbound_queue.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <random>

using muster::server::session::outbound_queue;

namespace {
std::shared_ptr<const std::string> frame(std::size_t n, char c = 'x') {
  return std::make_shared<const std::string>(n, c);
}
}  // namespace

TEST(outbound_queue, live_bytes_are_bounded_and_owed_bytes_are_not) {
  outbound_queue q(100);
  EXPECT_TRUE(q.push(frame(60), false));
  EXPECT_FALSE(q.push(frame(41), false)) << "over the bound: refused, nothing queued";
  EXPECT_EQ(q.live_bytes(), 60u);
  EXPECT_TRUE(q.push(frame(40), false)) << "exactly at the bound is fine";
  EXPECT_TRUE(q.push(frame(500), true)) << "what the client asked for is never refused";
  EXPECT_EQ(q.live_bytes(), 100u);
  EXPECT_EQ(q.owed_bytes(), 500u);
  EXPECT_EQ(q.frames(), 3u);
}

TEST(outbound_queue, a_single_frame_is_written_without_a_copy) {
  outbound_queue q(1000);
  auto f = frame(10);
  q.push(f, false);
  auto bytes = q.begin_write();
  EXPECT_EQ(bytes.data(), f->data()) << "the shared buffer itself";
  EXPECT_TRUE(q.writing());
  EXPECT_EQ(q.live_bytes(), 0u);
  q.end_write();
  EXPECT_FALSE(q.writing());
}

TEST(outbound_queue, queued_frames_are_gathered_into_one_write_in_order) {
  outbound_queue q(1000);
  q.push(frame(2, 'a'), false);
  q.push(frame(3, 'b'), true);
  q.push(frame(1, 'c'), false);
  EXPECT_EQ(q.begin_write(), "aabbbc");
  EXPECT_EQ(q.live_bytes(), 0u);
  EXPECT_EQ(q.owed_bytes(), 0u);
  EXPECT_TRUE(q.empty());
  // Pushed during the write: the next write.
  q.push(frame(4, 'd'), true);
  q.end_write();
  EXPECT_EQ(q.begin_write(), "dddd");
}

TEST(outbound_queue, one_write_is_bounded_in_bytes_and_frames) {
  outbound_queue q(1 << 30);
  for (int i = 0; i < 3; ++i) q.push(frame(300 * 1024), false);
  EXPECT_EQ(q.begin_write().size(), 300u * 1024) << "a second frame would pass 512 KiB";
  q.end_write();
  outbound_queue many(1 << 30);
  for (std::size_t i = 0; i < outbound_queue::max_batch_frames + 10; ++i) many.push(frame(1), true);
  EXPECT_EQ(many.begin_write().size(), outbound_queue::max_batch_frames);
  EXPECT_EQ(many.frames(), 10u);
  EXPECT_EQ(many.owed_bytes(), 10u);
}

TEST(outbound_queue, clear_drops_what_is_queued_but_not_the_write_in_progress) {
  outbound_queue q(1000);
  q.push(frame(5, 'a'), false);
  auto bytes = q.begin_write();
  q.push(frame(7), true);
  q.push(frame(9), false);
  q.clear();
  EXPECT_EQ(q.live_bytes(), 0u);
  EXPECT_EQ(q.owed_bytes(), 0u);
  EXPECT_EQ(bytes, "aaaaa") << "still valid until end_write";
  q.end_write();
  EXPECT_TRUE(q.push(frame(1000), false)) << "the bound is whole again";
}

TEST(outbound_queue, counters_always_equal_what_is_queued) {
  // Random pushes, writes and clears against a model: the counters can neither drift nor wrap.
  std::mt19937 rng(42);
  outbound_queue q(4096);
  std::deque<std::pair<std::size_t, bool>> model;
  for (int step = 0; step < 20000; ++step) {
    auto r = rng() % 10;
    if (r < 6) {
      std::size_t n = 1 + rng() % 300;
      bool owed = rng() % 3 == 0;
      std::size_t live = 0;
      for (auto& [size, o] : model) live += o ? 0 : size;
      bool fits = owed || live + n <= 4096;
      EXPECT_EQ(q.push(frame(n), owed), fits);
      if (fits) model.emplace_back(n, owed);
    } else if (r < 9) {
      if (!q.writing() && !q.empty()) {
        auto bytes = q.begin_write();
        std::size_t taken = 0;
        while (taken < bytes.size()) {
          taken += model.front().first;
          model.pop_front();
        }
        EXPECT_EQ(taken, bytes.size());
      } else if (q.writing()) {
        q.end_write();
      }
    } else {
      q.clear();
      model.clear();
    }
    std::size_t live = 0, owed = 0;
    for (auto& [size, o] : model) (o ? owed : live) += size;
    ASSERT_EQ(q.live_bytes(), live) << "step " << step;
    ASSERT_EQ(q.owed_bytes(), owed) << "step " << step;
    ASSERT_EQ(q.frames(), model.size());
  }
}
