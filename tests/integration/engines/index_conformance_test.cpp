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

INSTANTIATE_TEST_SUITE_P(engines, index_conformance, engine_kinds, engine_name);
