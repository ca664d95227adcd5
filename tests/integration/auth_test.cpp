// Token auth against the real musterd: every kind of bad token is refused the same documented
// way (error + close 4001 on WebSocket, 401 on HTTP), roles and channel allow-lists give
// `forbidden`, and sessions end with their tokens.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "clients/lib/blocking_client.hpp"
#include "server/auth/jwt.hpp"
#include "tests/integration/server_process.hpp"
#include "tests/server/auth/test_idp.hpp"

using namespace muster;
using namespace muster::test;
using namespace std::chrono_literals;

namespace {

std::string b64(std::string_view s) {
  return server::auth::base64url_encode(s);
}

std::vector<std::pair<std::string, std::string>> bad_tokens() {
  auto exp = std::to_string(std::time(nullptr) + 3600);
  std::string claims = R"({"sub":"eve","name":"Eve","role":"admin","exp":)" + exp + "}";
  return {
      {"wrong secret", server::auth::sign_hs256(claims, "another-secret-0123456789")},
      {"expired", server::auth::sign_hs256(R"({"sub":"eve","role":"admin","exp":)" +
                                               std::to_string(std::time(nullptr) - 3600) + "}",
                                           test_secret)},
      {"not yet valid",
       server::auth::sign_hs256(R"({"sub":"eve","role":"admin","nbf":)" +
                                    std::to_string(std::time(nullptr) + 3600) + "}",
                                test_secret)},
      {"alg none", b64(R"({"alg":"none","typ":"JWT"})") + "." + b64(claims) + "."},
      {"malformed", "not.a.token"},
      {"unknown role",
       server::auth::sign_hs256(R"({"sub":"eve","role":"king","exp":)" + exp + "}", test_secret)},
      {"no subject",
       server::auth::sign_hs256(R"({"role":"admin","exp":)" + exp + "}", test_secret)},
  };
}

std::unique_ptr<client::blocking_client> connect_as(const server_process& s, const std::string& sub,
                                                    const std::string& role,
                                                    std::vector<std::string> channels = {}) {
  auto c = std::make_unique<client::blocking_client>(s.endpoint());
  c->connect("ignored", test_token(sub, role, std::move(channels)));
  return c;
}

// Runs a short shell command (our own CLI, which exits at once) and returns its stdout.
std::string dir_run(const std::filesystem::path& dir, const std::string& env,
                    const std::string& cmd) {
  std::string full = "cd '" + dir.string() + "' && " + env + " timeout 20 " + cmd;
  FILE* p = ::popen(full.c_str(), "r");
  if (!p) return {};
  std::string out;
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ::pclose(p);
  return out;
}

std::uint64_t metric(const server_process& s, const std::string& name) {
  auto body = http_get(s.port(), "/metrics").second;
  auto at = body.find("\n" + name + " ");
  if (at == std::string::npos) return 0;
  return std::stoull(body.substr(at + name.size() + 2));
}

}  // namespace

TEST(auth, every_kind_of_bad_token_in_connect_gets_unauthorized_then_close_4001) {
  server_process s(auth_args());
  for (const auto& [why, token] : bad_tokens()) {
    client::blocking_client c(s.endpoint());
    c.open();
    auto r = c.call("connect", R"("token":")" + token + "\"");
    EXPECT_TRUE(r.is_error) << why;
    EXPECT_EQ(r.error_code, "unauthorized") << why;
    EXPECT_EQ(c.wait_closed(5s), 4001) << why;
  }
  // No token at all, and commands before connect.
  client::blocking_client c(s.endpoint());
  c.open();
  EXPECT_EQ(c.call("subscribe", R"("channel":"a")").error_code, "not_connected");
  auto r = c.call("connect", R"("name":"eve")");
  EXPECT_EQ(r.error_code, "unauthorized");
  EXPECT_NE(r.error_message.find("token"), std::string::npos);
  EXPECT_EQ(c.wait_closed(5s), 4001);
  EXPECT_EQ(metric(s, "muster_auth_failures_total"), bad_tokens().size() + 1);
  // Others were not disturbed by any of it.
  auto ok = connect_as(s, "amy", "ambassador");
  EXPECT_FALSE(ok->call("ping").is_error);
}

