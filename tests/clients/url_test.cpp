// The URLs the clients accept: ws://, wss://, http://, https:// and bare host:port, with their
// default ports and the WebSocket/HTTP pairing of one server.
#include <gtest/gtest.h>

#include "clients/lib/url.hpp"

using namespace muster::client;

TEST(url, parse_url_takes_ws_and_wss) {
  auto ws = parse_url("ws://example.org:9000/ws?token=t");
  EXPECT_EQ(ws.host, "example.org");
  EXPECT_EQ(ws.port, 9000);
  EXPECT_EQ(ws.target, "/ws?token=t");
  EXPECT_FALSE(ws.tls);
  auto wss = parse_url("wss://10.0.0.5:8443/muster/ws");
  EXPECT_EQ(wss.host, "10.0.0.5");
  EXPECT_EQ(wss.port, 8443);
  EXPECT_EQ(wss.target, "/muster/ws");
  EXPECT_TRUE(wss.tls);
  // musterd's own port by default, with TLS as without (it speaks TLS on its main port).
  EXPECT_EQ(parse_url("wss://h").port, 8080);
  EXPECT_EQ(parse_url("wss://h").target, "/ws");
  EXPECT_FALSE(parse_url("h:1").tls);
}

TEST(url, parse_url_refuses_other_schemes_and_bad_ports) {
  EXPECT_THROW(parse_url("http://h:1/ws"), client_error);
  EXPECT_THROW(parse_url("https://h:1/ws"), client_error);
  EXPECT_THROW(parse_url("ftp://h:1"), client_error);
  EXPECT_THROW(parse_url("wss://h:0/ws"), client_error);
  EXPECT_THROW(parse_url("wss://:8443/ws"), client_error);
  EXPECT_THROW(parse_url("wss://h:70000/ws"), client_error);
}

TEST(url, parse_http_url_takes_http_and_https_with_their_default_ports) {
  auto http = parse_http_url("http://h/api/v1/alerts");
  EXPECT_EQ(http.port, 80);
  EXPECT_FALSE(http.tls);
  EXPECT_EQ(http.target, "/api/v1/alerts");
  auto https = parse_http_url("https://h");
  EXPECT_EQ(https.host, "h");
  EXPECT_EQ(https.port, 443);
  EXPECT_EQ(https.target, "/");
  EXPECT_TRUE(https.tls);
  EXPECT_EQ(parse_http_url("https://h:8443/x").port, 8443);
  EXPECT_THROW(parse_http_url("wss://h:1"), client_error);
  EXPECT_THROW(parse_http_url("h:1"), client_error);
}

TEST(url, server_url_pairs_wss_with_https_as_ws_with_http) {
  auto a = parse_server_url("wss://h:8443/ws");
  EXPECT_EQ(a.ws, "wss://h:8443/ws");
  EXPECT_EQ(a.http, "https://h:8443");
  auto b = parse_server_url("https://h:8443/muster");
  EXPECT_EQ(b.ws, "wss://h:8443/muster/ws");
  EXPECT_EQ(b.http, "https://h:8443/muster");
  auto c = parse_server_url("ws://h:9/ws?token=t");
  EXPECT_EQ(c.ws, "ws://h:9/ws?token=t");
  EXPECT_EQ(c.http, "http://h:9");
  auto d = parse_server_url("http://h:9/");
  EXPECT_EQ(d.ws, "ws://h:9/ws");
  EXPECT_EQ(d.http, "http://h:9");
}

TEST(url, server_url_default_ports) {
  EXPECT_EQ(parse_server_url("https://h").ws, "wss://h:443/ws");
  EXPECT_EQ(parse_server_url("http://h").ws, "ws://h:80/ws");
  EXPECT_EQ(parse_server_url("wss://h").http, "https://h:8080");
  EXPECT_EQ(parse_server_url("ws://h").http, "http://h:8080");
  EXPECT_EQ(parse_server_url("h").ws, "ws://h:8080/ws");
  EXPECT_THROW(parse_server_url("gopher://h"), client_error);
}
