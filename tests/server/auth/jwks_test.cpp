// RS256, ES256 and EdDSA tokens minted here with OpenSSL, verified against a JWKS built from the
// same keys; and the attacks on that path (alg switching, none, unknown kid, wrong iss/aud).
#include "server/auth/jwks.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <memory>
#include <string>

#include "server/auth/jwt.hpp"
#include "tests/server/auth/test_idp.hpp"

using namespace muster::server::auth;
using namespace std::chrono_literals;
using namespace muster::test::idp;

namespace {

const auto t0 = std::chrono::system_clock::time_point{} + 1'800'000'000s;

class identity_provider : public ::testing::Test {
 protected:
  identity_provider() {
    auto parsed = key_set::parse(
        R"({"keys":[)" + rsa_jwk(rsa_.get(), "r1") + "," + ec_jwk(ec_.get(), "e1") +
        R"(,{"kty":"oct","k":"c2VjcmV0"},{"kty":"RSA","use":"enc","n":"AQ","e":"AQAB"}]})");
    if (auto* why = std::get_if<std::string>(&parsed)) ADD_FAILURE() << *why;
    keys_ = std::make_unique<key_set>(std::move(std::get<key_set>(parsed)));
    v_.jwks = keys_.get();
    v_.issuer = "https://idp.example/realms/acme";
    v_.audience = "muster";
  }
  std::error_code check(const std::string& t) { return verify(t, v_, got_, t0, 30s); }
  static std::string claims(const std::string& extra = "") {
    return R"({"sub":"u-1","name":"Ana","role":"lead","iss":"https://idp.example/realms/acme","aud":["account","muster"],"exp":1800003600)" +
           extra + "}";
  }

  pkey_ptr rsa_{EVP_RSA_gen(2048), &EVP_PKEY_free};
  pkey_ptr ec_{EVP_EC_gen("P-256"), &EVP_PKEY_free};
  std::unique_ptr<key_set> keys_;
  verify_keys v_;
  identity got_;
};

}  // namespace

TEST_F(identity_provider, the_set_keeps_only_signing_keys_it_can_use) {
  EXPECT_EQ(keys_->size(), 2u) << "the oct key and the encryption key are skipped";
  EXPECT_TRUE(std::holds_alternative<std::string>(key_set::parse("{}")));
  EXPECT_TRUE(std::holds_alternative<std::string>(key_set::parse(R"({"keys":[]})")));
  auto e_one = key_set::parse(R"({"keys":[{"kty":"RSA","n":")" +
                              base64url_encode(bn_param(rsa_.get(), OSSL_PKEY_PARAM_RSA_N)) +
                              R"(","e":"AQ"}]})");
  EXPECT_TRUE(std::holds_alternative<std::string>(e_one)) << "exponent 1: anyone could sign";
  auto twice = key_set::parse(R"({"keys":[)" + rsa_jwk(rsa_.get(), "r1") + "," +
                              rsa_jwk(rsa_.get(), "r1") + "]}");
  ASSERT_TRUE(std::holds_alternative<std::string>(twice));
  EXPECT_NE(std::get<std::string>(twice).find("second RS256 key"), std::string::npos);
  auto weak = key_set::parse(R"({"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]})");
  ASSERT_TRUE(std::holds_alternative<std::string>(weak));
  EXPECT_NE(std::get<std::string>(weak).find("2048 to 16384 bits"), std::string::npos);
  auto off_curve = key_set::parse(R"({"keys":[{"kty":"EC","crv":"P-256","x":")" +
                                  base64url_encode(std::string(32, '\1')) + R"(","y":")" +
                                  base64url_encode(std::string(32, '\2')) + R"("}]})");
  EXPECT_TRUE(std::holds_alternative<std::string>(off_curve)) << "a point not on the curve";
}

TEST_F(identity_provider, rs256_and_es256_tokens_verify_with_their_claims) {
  EXPECT_FALSE(check(token(rsa_.get(), R"({"alg":"RS256","kid":"r1"})", claims(), false)));
  EXPECT_EQ(got_.subject, "u-1");
  EXPECT_EQ(got_.role, role::lead);
  EXPECT_FALSE(check(token(ec_.get(), R"({"alg":"ES256","kid":"e1"})", claims(), true)));
  EXPECT_EQ(got_.name, "Ana");
  EXPECT_FALSE(check(token(ec_.get(), R"({"alg":"ES256"})", claims(), true)))
      << "no kid, one ES256 key: that one";
}

