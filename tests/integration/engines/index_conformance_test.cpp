// The index concern of the engine contract, against every engine.
#include "tests/integration/engines/engine_fixture.hpp"

using namespace muster::server;
using namespace muster::test;
using namespace std::chrono_literals;

class index_conformance : public engine_fixture {};

TEST_P(index_conformance, index_put_range_remove) {
  index_op(true, "due", "b", 200);
  index_op(true, "due", "a", 100);
  index_op(true, "due", "c", 300);
  index_op(true, "due", "a", 150);  // moves
  auto r = index_range("due", 250, 10);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], (std::pair<std::string, std::int64_t>{"a", 150}));
  EXPECT_EQ(r[1], (std::pair<std::string, std::int64_t>{"b", 200}));
  EXPECT_EQ(index_range("due", 1000, 1).size(), 1u);
  index_op(false, "due", "a", 0);
  index_op(false, "due", "nope", 0);
  r = index_range("due", 1000, 10);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].first, "b");
  EXPECT_TRUE(index_range("other", 1000, 10).empty());
}

TEST_P(index_conformance, an_earlier_put_never_moves_a_member_later) {
  auto earlier = [&](const std::string& m, std::int64_t score) {
    await<bool>([&](auto set) {
      eng->index_put_earlier("due", m, score, [set](std::error_code ec) {
        EXPECT_FALSE(ec) << ec.message();
        set(true);
      });
    });
  };
  earlier("a", 500);  // absent: added
  earlier("a", 700);  // later: ignored
  earlier("b", 300);
  earlier("b", 100);  // earlier: moves
  auto r = index_range("due", 1000, 10);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], (std::pair<std::string, std::int64_t>{"b", 100}));
  EXPECT_EQ(r[1], (std::pair<std::string, std::int64_t>{"a", 500}));
}

TEST_P(index_conformance, a_replace_changes_only_a_member_still_at_the_expected_score) {
  auto replace = [&](const std::string& m, std::int64_t expect, std::optional<std::int64_t> to) {
    await<bool>([&](auto set) {
      eng->index_replace("due", m, expect, to, [set](std::error_code ec) {
        EXPECT_FALSE(ec) << ec.message();
        set(true);
      });
    });
  };
  index_op(true, "due", "a", 100);
  index_op(true, "due", "b", 200);
  replace("a", 100, 900);  // as expected: moved
  replace("b", 150, 50);   // changed meanwhile: kept
  replace("c", 0, 10);     // absent: stays absent
  auto r = index_range("due", 1000, 10);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], (std::pair<std::string, std::int64_t>{"b", 200}));
  EXPECT_EQ(r[1], (std::pair<std::string, std::int64_t>{"a", 900}));
  replace("a", 900, std::nullopt);  // removed
  replace("b", 1, std::nullopt);    // not at 1: kept
  r = index_range("due", 1000, 10);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].first, "b");
}

INSTANTIATE_TEST_SUITE_P(engines, index_conformance, engine_kinds, engine_name);