TEST(auth, token_in_the_url_is_checked_at_the_upgrade) {
  server_process s(auth_args());
  for (const auto& [why, token] : bad_tokens()) {
    client::blocking_client c({"127.0.0.1", s.port(), "/ws?token=" + token});
    EXPECT_THROW(c.open(), client::client_error) << why;
  }
  client::blocking_client good({"127.0.0.1", s.port(), "/ws?token=" + test_token("lena", "lead")});
  auto result = good.connect("whatever");
  EXPECT_EQ(client::json_string(result, "user"), "lena");
  EXPECT_EQ(client::json_string(result, "role"), "lead");
  EXPECT_EQ(client::json_string(result, "name"), "lena");
}

TEST(auth, roles_and_channel_allow_lists_give_forbidden_and_keep_the_connection) {
  server_process s(auth_args());
  auto bot = connect_as(s, "bot1", "bot");
  auto r = bot->call("publish", R"("channel":"room","data":1)");
  EXPECT_EQ(r.error_code, "forbidden");
  EXPECT_NE(r.error_message.find("bot"), std::string::npos);
  auto amy = connect_as(s, "amy", "ambassador", {"crisis.*"});
  EXPECT_EQ(amy->call("channel.create", R"("channel":"crisis.a","title":"t")").error_code,
            "forbidden");
  EXPECT_EQ(amy->call("subscribe", R"("channel":"other")").error_code, "forbidden");
  EXPECT_EQ(amy->call("history", R"("channel":"other")").error_code, "forbidden");
  EXPECT_EQ(amy->call("alert.list", R"("channel":"other")").error_code, "forbidden");
  EXPECT_FALSE(amy->call("subscribe", R"("channel":"crisis.a")").is_error);
  EXPECT_FALSE(amy->call("publish", R"("channel":"crisis.a","data":"hi")").is_error);
  auto lead = connect_as(s, "lena", "lead");
  EXPECT_FALSE(lead->call("channel.create", R"("channel":"crisis.a","title":"t")").is_error);
  EXPECT_TRUE(amy->is_open());
  EXPECT_TRUE(bot->is_open());
}

TEST(auth, http_api_needs_a_bearer_token_and_the_right_role) {
  server_process s(auth_args());
  std::string alert = R"({"source":"x","url":"https://x.com/a/status/1","text":"bad"})";
  auto none = http_request(s.port(), "POST", "/api/v1/alerts", alert);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.headers["www-authenticate"], "Bearer");
  EXPECT_NE(none.body.find(R"("code":"unauthorized")"), std::string::npos);
  for (const auto& [why, token] : bad_tokens())
    EXPECT_EQ(http_request(s.port(), "POST", "/api/v1/alerts", alert, token).status, 401) << why;
  EXPECT_EQ(http_request(s.port(), "POST", "/api/v1/alerts", alert, test_token("amy", "ambassador"))
                .status,
            403);
  auto ok = http_request(s.port(), "POST", "/api/v1/alerts", alert, test_token("bot", "bot"));
  EXPECT_EQ(ok.status, 202) << ok.body;
  EXPECT_NE(ok.body.find(R"("status":"success")"), std::string::npos);
  EXPECT_EQ(http_request(s.port(), "GET", "/api/v1/alerts", "", test_token("bot", "bot")).status,
            405);
  EXPECT_EQ(http_request(s.port(), "GET", "/api/v1/channels/triage/timeline", "",
                         test_token("amy", "ambassador"))
                .status,
            403);
  EXPECT_EQ(http_request(s.port(), "GET", "/api/v1/stats", "", test_token("bot", "bot")).status,
            403);
  auto tl = http_request(s.port(), "GET", "/api/v1/channels/triage/timeline", "",
                         test_token("lena", "lead"));
  EXPECT_EQ(tl.status, 200);
  EXPECT_EQ(tl.headers["content-type"], "application/x-ndjson");
  EXPECT_NE(tl.body.find(R"("event":"alert.new")"), std::string::npos);
  // Edge cases get clear answers: no channel name, and a body over the 1 MiB limit.
  EXPECT_EQ(
      http_request(s.port(), "GET", "/api/v1/channels/timeline", "", test_token("lena", "lead"))
          .status,
      404);
  auto big = http_request(
      s.port(), "POST", "/api/v1/alerts",
      R"({"source":"x","url":"https://x.com/1","text":")" + std::string(1100 * 1024, 'a') + "\"}",
      test_token("bot", "bot"));
  EXPECT_EQ(big.status, 413);
  EXPECT_NE(big.body.find("message_too_large"), std::string::npos);
  // A lead limited to other channels cannot export this one.
  EXPECT_EQ(http_request(s.port(), "GET", "/api/v1/channels/triage/timeline", "",
                         test_token("lena", "lead", {"crisis.*"}))
                .status,
            403);
}

