// The web console's files as musterd serves them: types, caching, security headers, and that
// nothing outside clients/web can be named.
#include <gtest/gtest.h>

#include "tests/integration/server_process.hpp"

using namespace muster::test;

TEST(web_console, serves_the_console_with_types_validators_and_security_headers) {
  server_process s;
  auto index = http_request(s.port(), "GET", "/");
  ASSERT_EQ(index.status, 200);
  EXPECT_EQ(index.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_NE(index.body.find("Muster console"), std::string::npos);
  EXPECT_EQ(index.headers["cache-control"], "no-cache");
  EXPECT_EQ(index.headers["x-content-type-options"], "nosniff");
  EXPECT_NE(index.headers["content-security-policy"].find("default-src 'self'"), std::string::npos);
  ASSERT_FALSE(index.headers["etag"].empty());
  EXPECT_EQ(http_request(s.port(), "GET", "/index.html").body, index.body);

  for (auto [path, type] : {std::pair{"/app.js", "text/javascript; charset=utf-8"},
                            std::pair{"/muster.js", "text/javascript; charset=utf-8"},
                            std::pair{"/style.css", "text/css; charset=utf-8"}}) {
    auto r = http_request(s.port(), "GET", path);
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.headers["content-type"], type) << path;
  }
  // A cache holding the current version gets 304 and no body.
  auto again =
      http_request(s.port(), "GET", "/", "", "", {{"If-None-Match", index.headers["etag"]}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(http_request(s.port(), "GET", "/", "", "", {{"If-None-Match", "\"stale\""}}).status,
            200);
  // HEAD: the same headers, no body.
  auto head = http_request(s.port(), "HEAD", "/app.js");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(head.headers["content-length"],
            std::to_string(http_request(s.port(), "GET", "/app.js").body.size()));
  EXPECT_EQ(http_request(s.port(), "POST", "/", "{}").status, 405);
}

TEST(web_console, nothing_outside_the_web_root_can_be_named) {
  server_process s;
  for (const char* path : {"/../CMakeLists.txt", "/%2e%2e/CMakeLists.txt", "/..%2fserver/main.cpp",
                           "//etc/passwd", "/./app.js", "/app.js/", "/clients/web/app.js",
                           "/.hidden", "/nope.html", "/%00", "/app.js%00.html"}) {
    auto r = http_request(s.port(), "GET", path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.body.find("import"), std::string::npos) << path;
  }
  // The server keeps working for everyone after all that.
  EXPECT_EQ(http_request(s.port(), "GET", "/healthz").status, 200);
}

TEST(web_console, can_be_switched_off) {
  server_process s({"--set", "server.web_root=\"none\""});
  EXPECT_EQ(http_request(s.port(), "GET", "/").status, 404);
  EXPECT_EQ(http_request(s.port(), "GET", "/healthz").status, 200);
}
