// token.revoke against the real musterd: a revoked token id, or every token of a user issued
// until then, is refused at the next connect, and its live connections on every node are
// closed with 4001 within a second; on the embedded engine the revocation survives a restart.
#include <gtest/gtest.h>

#include <ctime>

#include "clients/lib/blocking_client.hpp"
#include "server/auth/jwt.hpp"
#include "tests/integration/node_set.hpp"
#include "tests/integration/server_process.hpp"

using namespace muster;
using namespace muster::test;
using namespace std::chrono_literals;

namespace {

// A token with a token id and an issue time of our choosing.
std::string token_for(const std::string& sub, const std::string& jti, std::int64_t iat) {
  return server::auth::sign_hs256(R"({"sub":")" + sub + R"(","role":"ambassador","jti":")" + jti +
                                      R"(","iat":)" + std::to_string(iat) + R"(,"exp":)" +
                                      std::to_string(std::time(nullptr) + 3600) + "}",
                                  test_secret);
}

std::unique_ptr<client::blocking_client> open_with(const server_process& s, const std::string& t) {
  auto c = std::make_unique<client::blocking_client>(s.endpoint());
  c->connect("x", t);
  return c;
}

}  // namespace

class revocation : public ::testing::TestWithParam<std::string> {};

TEST_P(revocation, revoked_tokens_and_users_are_closed_everywhere_and_refused) {
  node_set nodes(GetParam(), {});
  ASSERT_TRUE(nodes.ready()) << nodes.logs();
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  auto stolen = token_for("amy", "t-1", now - 60);
  auto amy = open_with(nodes.node(1), stolen);  // on the other node when there are two
  auto amy2 = open_with(nodes.node(1), token_for("amy", "t-2", now - 60));
  auto bob = open_with(nodes.node(1), token_for("bob", "t-3", now - 60));
  auto admin = nodes.connect(0, "root", "admin");
  auto lead = nodes.connect(0, "lena", "lead");

  EXPECT_EQ(lead->call("token.revoke", R"("jti":"t-1")").error_code, "forbidden");
  EXPECT_EQ(admin->call("token.revoke", "").error_message, "give exactly one of jti and user");
  auto r = admin->call("token.revoke", R"("jti":"t-1","reason":"phone lost")");
  ASSERT_FALSE(r.is_error) << r.raw;
  EXPECT_NE(r.result.find(R"("already":false)"), std::string::npos) << r.result;
  EXPECT_EQ(amy->wait_closed(2s), 4001) << "the stolen token's connection, within a second";
  EXPECT_FALSE(amy2->call("ping").is_error) << "the same user's other token still works";
  EXPECT_NE(admin->call("token.revoke", R"("jti":"t-1")").result.find(R"("already":true)"),
            std::string::npos);
  client::blocking_client again(nodes.node(0).endpoint());
  again.open();
  auto refused = again.call("connect", R"("token":")" + stolen + "\"");
  EXPECT_EQ(refused.error_code, "unauthorized");
  EXPECT_EQ(refused.error_message, "token refused: token has been revoked");

  // A user: every token issued until now, on every node; a token issued later works.
  ASSERT_FALSE(admin->call("token.revoke", R"("user":"bob")").is_error);
  EXPECT_EQ(bob->wait_closed(2s), 4001);
  // (The line is drawn a leeway, 30 s, after now: issuers' clocks may run ahead.)
  auto fresh = open_with(nodes.node(1), token_for("bob", "t-4", now + 60));
  EXPECT_FALSE(fresh->call("ping").is_error) << "a token issued after the revocation";
}

INSTANTIATE_TEST_SUITE_P(engines, revocation, ::testing::Values("memory", "redis"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST(revocation_durable, a_revocation_survives_a_restart) {
  auto dir =
      std::filesystem::temp_directory_path() / ("muster-revoke-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto args = auth_args();
  args.insert(args.end(), {"--set", "storage.path=\"" + (dir / "muster.db").string() + "\""});
  auto stolen = token_for("amy", "t-9", static_cast<std::int64_t>(std::time(nullptr)) - 60);
  {
    server_process s(args);
    auto admin = std::make_unique<client::blocking_client>(s.endpoint());
    admin->connect("root", test_token("root", "admin"));
    ASSERT_FALSE(admin->call("token.revoke", R"("jti":"t-9")").is_error);
  }
  server_process s(args);
  client::blocking_client c(s.endpoint());
  c.open();
  EXPECT_EQ(c.call("connect", R"("token":")" + stolen + "\"").error_message,
            "token refused: token has been revoked");
  std::filesystem::remove_all(dir);
}
