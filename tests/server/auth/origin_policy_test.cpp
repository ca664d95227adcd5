#include "server/auth/origin_policy.hpp"

#include <gtest/gtest.h>

using namespace muster::server::auth;

TEST(origin_policy, canonical_origins) {
  EXPECT_EQ(canonical_origin("HTTPS://Example.COM"), "https://example.com");
  EXPECT_EQ(canonical_origin("https://example.com:443"), "https://example.com");
  EXPECT_EQ(canonical_origin("http://example.com:80"), "http://example.com");
  EXPECT_EQ(canonical_origin("http://example.com:443"), "http://example.com:443");
  EXPECT_EQ(canonical_origin("http://[::1]:8080"), "http://[::1]:8080");
  EXPECT_FALSE(canonical_origin("null"));
  EXPECT_FALSE(canonical_origin("ftp://example.com"));
  EXPECT_FALSE(canonical_origin("https://"));
  EXPECT_FALSE(canonical_origin("https://example.com/"));
  EXPECT_FALSE(canonical_origin("https://exa mple.com"));
  EXPECT_FALSE(canonical_origin("https://example.com:"));
}

TEST(origin_policy, same_origin_listed_and_absent_pass_everything_else_is_refused) {
  origin_policy p({"https://console.example.org"});
  EXPECT_FALSE(p.refusal("", "muster.example.org")) << "no Origin: not a browser";
  EXPECT_FALSE(p.refusal("https://muster.example.org", "muster.example.org")) << "same host";
  EXPECT_FALSE(p.refusal("https://muster.example.org", "Muster.Example.org:443"));
  EXPECT_FALSE(p.refusal("http://127.0.0.1:8080", "127.0.0.1:8080"));
  EXPECT_FALSE(p.refusal("https://console.example.org:443", "muster.example.org")) << "listed";
  EXPECT_EQ(p.refusal("https://evil.example", "muster.example.org"),
            "origin https://evil.example is not allowed (server.allowed_origins)");
  EXPECT_TRUE(p.refusal("http://127.0.0.1:8081", "127.0.0.1:8080")) << "another port";
  EXPECT_TRUE(p.refusal("https://muster.example.org.evil.example", "muster.example.org"));
  EXPECT_EQ(p.refusal("null", "muster.example.org"), "origin null is not an http(s) origin");
  EXPECT_TRUE(p.refusal("https://muster.example.org", "")) << "no Host: nothing to match";
}

TEST(origin_policy, a_star_allows_any_origin) {
  origin_policy p({"*"});
  EXPECT_FALSE(p.refusal("https://anywhere.example", "muster.example.org"));
  EXPECT_FALSE(p.refusal("null", "muster.example.org"));
}