TEST(auth, a_session_ends_with_its_token) {
  server_process s({"--set", "auth.enabled=true", "--set",
                    std::string("auth.secret=\"") + test_secret + "\"", "--set", "auth.leeway_s=0",
                    "--set", "limits.idle_timeout_ms=2000"});
  client::blocking_client c(s.endpoint());
  c.connect("x", test_token("amy", "ambassador", {}, 2s));
  EXPECT_FALSE(c.call("subscribe", R"("channel":"a")").is_error);
  EXPECT_EQ(c.wait_closed(8s), 4001);
}

TEST(auth, refresh_extends_a_session_past_its_first_token) {
  server_process s({"--set", "auth.enabled=true", "--set",
                    std::string("auth.secret=\"") + test_secret + "\"", "--set", "auth.leeway_s=0",
                    "--set", "limits.idle_timeout_ms=2000"});
  client::blocking_client c(s.endpoint());
  c.connect("x", test_token("amy", "ambassador", {"crisis.*"}, 2s));
  EXPECT_FALSE(c.call("subscribe", R"("channel":"crisis.a")").is_error);
  // Refusals leave the connection as it was.
  auto other = c.call("refresh", R"("token":")" + test_token("eve", "admin") + "\"");
  EXPECT_EQ(other.error_code, "forbidden") << "another user";
  auto narrower =
      c.call("refresh", R"("token":")" + test_token("amy", "ambassador", {"lobby"}) + "\"");
  EXPECT_EQ(narrower.error_code, "forbidden");
  EXPECT_NE(narrower.error_message.find("crisis.a"), std::string::npos) << narrower.error_message;
  auto bad = c.call("refresh", R"("token":"not.a.token")");
  EXPECT_EQ(bad.error_code, "unauthorized");
  EXPECT_EQ(c.call("refresh", "").error_message, "token is required");
  auto ok = c.call("refresh", R"("token":")" + test_token("amy", "lead", {"crisis.*"}, 1h) + "\"");
  ASSERT_FALSE(ok.is_error) << ok.error_message;
  EXPECT_EQ(client::json_string(ok.result, "role"), "lead") << "the new token's role counts";
  EXPECT_GT(client::json_uint(ok.result, "expires_at").value_or(0),
            static_cast<std::uint64_t>(std::time(nullptr) + 3000));
  // Past the first token's expiry the session lives on.
  // (Traffic all along: the 2 s idle timeout would drop a silent client.)
  for (int i = 0; i < 15; ++i) {
    std::this_thread::sleep_for(200ms);
    ASSERT_FALSE(c.call("ping").is_error) << "still open after the first token expired";
  }
  EXPECT_FALSE(c.call("channel.create", R"("channel":"crisis.b","title":"t")").is_error)
      << "as a lead now";
}

