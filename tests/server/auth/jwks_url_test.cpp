#include "server/auth/jwks_url.hpp"

#include <gtest/gtest.h>

using namespace muster::server::auth;

namespace {
std::string why(std::string_view url) {
  auto r = parse_jwks_url(url);
  auto* e = std::get_if<std::string>(&r);
  return e ? *e : "ok";
}
}  // namespace

TEST(jwks_url, https_urls_are_taken_apart) {
  auto r = parse_jwks_url("https://idp.example/realms/acme/protocol/openid-connect/certs");
  auto& loc = std::get<http_location>(r);
  EXPECT_TRUE(loc.tls);
  EXPECT_EQ(loc.host, "idp.example");
  EXPECT_EQ(loc.port, 443);
  EXPECT_EQ(loc.target, "/realms/acme/protocol/openid-connect/certs");
  auto q = std::get<http_location>(parse_jwks_url("https://idp.example:8443?tenant=a"));
  EXPECT_EQ(q.port, 8443);
  EXPECT_EQ(q.target, "/?tenant=a");
  auto bare = std::get<http_location>(parse_jwks_url("https://idp.example"));
  EXPECT_EQ(bare.target, "/");
  auto local = std::get<http_location>(parse_jwks_url("http://127.0.0.1:9000/jwks.json"));
  EXPECT_FALSE(local.tls);
  EXPECT_EQ(local.port, 9000);
}

TEST(jwks_url, urls_that_cannot_be_trusted_or_read_are_refused) {
  EXPECT_EQ(why("http://idp.example/certs"),
            "must start with https:// (http:// only for 127.0.0.1 or localhost)");
  EXPECT_EQ(why("ftp://idp.example/certs"), "must start with https://");
  EXPECT_EQ(why("idp.example/certs"), "must start with https://");
  EXPECT_EQ(why("https://user:pw@idp.example/certs"), "must not carry user:password@");
  EXPECT_EQ(why("https://idp.example:0/certs"), "has a bad port");
  EXPECT_EQ(why("https://idp.example:99999/certs"), "has a bad port");
  EXPECT_EQ(why("https://idp.example:/certs"), "has a bad port");
  EXPECT_EQ(why("https:///certs"), "has no host");
  EXPECT_EQ(why("https://idp.example/certs#x"), "must not have a #fragment");
  EXPECT_EQ(why("https://idp.example/a b"), "has a space or control character in its path");
  EXPECT_EQ(why("https://idp.ex%61mple/certs"), "has a bad host");
  EXPECT_EQ(why("http://localhost:8080/certs"), "ok");
  EXPECT_EQ(why("http://127.0.0.1.evil.example/certs"),
            "must start with https:// (http:// only for 127.0.0.1 or localhost)")
      << "a name that starts like a loopback address is not one";
  EXPECT_EQ(why("http://[::1]:9000/certs"), "ok");
  EXPECT_EQ(why("https://::1/certs"), "has a bad host (IPv6 goes in [ ])");
  EXPECT_EQ(why("https://[::1/certs"), "has a bad host");
  EXPECT_EQ(why("https://[::1]x/certs"), "has a bad host");
  EXPECT_EQ(why("https://[::1]:/certs"), "has a bad port");
}

TEST(jwks_url, ipv6_hosts_lose_their_brackets_and_the_host_header_gets_the_port) {
  auto v6 = std::get<http_location>(parse_jwks_url("https://[2001:db8::1]:8443/certs"));
  EXPECT_EQ(v6.host, "2001:db8::1");
  EXPECT_EQ(v6.port, 8443);
  EXPECT_EQ(host_header(v6), "[2001:db8::1]:8443");
  EXPECT_EQ(host_header(std::get<http_location>(parse_jwks_url("https://idp.example/x"))),
            "idp.example");
  EXPECT_EQ(host_header(std::get<http_location>(parse_jwks_url("https://idp.example:8443/x"))),
            "idp.example:8443");
  EXPECT_EQ(host_header(std::get<http_location>(parse_jwks_url("http://localhost:80/x"))),
            "localhost");
}