TEST_F(identity_provider, wrong_keys_issuers_audiences_and_algorithms_are_refused) {
  auto rs = [&](const std::string& header, const std::string& c) {
    return check(token(rsa_.get(), header, c, false));
  };
  EXPECT_EQ(rs(R"({"alg":"RS256","kid":"nope"})", claims()), jwt_errc::unknown_key);
  EXPECT_EQ(rs(R"({"alg":"RS256","kid":"../../../../dev/null"})", claims()), jwt_errc::unknown_key)
      << "a kid is a name, never a path";
  EXPECT_EQ(rs(R"({"alg":"RS256","kid":"e1"})", claims()), jwt_errc::unknown_key)
      << "the EC key's kid with RS256";
  EXPECT_EQ(rs(R"({"alg":"RS512","kid":"r1"})", claims()), jwt_errc::bad_algorithm);
  EXPECT_EQ(rs(R"({"alg":"none"})", claims()), jwt_errc::bad_algorithm);
  auto wrong_iss =
      R"({"sub":"u-1","role":"lead","iss":"https://evil.example","aud":"muster","exp":1800003600})";
  EXPECT_EQ(rs(R"({"alg":"RS256","kid":"r1"})", wrong_iss), jwt_errc::wrong_issuer);
  auto wrong_aud =
      R"({"sub":"u-1","role":"lead","iss":"https://idp.example/realms/acme","aud":"other","exp":1800003600})";
  EXPECT_EQ(rs(R"({"alg":"RS256","kid":"r1"})", wrong_aud), jwt_errc::wrong_audience);
  // Another key, same kid: the signature does not verify.
  pkey_ptr other(EVP_RSA_gen(2048), &EVP_PKEY_free);
  EXPECT_EQ(check(token(other.get(), R"({"alg":"RS256","kid":"r1"})", claims(), false)),
            jwt_errc::bad_signature);
  // Algorithm switching: an HS256 token "signed" with the provider's public key as the secret.
  auto forged = sign_hs256(claims(), rsa_jwk(rsa_.get(), "r1"));
  EXPECT_EQ(check(forged), jwt_errc::bad_algorithm) << "no auth.secret: HS256 is refused";
  v_.secret = "a-real-shared-secret-of-32-bytes!";
  EXPECT_EQ(check(forged), jwt_errc::bad_signature) << "HS256 only with the shared secret";
  EXPECT_FALSE(check(sign_hs256(claims(), v_.secret))) << "HS256 stays";
  EXPECT_FALSE(check(sign_hs256(R"({"sub":"u-9","role":"bot"})", v_.secret)))
      << "iss and aud pin the provider's tokens, not the ones minted with the secret";
}

TEST_F(identity_provider, claim_names_follow_the_provider) {
  // Keycloak puts roles in realm_access.roles, among its own.
  claim_names names{"realm_access.roles", "preferred_username", "muster_channels"};
  v_.names = &names;
  auto c =
      R"({"sub":"u-2","preferred_username":"ben","realm_access":{"roles":["offline_access","ambassador"]},"muster_channels":["crisis.*"],"iss":"https://idp.example/realms/acme","aud":"muster","exp":1800003600})";
  EXPECT_FALSE(check(token(rsa_.get(), R"({"alg":"RS256","kid":"r1"})", c, false)));
  EXPECT_EQ(got_.role, role::ambassador);
  EXPECT_EQ(got_.name, "ben");
  EXPECT_EQ(got_.channels, (std::vector<std::string>{"crisis.*"}));
  // Roles listed in any order: the most privileged counts.
  auto both =
      R"({"sub":"u-4","realm_access":{"roles":["admin","ambassador","lead"]},"iss":"https://idp.example/realms/acme","aud":"muster"})";
  EXPECT_FALSE(check(token(rsa_.get(), R"({"alg":"RS256","kid":"r1"})", both, false)));
  EXPECT_EQ(got_.role, role::admin);
  // Auth0's namespaced claims hold dots: the name itself is tried first.
  claim_names auth0{"https://muster.example.org/role", "name",
                    "https://muster.example.org/channels"};
  v_.names = &auth0;
  auto namespaced =
      R"({"sub":"u-5","https://muster.example.org/role":"lead","https://muster.example.org/channels":["crisis.*"],"iss":"https://idp.example/realms/acme","aud":"muster"})";
  EXPECT_FALSE(check(token(rsa_.get(), R"({"alg":"RS256","kid":"r1"})", namespaced, false)));
  EXPECT_EQ(got_.role, role::lead);
  EXPECT_EQ(got_.channels, (std::vector<std::string>{"crisis.*"}));
  v_.names = &names;
  auto no_role =
      R"({"sub":"u-3","realm_access":{"roles":["offline_access"]},"iss":"https://idp.example/realms/acme","aud":"muster"})";
  EXPECT_EQ(check(token(rsa_.get(), R"({"alg":"RS256","kid":"r1"})", no_role, false)),
            jwt_errc::bad_claim);
}

TEST_F(identity_provider, eddsa_tokens_verify_against_ed25519_keys) {
  pkey_ptr ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), &EVP_PKEY_free);
  pkey_ptr x25519(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"), &EVP_PKEY_free);
  auto parsed = key_set::parse(R"({"keys":[)" + ed_jwk(ed.get(), "d1") + "," +
                               R"({"kty":"OKP","crv":"X25519","x":"AAAA"}]})");
  ASSERT_TRUE(std::holds_alternative<key_set>(parsed)) << std::get<std::string>(parsed);
  key_set keys = std::move(std::get<key_set>(parsed));
  EXPECT_EQ(keys.size(), 1u) << "an X25519 key is for key agreement, not signatures";
  v_.jwks = &keys;
  EXPECT_FALSE(check(ed_token(ed.get(), R"({"alg":"EdDSA","kid":"d1"})", claims())));
  EXPECT_EQ(got_.subject, "u-1");
  pkey_ptr other(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), &EVP_PKEY_free);
  EXPECT_EQ(check(ed_token(other.get(), R"({"alg":"EdDSA","kid":"d1"})", claims())),
            jwt_errc::bad_signature);
  EXPECT_EQ(check(token(ec_.get(), R"({"alg":"ES256","kid":"d1"})", claims(), true)),
            jwt_errc::unknown_key)
      << "the Ed25519 key's kid with ES256";
  auto short_x = key_set::parse(R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]})");
  ASSERT_TRUE(std::holds_alternative<std::string>(short_x));
  EXPECT_NE(std::get<std::string>(short_x).find("not an Ed25519 public key"), std::string::npos);
}
