// POST /api/v1/alerts with an Idempotency-Key, as a bot that retries would send it.
#include <gtest/gtest.h>

#include "tests/integration/server_process.hpp"

using namespace muster::test;

TEST(alert_api, a_push_retried_with_its_idempotency_key_is_answered_not_repeated) {
  server_process s(auth_args());
  auto bot = test_token("bot", "bot");
  std::string body = R"({"source":"x","url":"https://x.com/api/status/1","severity":"sev2"})";
  auto first =
      http_request(s.port(), "POST", "/api/v1/alerts", body, bot, {{"Idempotency-Key", "post-1"}});
  ASSERT_EQ(first.status, 202) << first.body;
  auto again =
      http_request(s.port(), "POST", "/api/v1/alerts", body, bot, {{"Idempotency-Key", "post-1"}});
  EXPECT_EQ(again.status, 202);
  EXPECT_EQ(again.body, first.body) << "the first answer, byte for byte";
  auto without = http_request(s.port(), "POST", "/api/v1/alerts", body, bot);
  EXPECT_NE(without.body.find(R"("deduplicated":true)"), std::string::npos)
      << "without a key it is a repeat trigger: " << without.body;
  auto too_long = http_request(s.port(), "POST", "/api/v1/alerts", body, bot,
                               {{"Idempotency-Key", std::string(129, 'k')}});
  EXPECT_EQ(too_long.status, 400);
  EXPECT_NE(too_long.body.find("Idempotency-Key must be at most 128 bytes"), std::string::npos);
}
