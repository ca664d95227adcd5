#include "server/auth/revocations.hpp"

#include <gtest/gtest.h>

using namespace muster::server::auth;

namespace {
identity who(std::string sub, std::string jti, std::optional<std::int64_t> iat) {
  identity id;
  id.subject = std::move(sub);
  id.token_id = std::move(jti);
  id.issued_at = iat;
  return id;
}
}  // namespace

TEST(revocation_list, token_ids_and_users_issued_until_then) {
  revocation_list r;
  EXPECT_TRUE(r.apply(R"({"kind":"jti","id":"t-1","at":100})"));
  EXPECT_TRUE(r.apply(R"({"kind":"user","id":"bob","at":100})"));
  EXPECT_FALSE(r.apply(R"({"kind":"other","id":"x","at":1})"));
  EXPECT_FALSE(r.apply(R"({"kind":"jti","id":""})"));
  EXPECT_FALSE(r.apply("not json"));
  EXPECT_EQ(r.size(), 2u);
  EXPECT_TRUE(r.revoked(who("amy", "t-1", 50)));
  EXPECT_FALSE(r.revoked(who("amy", "t-2", 50)));
  EXPECT_FALSE(r.revoked(who("amy", "", std::nullopt)));
  EXPECT_TRUE(r.revoked(who("bob", "", 100))) << "issued the second it was revoked";
  EXPECT_TRUE(r.revoked(who("bob", "x", std::nullopt))) << "no iat: cannot be newer";
  EXPECT_FALSE(r.revoked(who("bob", "", 101))) << "issued after";
  r.revoke_user("bob", 90);  // an older line never moves it back
  EXPECT_TRUE(r.revoked(who("bob", "", 95)));
}
