// The client library over TLS (wss://, https://) against a test TLS server: a private CA trusted
// through the options works; an unknown CA, an expired certificate and another name are refused,
// each saying why, and a refusal is never retried; against musterd with TLS on (tls_musterd),
// pub/sub over wss:// with blocking clients and a session.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "clients/lib/http_client.hpp"
#include "clients/lib/session.hpp"
#include "tests/integration/server_process.hpp"
#include "tests/integration/tls_test_server.hpp"

using namespace muster;
using namespace muster::test;
using namespace std::chrono_literals;

namespace {

std::string wss(const tls_test_server& s, const std::string& host = "127.0.0.1") {
  return "wss://" + host + ":" + std::to_string(s.port()) + "/ws";
}

// What opening a blocking_client to `url` throws ("" when it opens).
std::string open_failure(const std::string& url, const client::tls_options& tls = {}) {
  try {
    client::blocking_client c(client::parse_url(url), tls);
    c.open(5s);
    return "";
  } catch (const client::certificate_refused& e) {
    return std::string("refused: ") + e.what();
  } catch (const client::client_error& e) {
    return std::string("error: ") + e.what();
  }
}

// A session to `server` trusting the test CA.
client::session::options wss_options(const tls_test_server& server, const tls_test_certs& pki) {
  client::session::options o;
  o.server = client::parse_url(wss(server));
  o.tls.ca_file = pki.ca.ca_file();
  return o;
}

// Runs `ioc` until `done()`, at most 10 s; returns done().
template <class Pred>
bool run_until(boost::asio::io_context& ioc, Pred done) {
  for (auto deadline = std::chrono::steady_clock::now() + 10s;
       !done() && std::chrono::steady_clock::now() < deadline;)
    ioc.run_for(50ms);
  return done();
}

}  // namespace

TEST(tls_client, blocking_client_trusts_a_private_ca_given_in_its_options) {
  tls_test_certs pki;
  tls_test_server server(pki.valid);
  for (std::string host : {"127.0.0.1", "localhost"}) {  // an IP, and a DNS name with SNI
    client::blocking_client c(client::parse_url(wss(server, host)),
                              client::tls_options{pki.ca.ca_file()});
    EXPECT_EQ(c.connect("amy"), "{}") << host;
    auto r = c.call("ping");
    EXPECT_FALSE(r.is_error) << r.raw;
    c.close();
  }
  EXPECT_EQ(server.handshakes(), 2);
}

TEST(tls_client, an_unknown_ca_is_refused_and_the_message_says_why) {
  tls_test_certs pki;
  tls_test_server server(pki.valid);
  EXPECT_EQ(open_failure(wss(server)),
            "refused: TLS handshake with 127.0.0.1:" + std::to_string(server.port()) +
                " failed: certificate verify failed (unable to get local issuer certificate)");
  EXPECT_EQ(server.handshakes(), 0);
}

TEST(tls_client, an_expired_certificate_is_refused) {
  tls_test_certs pki;
  tls_test_server server(pki.expired);
  auto why = open_failure(wss(server), client::tls_options{pki.ca.ca_file()});
  EXPECT_NE(why.find("refused: TLS handshake with 127.0.0.1:"), std::string::npos) << why;
  EXPECT_NE(why.find("certificate verify failed (certificate has expired)"), std::string::npos)
      << why;
}

TEST(tls_client, a_certificate_for_another_name_is_refused) {
  tls_test_certs pki;
  tls_test_server server(pki.wrong_name);
  auto by_ip = open_failure(wss(server), client::tls_options{pki.ca.ca_file()});
  EXPECT_NE(by_ip.find("certificate verify failed (IP address mismatch)"), std::string::npos)
      << by_ip;
  auto by_name = open_failure(wss(server, "localhost"), client::tls_options{pki.ca.ca_file()});
  EXPECT_NE(by_name.find("certificate verify failed (hostname mismatch)"), std::string::npos)
      << by_name;
}

TEST(tls_client, a_missing_ca_file_is_an_error_before_any_connection) {
  EXPECT_THROW(client::blocking_client(client::parse_url("wss://127.0.0.1:1/ws"),
                                       client::tls_options{"/nonexistent/ca.pem"}),
               client::client_error);
  // ws:// never reads it.
  EXPECT_NO_THROW(client::blocking_client(client::parse_url("ws://127.0.0.1:1/ws"),
                                          client::tls_options{"/nonexistent/ca.pem"}));
}

TEST(tls_client, a_plain_client_to_a_tls_port_fails_without_hanging) {
  tls_test_certs pki;
  tls_test_server server(pki.valid);
  auto why = open_failure("ws://127.0.0.1:" + std::to_string(server.port()) + "/ws");
  EXPECT_NE(why.find("error: "), std::string::npos) << why;
}

