#include "server/engine/embedded/cold_keys.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

namespace muster::server::embedded {
namespace {

TEST(cold_keys, holds_what_was_added_until_it_is_removed) {
  cold_keys c;
  EXPECT_TRUE(c.empty());
  EXPECT_FALSE(c.may_hold("alert:a1"));
  c.add("alert:a1");
  c.add("alert:a2");
  EXPECT_EQ(c.size(), 2u);
  EXPECT_TRUE(c.may_hold("alert:a1"));
  EXPECT_TRUE(c.may_hold("alert:a2"));
  EXPECT_FALSE(c.may_hold("alert:a3"));
  c.remove("alert:a1");
  EXPECT_FALSE(c.may_hold("alert:a1"));
  EXPECT_TRUE(c.may_hold("alert:a2"));
  c.remove("alert:a2");
  EXPECT_TRUE(c.empty());
  EXPECT_FALSE(c.may_hold_prefix(""));
}

TEST(cold_keys, a_prefix_may_match_when_a_kind_with_cold_keys_could_start_with_it) {
  cold_keys c;
  c.add("alert:a1");
  c.add("meta");
  EXPECT_TRUE(c.may_hold_prefix(""));
  EXPECT_TRUE(c.may_hold_prefix("al"));
  EXPECT_TRUE(c.may_hold_prefix("alert:"));
  EXPECT_TRUE(c.may_hold_prefix("alert:a"));  // conservative: ask the file
  EXPECT_TRUE(c.may_hold_prefix("me"));
  EXPECT_FALSE(c.may_hold_prefix("ack:"));
  EXPECT_FALSE(c.may_hold_prefix("alerts:"));
  EXPECT_FALSE(c.may_hold_prefix("member:"));
  c.remove("alert:a1");
  EXPECT_FALSE(c.may_hold_prefix("alert:"));
  EXPECT_TRUE(c.may_hold_prefix("m"));
}

// Against a model: never a false negative, and it empties exactly when the model does.
TEST(cold_keys, never_forgets_a_key_that_is_still_cold) {
  std::mt19937 rng(7);
  cold_keys c;
  std::set<std::string> model;
  for (int step = 0; step < 20000; ++step) {
    auto key = "alert:" + std::to_string(rng() % 500);
    if (model.contains(key)) {
      c.remove(key);
      model.erase(key);
    } else {
      c.add(key);
      model.insert(key);
    }
    ASSERT_EQ(c.size(), model.size());
    if (step % 97 != 0) continue;
    for (const auto& k : model) {
      ASSERT_TRUE(c.may_hold(k)) << k << " at step " << step;
    }
  }
  for (const auto& k : std::vector<std::string>(model.begin(), model.end())) c.remove(k);
  EXPECT_TRUE(c.empty());
  EXPECT_FALSE(c.may_hold_prefix("alert:"));
}

}  // namespace
}  // namespace muster::server::embedded
