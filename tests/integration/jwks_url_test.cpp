// auth.jwks_url: the identity provider's keys fetched over HTTPS off the I/O threads, refreshed,
// fetched again when a token names a new key id, kept when the provider fails; /readyz waits
// for the first key set.
#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>

#include "tests/integration/server_process.hpp"
#include "tests/integration/test_certs.hpp"
#include "tests/integration/test_https_server.hpp"
#include "tests/server/auth/test_idp.hpp"

using namespace muster;
using namespace muster::test;
using namespace muster::test::idp;
using namespace std::chrono_literals;

namespace {

struct provider {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("muster-jwks-url-" + std::to_string(::getpid()) + "-" +
       std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  certs::authority ca{dir};
  certs::issued cert = ca.issue("idp");
  test_https_server https{cert.cert_file, cert.key_file};
  pkey_ptr k1{EVP_EC_gen("P-256"), &EVP_PKEY_free};
  pkey_ptr k2{EVP_EC_gen("P-256"), &EVP_PKEY_free};
  ~provider() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::string url() const { return "https://localhost:" + std::to_string(https.port()) + "/certs"; }
  std::vector<std::string> args(const std::string& refresh_s, bool trust = true) const {
    std::vector<std::string> a = {"--set", "auth.enabled=true",
                                  "--set", "auth.jwks_url=\"" + url() + "\"",
                                  "--set", "auth.jwks_refresh_s=" + refresh_s,
                                  "--set", "auth.audience=\"muster\""};
    if (trust) a.insert(a.end(), {"--set", "auth.jwks_ca_file=\"" + ca.ca_file() + "\""});
    return a;
  }
  std::string token_for(EVP_PKEY* k, const std::string& kid) const {
    auto claims = R"({"sub":"u-1","role":"lead","aud":"muster","exp":)" +
                  std::to_string(std::time(nullptr) + 3600) + "}";
    return token(k, R"({"alg":"ES256","kid":")" + kid + "\"}", claims, true);
  }
};

client::server_message attempt(const server_process& s, const std::string& token) {
  client::blocking_client c(s.endpoint());
  c.open();
  return c.call("connect", R"("token":")" + token + "\"");
}

}  // namespace

TEST(jwks_url, keys_are_fetched_and_a_rotation_is_picked_up_at_the_first_new_key_id) {
  provider p;
  p.https.answer(200, R"({"keys":[)" + ec_jwk(p.k1.get(), "k1") + "]}");
  // Refreshed hourly only: the rotation below is found through the unknown key id.
  server_process s(p.args("3600"));
  ASSERT_TRUE(eventually([&] { return http_get(s.port(), "/readyz").first == 200; })) << s.log();
  EXPECT_FALSE(attempt(s, p.token_for(p.k1.get(), "k1")).is_error);
  int before = p.https.requests();
  p.https.answer(200, R"({"keys":[)" + ec_jwk(p.k2.get(), "k2") + "]}");
  auto rotated = p.token_for(p.k2.get(), "k2");
  EXPECT_EQ(attempt(s, rotated).error_code, "unauthorized") << "not fetched yet";
  EXPECT_TRUE(eventually([&] { return !attempt(s, rotated).is_error; }, 15s)) << s.log();
  // Made-up key ids do not make it fetch again and again.
  for (int i = 0; i < 20; ++i) attempt(s, p.token_for(p.k2.get(), "made-up-" + std::to_string(i)));
  EXPECT_LE(p.https.requests() - before, 2);
  EXPECT_NE(http_get(s.port(), "/metrics").second.find("muster_jwks_fetches_total 2"),
            std::string::npos);
}

TEST(jwks_url, a_failing_provider_leaves_the_last_keys_in_place) {
  provider p;
  p.https.answer(200, R"({"keys":[)" + ec_jwk(p.k1.get(), "k1") + "]}");
  server_process s(p.args("1"));
  ASSERT_TRUE(eventually([&] { return http_get(s.port(), "/readyz").first == 200; })) << s.log();
  p.https.answer(500, "oops");
  int seen = p.https.requests();
  ASSERT_TRUE(eventually([&] { return p.https.requests() > seen + 1; }, 10s));
  EXPECT_NE(s.log().find("auth.jwks_url " + p.url() + ": HTTP 500; the keys fetched before stay"),
            std::string::npos)
      << s.log();
  EXPECT_FALSE(attempt(s, p.token_for(p.k1.get(), "k1")).is_error);
  EXPECT_EQ(http_get(s.port(), "/readyz").first, 200) << "keys were loaded once";
  p.https.answer(200, "{\"keys\":[]}");
  ASSERT_TRUE(
      eventually([&] { return s.log().find("not a usable key set") != std::string::npos; }, 10s));
  EXPECT_FALSE(attempt(s, p.token_for(p.k1.get(), "k1")).is_error) << "an empty set is refused";
}

TEST(jwks_url, an_untrusted_provider_certificate_is_refused_and_the_node_is_not_ready) {
  provider p;
  p.https.answer(200, R"({"keys":[)" + ec_jwk(p.k1.get(), "k1") + "]}");
  server_process s(p.args("1", /*trust=*/false));
  ASSERT_TRUE(eventually(
      [&] { return s.log().find("certificate verify failed") != std::string::npos; }, 10s))
      << s.log();
  EXPECT_NE(s.log().find("no provider token is accepted yet"), std::string::npos);
  EXPECT_EQ(http_get(s.port(), "/readyz").first, 503);
  auto refused = attempt(s, p.token_for(p.k1.get(), "k1"));
  EXPECT_EQ(refused.error_code, "unauthorized");
  EXPECT_EQ(p.https.requests(), 0) << "nothing was sent to a server that could not be verified";
}

TEST(jwks_url, urls_that_cannot_be_trusted_are_configuration_errors) {
  auto start_error = [](std::vector<std::string> args) {
    try {
      server_process s(std::move(args));
      return std::string("started");
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
  };
  auto plain = start_error(
      {"--set", "auth.enabled=true", "--set", "auth.jwks_url=\"http://idp.example/certs\""});
  EXPECT_NE(plain.find("http:// only for 127.0.0.1 or localhost"), std::string::npos) << plain;
  auto both = start_error({"--set", "auth.enabled=true", "--set",
                           "auth.jwks_url=\"https://idp.example/certs\"", "--set",
                           "auth.jwks_file=\"/etc/muster/jwks.json\""});
  EXPECT_NE(both.find("jwks_file or jwks_url, not both"), std::string::npos) << both;
}
