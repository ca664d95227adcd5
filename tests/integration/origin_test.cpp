// server.allowed_origins: browsers from other sites may not open /ws or call /api; clients
// without an Origin (bots, the CLI) and the console's own page always may.
#include <gtest/gtest.h>

#include "tests/integration/server_process.hpp"

using namespace muster::test;

namespace {

std::map<std::string, std::string> upgrade_from(const std::string& origin,
                                                const std::string& host) {
  std::map<std::string, std::string> h{{"Upgrade", "websocket"},
                                       {"Connection", "Upgrade"},
                                       {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                                       {"Sec-WebSocket-Version", "13"},
                                       {"Host", host}};
  if (!origin.empty()) h["Origin"] = origin;
  return h;
}

}  // namespace

TEST(origins, websocket_upgrades_are_checked_against_the_allow_list) {
  auto args = auth_args();
  args.insert(args.end(), {"--set", "server.allowed_origins=https://console.example.org"});
  server_process s(args);
  auto self = "127.0.0.1:" + std::to_string(s.port());
  auto upgrade = [&](const std::string& origin, const std::string& host) {
    return http_request(s.port(), "GET", "/ws", "", "", upgrade_from(origin, host));
  };
  EXPECT_EQ(upgrade("", self).status, 101) << "no Origin: not a browser";
  EXPECT_EQ(upgrade("http://" + self, self).status, 101) << "the console's own page";
  EXPECT_EQ(upgrade("https://console.example.org", self).status, 101) << "listed";
  EXPECT_EQ(upgrade("HTTPS://Console.Example.org:443", self).status, 101) << "same, canonical";
  auto evil = upgrade("https://evil.example", self);
  EXPECT_EQ(evil.status, 403);
  EXPECT_NE(evil.body.find("origin https://evil.example is not allowed"), std::string::npos)
      << evil.body;
  EXPECT_EQ(upgrade("null", self).status, 403) << "a sandboxed or file page";
  EXPECT_EQ(upgrade("http://127.0.0.1:1", self).status, 403) << "another port is another site";
  auto metrics = http_get(s.port(), "/metrics").second;
  EXPECT_NE(metrics.find("muster_origin_refusals_total 3"), std::string::npos) << metrics;
}

TEST(origins, api_requests_from_other_sites_are_refused_with_json) {
  server_process s(auth_args());  // default: the console's own origin only
  auto lead = test_token("lena", "lead");
  auto self = "127.0.0.1:" + std::to_string(s.port());
  auto list = [&](std::map<std::string, std::string> headers) {
    headers["Host"] = self;
    return http_request(s.port(), "GET", "/api/v1/channels", "", lead, headers);
  };
  EXPECT_EQ(list({}).status, 200);
  EXPECT_EQ(list({{"Origin", "http://" + self}}).status, 200);
  auto refused = list({{"Origin", "https://evil.example"}});
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(
      refused.body,
      R"j({"error":{"code":"forbidden","message":"origin https://evil.example is not allowed (server.allowed_origins)"}}
)j");
}
