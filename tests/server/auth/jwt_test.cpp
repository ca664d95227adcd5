#include "server/auth/jwt.hpp"

#include <gtest/gtest.h>

using namespace muster::server::auth;
using namespace std::chrono_literals;

namespace {
const auto t0 = std::chrono::system_clock::time_point{} + 1'800'000'000s;
}  // namespace

TEST(jwt, minted_token_verifies_with_its_claims) {
  identity who;
  who.subject = "alice";
  who.name = "Alice A.";
  who.role = role::lead;
  who.channels = {"crisis:*", "lobby"};
  auto token = mint(who, "s3cret", 3600s, t0);
  identity got;
  ASSERT_FALSE(verify(token, "s3cret", got, t0 + 10s));
  EXPECT_EQ(got.subject, "alice");
  EXPECT_EQ(got.name, "Alice A.");
  EXPECT_EQ(got.role, role::lead);
  EXPECT_TRUE(got.may_access("crisis:acme"));
  EXPECT_TRUE(got.may_access("lobby"));
  EXPECT_FALSE(got.may_access("lobby2"));
  EXPECT_EQ(got.expires_at,
            std::chrono::duration_cast<std::chrono::seconds>(t0.time_since_epoch()).count() + 3600);
}

TEST(jwt, known_hs256_token_signature_is_checked_before_claims) {
  // The well-known jwt.io example, signed with "your-256-bit-secret"; it has no role claim.
  const char* token =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
      "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0Ij"
      "oxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
  identity got;
  EXPECT_EQ(verify(token, "your-256-bit-secret", got, t0), make_error_code(jwt_errc::bad_claim));
  EXPECT_EQ(verify(token, "another-secret", got, t0), make_error_code(jwt_errc::bad_signature));
}

TEST(jwt, each_kind_of_invalid_token_is_refused_with_its_reason) {
  identity who;
  who.subject = "bob";
  who.role = role::ambassador;
  auto good = mint(who, "k", 60s, t0);
  auto dot1 = good.find('.'), dot2 = good.rfind('.');
  identity got;
  // Tampered payload: signature no longer matches.
  auto tampered = good.substr(0, dot1 + 1) + base64url_encode(R"({"sub":"bob","role":"admin"})") +
                  good.substr(dot2);
  EXPECT_EQ(verify(tampered, "k", got, t0), make_error_code(jwt_errc::bad_signature));
  // alg none, with or without a signature.
  auto none =
      base64url_encode(R"({"alg":"none","typ":"JWT"})") + good.substr(dot1, dot2 - dot1) + ".";
  EXPECT_EQ(verify(none, "k", got, t0), make_error_code(jwt_errc::bad_algorithm));
  auto rs = base64url_encode(R"({"alg":"RS256"})") + good.substr(dot1);
  EXPECT_EQ(verify(rs, "k", got, t0), make_error_code(jwt_errc::bad_algorithm));
  // Expired (beyond the leeway) and not yet valid.
  EXPECT_EQ(verify(good, "k", got, t0 + 60s + 31s), make_error_code(jwt_errc::expired));
  EXPECT_FALSE(verify(good, "k", got, t0 + 60s + 29s)) << "within the leeway";
  // Malformed shapes.
  for (std::string bad :
       {std::string(""), std::string("abc"), std::string("a.b"), std::string("a.b.c.d"),
        good.substr(0, dot1) + ".!!!." + good.substr(dot2 + 1),
        base64url_encode("not json") + good.substr(dot1)})
    EXPECT_EQ(verify(bad, "k", got, t0), make_error_code(jwt_errc::malformed)) << bad;
  EXPECT_EQ(verify(good, "other", got, t0), make_error_code(jwt_errc::bad_signature))
      << "wrong secret";
  EXPECT_EQ(verify(good, "", got, t0), make_error_code(jwt_errc::bad_algorithm))
      << "no secret: HS256 is not accepted at all";
}