TEST(tls_client, session_over_wss_connects_and_takes_a_close_without_close_notify_as_clean) {
  tls_test_certs pki;
  tls_test_server server(pki.valid);
  boost::asio::io_context ioc;
  auto o = wss_options(server, pki);
  o.reconnect = false;
  auto s = client::session::create(ioc, o);
  std::vector<std::string> details;
  bool stopped = false;
  s->on_state([&](client::session::state st, const std::string& d) {
    details.push_back(d);
    if (st == client::session::state::connected) s->command("bye", "");
    if (st == client::session::state::stopped) stopped = true;
  });
  s->start();
  ASSERT_TRUE(run_until(ioc, [&] { return stopped; })) << ::testing::PrintToString(details);
  EXPECT_EQ(details.front(), "connecting to " + wss(server)) << ::testing::PrintToString(details);
  EXPECT_NE(std::find(details.begin(), details.end(), "connected"), details.end());
  EXPECT_EQ(details.back(), "server closed the connection (code 4000)")
      << ::testing::PrintToString(details);
}

TEST(tls_client, session_gives_up_on_a_refused_certificate_instead_of_reconnecting) {
  tls_test_certs pki;
  tls_test_server server(pki.expired);
  boost::asio::io_context ioc;
  auto o = wss_options(server, pki);
  o.min_backoff = 10ms;  // a retry would come at once
  auto s = client::session::create(ioc, o);
  std::string stopped_detail;
  int connecting = 0;
  s->on_state([&](client::session::state st, const std::string& d) {
    if (st == client::session::state::connecting) ++connecting;
    if (st == client::session::state::stopped) stopped_detail = d;
  });
  s->start();
  run_until(ioc, [&] { return !stopped_detail.empty(); });
  ioc.run_for(300ms);  // time enough for a reconnect that must not come
  EXPECT_NE(stopped_detail.find("giving up: TLS handshake with 127.0.0.1:"), std::string::npos)
      << stopped_detail;
  EXPECT_NE(stopped_detail.find("(certificate has expired)"), std::string::npos) << stopped_detail;
  EXPECT_EQ(connecting, 1);
  EXPECT_EQ(server.connections(), 1);
}

TEST(tls_client, http_client_speaks_https_with_a_private_ca) {
  tls_test_certs pki;
  tls_test_server server(pki.valid);
  server.set_http_reply(R"({"ok":true})");
  client::http_client http(5s, {pki.ca.ca_file()});
  auto base = "https://localhost:" + std::to_string(server.port());
  auto r = http.request("POST", base + "/api/v1/alerts", R"({"x":1})");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, R"({"ok":true})");
  EXPECT_EQ(http.request("GET", base + "/again").status, 201);
  EXPECT_EQ(server.http_requests(), 2);
}

TEST(tls_client, post_with_retry_does_not_retry_a_refused_certificate) {
  tls_test_certs pki;
  tls_test_server server(pki.valid);
  client::http_client http(5s);  // the private CA is not trusted
  int retries = 0;
  auto url = "https://127.0.0.1:" + std::to_string(server.port()) + "/api/v1/alerts";
  try {
    client::post_with_retry(http, url, "{}", "", {}, [&](const std::string&) { ++retries; });
    ADD_FAILURE() << "the certificate was accepted";
  } catch (const client::certificate_refused& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "certificate verify failed (unable to get local issuer certificate)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(retries, 0);
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(server.http_requests(), 0);
}

TEST(tls_musterd, blocking_clients_publish_and_subscribe_over_wss) {
  tls_test_certs pki;
  server_process s(musterd_tls_args(pki.valid));
  auto ep = client::parse_url("wss://localhost:" + std::to_string(s.port()) + "/ws");
  client::tls_options tls{pki.ca.ca_file()};
  client::blocking_client sub(ep, tls), pub(ep, tls);
  sub.connect("sub");
  pub.connect("pub");
  ASSERT_FALSE(sub.call("subscribe", R"("channel":"ops")").is_error);
  auto r = pub.call("publish", R"("channel":"ops","data":{"text":"over tls"})");
  ASSERT_FALSE(r.is_error) << r.raw;
  auto e = sub.next_event(5s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->event, "message");
  EXPECT_EQ(e->data, R"({"text":"over tls"})");
  sub.close();
  pub.close();
  EXPECT_FALSE(sub.is_open());
  // The system's CAs alone do not know the private one.
  EXPECT_NE(
      open_failure(client::parse_server_url("https://127.0.0.1:" + std::to_string(s.port())).ws)
          .find("refused: TLS handshake with 127.0.0.1:"),
      std::string::npos);
}

TEST(tls_musterd, a_session_receives_over_wss) {
  tls_test_certs pki;
  server_process s(musterd_tls_args(pki.valid));
  boost::asio::io_context ioc;
  client::session::options o;
  o.server = client::parse_url("wss://127.0.0.1:" + std::to_string(s.port()) + "/ws");
  o.tls.ca_file = pki.ca.ca_file();
  auto session = client::session::create(ioc, o);
  std::string got;
  session->on_message([&](const client::server_message& m) { got = m.data; });
  session->on_state([&](client::session::state st, const std::string&) {
    // Posted: the subscription this state change sends goes out first.
    if (st == client::session::state::connected)
      boost::asio::post(ioc, [&] { session->publish("ops", R"({"text":"hello"})"); });
  });
  session->subscribe("ops");
  session->start();
  EXPECT_TRUE(run_until(ioc, [&] { return !got.empty(); }));
  EXPECT_EQ(got, R"({"text":"hello"})");
  session->stop();
}