TEST(auth, start_up_refuses_auth_without_a_secret_and_warns_loudly_when_disabled) {
  server_process off;  // the fixture disables auth for tests that are not about it
  EXPECT_TRUE(eventually([&] { return off.log().find("AUTH IS DISABLED") != std::string::npos; }));

  auto dir = off.dir();
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    FILE* f = std::freopen((dir / "nosecret.log").c_str(), "w", stderr);
    (void)f;
    ::execl(MUSTERD_PATH, MUSTERD_PATH, "--listen", "127.0.0.1:0", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  std::ifstream log(dir / "nosecret.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("auth.secret"), std::string::npos) << text;
}

TEST(auth, muster_token_mints_tokens_the_server_accepts) {
  server_process s(auth_args());
  auto out = dir_run(
      s.dir(), std::string("MUSTER_AUTH_SECRET=") + test_secret,
      std::string(MUSTER_CLI_PATH) + " token --sub carol --role lead --channels 'crisis.*'");
  while (!out.empty() && out.back() == '\n') out.pop_back();
  client::blocking_client c(s.endpoint());
  auto r = c.connect("x", out);
  EXPECT_EQ(client::json_string(r, "role"), "lead");
  EXPECT_EQ(c.call("subscribe", R"("channel":"other")").error_code, "forbidden");
  EXPECT_NE(dir_run(s.dir(), "MUSTER_AUTH_SECRET=",
                    std::string(MUSTER_CLI_PATH) + " token --sub x --secret short 2>&1")
                .find("at least 16"),
            std::string::npos);
}

TEST(auth, tokens_from_an_identity_provider_are_verified_with_its_key_set) {
  using namespace muster::test::idp;
  pkey_ptr rsa(EVP_RSA_gen(2048), &EVP_PKEY_free);
  pkey_ptr ec(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  auto dir = std::filesystem::temp_directory_path() / ("muster-jwks-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "jwks.json")
      << R"({"keys":[)" << rsa_jwk(rsa.get(), "k1") << "," << ec_jwk(ec.get(), "k2") << "]}";
  // The provider's keys only: no shared secret, so HS256 is not accepted at all.
  server_process s({"--set", "auth.enabled=true", "--set",
                    "auth.jwks_file=\"" + (dir / "jwks.json").string() + "\"", "--set",
                    "auth.issuer=\"https://idp.example\"", "--set", "auth.audience=\"muster\"",
                    "--set", "auth.role_claim=\"realm_access.roles\""});
  auto exp = std::to_string(std::time(nullptr) + 3600);
  auto claims = [&](const std::string& iss) {
    return R"({"sub":"u-7","name":"Omar","realm_access":{"roles":["offline_access","lead"]},"iss":")" +
           iss + R"(","aud":"muster","exp":)" + exp + "}";
  };
  auto attempt = [&](const std::string& token) {
    client::blocking_client c(s.endpoint());
    c.open();
    return c.call("connect", R"("token":")" + token + "\"");
  };
  auto rs = attempt(
      token(rsa.get(), R"({"alg":"RS256","kid":"k1"})", claims("https://idp.example"), false));
  ASSERT_FALSE(rs.is_error) << rs.error_message;
  EXPECT_EQ(client::json_string(rs.result, "role"), "lead");
  auto es = attempt(
      token(ec.get(), R"({"alg":"ES256","kid":"k2"})", claims("https://idp.example"), true));
  EXPECT_FALSE(es.is_error) << es.error_message;
  auto wrong_iss = attempt(
      token(rsa.get(), R"({"alg":"RS256","kid":"k1"})", claims("https://evil.example"), false));
  EXPECT_EQ(wrong_iss.error_code, "unauthorized");
  EXPECT_NE(wrong_iss.error_message.find("issuer"), std::string::npos) << wrong_iss.error_message;
  auto unknown = attempt(
      token(rsa.get(), R"({"alg":"RS256","kid":"k9"})", claims("https://idp.example"), false));
  EXPECT_NE(unknown.error_message.find("key id"), std::string::npos) << unknown.error_message;
  auto hs = attempt(server::auth::sign_hs256(claims("https://idp.example"), test_secret));
  EXPECT_EQ(hs.error_code, "unauthorized") << "HS256 without auth.secret";
  // The provider rotates its keys: SIGHUP reads the file again, with no restart.
  pkey_ptr rotated(EVP_RSA_gen(2048), &EVP_PKEY_free);
  std::ofstream(dir / "jwks.json", std::ios::trunc)
      << R"({"keys":[)" << rsa_jwk(rotated.get(), "k3") << "]}";
  ASSERT_EQ(::kill(s.pid(), SIGHUP), 0);
  auto new_key =
      token(rotated.get(), R"({"alg":"RS256","kid":"k3"})", claims("https://idp.example"), false);
  EXPECT_TRUE(eventually([&] { return !attempt(new_key).is_error; })) << s.log();
  // An unusable key set stops start-up, naming the file.
  std::ofstream(dir / "bad.json") << R"({"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]})";
  try {
    server_process bad({"--set", "auth.enabled=true", "--set",
                        "auth.jwks_file=\"" + (dir / "bad.json").string() + "\""});
    ADD_FAILURE() << "started with an unusable key set";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("auth.jwks_file " + (dir / "bad.json").string()),
              std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir);
}