TEST(jwt, claims_are_validated) {
  identity got;
  auto check = [&](const std::string& payload) {
    return verify(sign_hs256(payload, "k"), "k", got, t0);
  };
  EXPECT_FALSE(check(R"({"sub":"y","role":"bot"})"));
  EXPECT_EQ(got.name, "y") << "name defaults to the subject";
  EXPECT_FALSE(got.expires_at) << "exp is optional";
  EXPECT_EQ(check(R"({"role":"bot"})"), make_error_code(jwt_errc::bad_claim)) << "no sub";
  EXPECT_EQ(check(R"({"sub":"","role":"bot"})"), make_error_code(jwt_errc::bad_claim))
      << "empty sub";
  EXPECT_EQ(check(R"({"sub":7,"role":"bot"})"), make_error_code(jwt_errc::bad_claim))
      << "sub not a string";
  EXPECT_EQ(check(R"({"sub":"y"})"), make_error_code(jwt_errc::bad_claim)) << "no role";
  EXPECT_EQ(check(R"({"sub":"y","role":"boss"})"), make_error_code(jwt_errc::bad_claim))
      << "unknown role";
  EXPECT_EQ(check(R"({"sub":"y","role":"bot","channels":"lobby"})"),
            make_error_code(jwt_errc::bad_claim));
  EXPECT_EQ(check(R"({"sub":"y","role":"bot","channels":[1]})"),
            make_error_code(jwt_errc::bad_claim));
  EXPECT_EQ(check(R"({"sub":"y","role":"bot","exp":"soon"})"),
            make_error_code(jwt_errc::bad_claim));
  EXPECT_EQ(check(R"({"sub":"y","role":"bot","nbf":1900000000})"),
            make_error_code(jwt_errc::not_yet_valid));
  EXPECT_EQ(check(R"({"sub":"y","role":"bot","exp":1700000000})"),
            make_error_code(jwt_errc::expired));
  EXPECT_EQ(check("[1,2]"), make_error_code(jwt_errc::malformed)) << "claims must be an object";
}

TEST(jwt, extreme_numeric_dates_are_clamped_not_undefined) {
  // Found by fuzzing: exp/nbf beyond int64 (as doubles) or at its ends overflowed in verify().
  identity got;
  auto check = [&](const std::string& claims) {
    return verify(sign_hs256(R"({"sub":"y","role":"bot",)" + claims + "}", "k"), "k", got, t0,
                  std::chrono::seconds(3600));
  };
  EXPECT_FALSE(check(R"("exp":1e300)")) << "far future: valid";
  EXPECT_FALSE(check(R"("exp":9223372036854775807)"));
  EXPECT_FALSE(check(R"("exp":18446744073709551615)"));
  ASSERT_TRUE(got.expires_at);
  EXPECT_LT(*got.expires_at, std::int64_t{1} << 50) << "clamped: later arithmetic cannot overflow";
  EXPECT_EQ(check(R"("exp":-9223372036854775808)"), make_error_code(jwt_errc::expired));
  EXPECT_EQ(check(R"("exp":-1e300)"), make_error_code(jwt_errc::expired));
  EXPECT_EQ(check(R"("nbf":1e300)"), make_error_code(jwt_errc::not_yet_valid));
  EXPECT_EQ(check(R"("nbf":9223372036854775807)"), make_error_code(jwt_errc::not_yet_valid));
  EXPECT_FALSE(check(R"("nbf":-9223372036854775808)"));
  EXPECT_FALSE(check(R"("nbf":1.5,"exp":2e9)")) << "fractional dates are fine";
}

TEST(jwt, base64url_round_trips_and_rejects_noise) {
  for (std::string s : {std::string(""), std::string("f"), std::string("fo"), std::string("foo"),
                        std::string("\xff\x00\x10", 3)}) {
    auto e = base64url_encode(s);
    EXPECT_EQ(e.find_first_of("+/="), std::string::npos);
    EXPECT_EQ(base64url_decode(e), s);
  }
  EXPECT_FALSE(base64url_decode("a"));
  EXPECT_FALSE(base64url_decode("ab+c"));
}

TEST(jwt, glob_patterns) {
  EXPECT_TRUE(glob_match("crisis:*", "crisis:acme"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("a?c", "abc"));
  EXPECT_FALSE(glob_match("a?c", "ac"));
  EXPECT_TRUE(glob_match("*:eu-*", "crisis:eu-west"));
  EXPECT_FALSE(glob_match("crisis:*", "lobby"));
  EXPECT_FALSE(glob_match("lobby", "lobby2"));
  // A '*' in the text is an ordinary character; the pattern's '*' still matches it.
  EXPECT_TRUE(glob_match("*", "*y"));
  EXPECT_TRUE(glob_match("*", "*"));
  EXPECT_TRUE(glob_match("a*", "a*b"));
  EXPECT_TRUE(glob_match("*b", "**b"));
  EXPECT_FALSE(glob_match("a*c", "a*b"));
  EXPECT_TRUE(glob_match("?", "*"));
}
