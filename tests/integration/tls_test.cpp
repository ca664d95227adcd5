// [tls]: the main port speaks TLS (wss://, https://) with the configured certificate, which
// SIGHUP replaces without dropping connections; plain requests there are answered with 400; the
// internal listener serves health checks and metrics in plain HTTP.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "tests/integration/server_process.hpp"
#include "tests/integration/test_certs.hpp"
#include "tests/integration/tls_client.hpp"

using namespace muster::test;
using namespace std::chrono_literals;

namespace {

struct tls_fixture {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("muster-tls-" + std::to_string(::getpid()) + "-" +
       std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  certs::authority ca{dir};
  certs::issued server = ca.issue("server");
  ~tls_fixture() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::vector<std::string> args(std::vector<std::string> more = {}) const {
    std::vector<std::string> a = {"--set", "tls.cert_file=\"" + server.cert_file + "\"", "--set",
                                  "tls.key_file=\"" + server.key_file + "\""};
    a.insert(a.end(), more.begin(), more.end());
    return a;
  }
  tls_client_options trusting() const { return {ca.ca_file()}; }
};

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST(tls, websocket_publish_and_subscribe_over_tls) {
  tls_fixture f;
  server_process s(f.args());
  tls_websocket a(s.port(), f.trusting());
  tls_websocket b(s.port(), f.trusting());
  EXPECT_TRUE(has(a.connection().version(), "TLSv1.")) << a.connection().version();
  EXPECT_TRUE(has(a.call(1, "connect", R"("name":"amb-1")"), "\"result\""));
  EXPECT_TRUE(has(b.call(1, "connect", R"("name":"amb-2")"), "\"result\""));
  EXPECT_TRUE(has(b.call(2, "subscribe", R"("channel":"crisis:acme")"), "\"result\""));
  auto reply = a.call(2, "publish", R"("channel":"crisis:acme","data":{"text":"over TLS"})");
  EXPECT_TRUE(has(reply, "\"offset\"")) << reply;
  auto ev = b.read_until("\"event\":\"message\"");
  EXPECT_TRUE(has(ev, "over TLS")) << ev;
  // A message bigger than one TLS record (16 KiB) arrives whole.
  std::string big(40000, 'x');
  a.call(3, "publish", R"("channel":"crisis:acme","data":{"text":")" + big + "\"}");
  EXPECT_TRUE(has(b.read_until("\"event\":\"message\""), big));
  a.close();
  b.close();
}

TEST(tls, a_burst_of_commands_in_many_records_is_answered_in_order) {
  tls_fixture f;
  server_process s(f.args());
  tls_websocket sub(s.port(), f.trusting());
  sub.call(1, "connect", R"("name":"amb")");
  sub.call(2, "subscribe", R"("channel":"crisis:acme")");
  tls_websocket pub(s.port(), f.trusting());
  pub.call(1, "connect", R"("name":"dispatch")");
  // One TLS record per command, all sent before any reply is read: the server gathers what
  // is already buffered before processing it.
  constexpr int n = 300;
  for (int i = 0; i < n; ++i)
    pub.send(R"({"id":)" + std::to_string(100 + i) +
             R"(,"op":"publish","channel":"crisis:acme","data":{"n":)" + std::to_string(i) + "}}");
  for (int i = 0; i < n; ++i) {
    auto reply = pub.read_until("\"id\":");
    EXPECT_TRUE(has(reply, "{\"id\":" + std::to_string(100 + i) + ",\"result\"")) << reply;
  }
  for (int i = 0; i < n; ++i)
    EXPECT_TRUE(has(sub.read_until("\"event\":\"message\""), "{\"n\":" + std::to_string(i) + "}"));
}

TEST(tls, recovery_fills_a_gap_over_tls) {
  tls_fixture f;
  server_process s(f.args());
  tls_websocket pub(s.port(), f.trusting());
  pub.call(1, "connect", R"("name":"dispatch")");
  std::string position;
  {
    tls_websocket sub(s.port(), f.trusting());
    sub.call(1, "connect", R"("name":"amb")");
    auto r = sub.call(2, "subscribe", R"("channel":"crisis:acme")");
    auto offset = r.substr(r.find("\"offset\":") + 9);
    offset = offset.substr(0, offset.find_first_of(",}"));
    auto epoch = r.substr(r.find("\"epoch\":\"") + 9);
    epoch = epoch.substr(0, epoch.find('"'));
    position = R"("recover":{"offset":)" + offset + R"(,"epoch":")" + epoch + "\"}";
  }  // the subscriber's connection is gone
  for (int i = 0; i < 3; ++i)
    pub.call(2 + i, "publish", R"("channel":"crisis:acme","data":{"n":)" + std::to_string(i) + "}");
  tls_websocket back(s.port(), f.trusting());
  back.call(1, "connect", R"("name":"amb")");
  auto r = back.call(2, "subscribe", R"("channel":"crisis:acme",)" + position);
  EXPECT_TRUE(has(r, "\"recovered\":true")) << r;
  EXPECT_TRUE(has(r, "\"missed\":3")) << r;
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(has(back.read_until("\"event\":\"message\""), "{\"n\":" + std::to_string(i) + "}"));
}

TEST(tls, https_serves_the_checks_and_plain_http_is_told_to_use_tls) {
  tls_fixture f;
  server_process s(f.args());
  auto health = https_get(s.port(), "/healthz", f.trusting());
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  EXPECT_EQ(https_get(s.port(), "/readyz", f.trusting()).status, 200);
  auto plain = http_get(s.port(), "/healthz");
  EXPECT_EQ(plain.first, 400);
  EXPECT_EQ(plain.second, "this port speaks TLS: use https:// or wss://\n");
  // The server is still there for everyone else.
  EXPECT_EQ(https_get(s.port(), "/healthz", f.trusting()).status, 200);
}

TEST(tls, allow_plain_serves_both_on_one_port) {
  tls_fixture f;
  server_process s(f.args({"--set", "tls.allow_plain=true"}));
  EXPECT_EQ(http_get(s.port(), "/healthz").first, 200);
  EXPECT_EQ(https_get(s.port(), "/healthz", f.trusting()).status, 200);
  auto c = connect_client(s, "plain-client");  // ws:// on the same port
  tls_websocket t(s.port(), f.trusting());
  EXPECT_TRUE(has(t.call(1, "connect", R"("name":"tls-client")"), "\"result\""));
}

TEST(tls, clients_refuse_a_certificate_they_cannot_trust) {
  tls_fixture f;
  certs::leaf_options old;
  old.not_before = -48h;
  old.not_after = -24h;
  auto expired = f.ca.issue("expired", old);
  certs::leaf_options other;
  other.common_name = "other.example";
  other.alt_names = "DNS:other.example";
  auto wrong_name = f.ca.issue("wrong-name", other);
  auto check = [&](const certs::issued& cert, tls_client_options o) {
    server_process s({"--set", "tls.cert_file=\"" + cert.cert_file + "\"", "--set",
                      "tls.key_file=\"" + cert.key_file + "\"", "--set",
                      "server.internal_listen=\"127.0.0.1:0\""});
    std::string why = "accepted";
    try {
      tls_websocket ws(s.port(), o);
    } catch (const tls_client_error& e) {
      why = e.what();
    }
    auto counted =
        std::string("muster_tls_handshake_errors_total ") + (why == "accepted" ? "0" : "1");
    EXPECT_TRUE(eventually([&] {
      return has(http_get(s.internal_port(), "/metrics").second, counted);
    })) << "the server counts the handshakes the client broke off: "
        << why;
    return why;
  };
  EXPECT_TRUE(has(check(expired, f.trusting()), "certificate has expired"));
  EXPECT_TRUE(has(check(wrong_name, f.trusting()), "TLS handshake: certificate verify failed"));
  certs::authority stranger(f.dir / "stranger", "Someone Else's CA");
  EXPECT_TRUE(has(check(f.server, {stranger.ca_file()}), "unable to get local issuer certificate"));
  EXPECT_TRUE(has(check(f.server, {f.ca.ca_file(), "127.0.0.1"}), "accepted"))
      << "the certificate names 127.0.0.1 too";
}

TEST(tls, the_minimum_version_is_enforced) {
  tls_fixture f;
  server_process s(f.args({"--set", "tls.min_version=\"1.3\""}));
  auto o = f.trusting();
  o.max_version = TLS1_2_VERSION;
  EXPECT_THROW(tls_websocket(s.port(), o), tls_client_error) << "a TLS 1.2 client";
  tls_websocket ok(s.port(), f.trusting());
  EXPECT_EQ(ok.connection().version(), "TLSv1.3");
  // The default minimum, 1.2, keeps TLS 1.2 clients.
  server_process default_min(f.args());
  tls_websocket v12(default_min.port(), o);
  EXPECT_EQ(v12.connection().version(), "TLSv1.2");
}

TEST(tls, sighup_replaces_the_certificate_and_keeps_open_connections) {
  tls_fixture f;
  // The files the server is configured with, overwritten in place as a renewal would.
  auto live_cert = (f.dir / "live.pem").string(), live_key = (f.dir / "live.key").string();
  std::filesystem::copy_file(f.server.cert_file, live_cert);
  std::filesystem::copy_file(f.server.key_file, live_key);
  server_process s({"--set", "tls.cert_file=\"" + live_cert + "\"", "--set",
                    "tls.key_file=\"" + live_key + "\""});
  tls_websocket old_conn(s.port(), f.trusting());
  old_conn.call(1, "connect", R"("name":"amb")");
  old_conn.call(2, "subscribe", R"("channel":"crisis:acme")");
  long first_serial = old_conn.connection().peer_serial();
  auto renewed = f.ca.issue("renewed");
  std::filesystem::copy_file(renewed.cert_file, live_cert,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(renewed.key_file, live_key,
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_EQ(::kill(s.pid(), SIGHUP), 0);
  ASSERT_TRUE(eventually([&] { return has(s.log(), "tls certificate reloaded"); })) << s.log();
  tls_websocket new_conn(s.port(), f.trusting());
  EXPECT_NE(new_conn.connection().peer_serial(), first_serial) << "new connections: new cert";
  new_conn.call(1, "connect", R"("name":"lead")");
  new_conn.call(2, "publish", R"("channel":"crisis:acme","data":"after the renewal")");
  EXPECT_TRUE(has(old_conn.read_until("\"event\":\"message\""), "after the renewal"))
      << "the connection opened before the reload still works";
  // A broken renewal keeps the certificate that works.
  std::ofstream(live_key, std::ios::trunc) << "not a key\n";
  ASSERT_EQ(::kill(s.pid(), SIGHUP), 0);
  ASSERT_TRUE(eventually([&] { return has(s.log(), "tls certificate not reloaded"); })) << s.log();
  EXPECT_TRUE(has(s.log(), "tls.key_file " + live_key)) << s.log();
  tls_websocket after(s.port(), f.trusting());
  EXPECT_EQ(after.connection().peer_serial(), new_conn.connection().peer_serial());
}

TEST(tls, unusable_certificate_files_stop_start_up_naming_the_file) {
  tls_fixture f;
  auto start_error = [&](const std::string& cert, const std::string& key) {
    try {
      server_process s(
          {"--set", "tls.cert_file=\"" + cert + "\"", "--set", "tls.key_file=\"" + key + "\""});
      return std::string("started");
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
  };
  auto missing = (f.dir / "missing.pem").string();
  EXPECT_TRUE(has(start_error(missing, f.server.key_file),
                  "tls.cert_file " + missing + ": cannot be read"));
  EXPECT_TRUE(has(start_error(f.server.key_file, f.server.key_file),
                  "tls.cert_file " + f.server.key_file + ": not a PEM certificate chain"));
  auto other = f.ca.issue("other");
  EXPECT_TRUE(has(start_error(f.server.cert_file, other.key_file),
                  "does not belong to the certificate in " + f.server.cert_file));
  try {
    server_process s({"--set", "tls.cert_file=\"" + f.server.cert_file + "\""});
    ADD_FAILURE() << "started with a certificate and no key";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(has(e.what(), "cert_file and key_file go together")) << e.what();
  }
}

TEST(tls, the_internal_listener_serves_checks_and_metrics_in_plain_http) {
  tls_fixture f;
  server_process s(f.args({"--set", "server.internal_listen=\"127.0.0.1:0\""}));
  ASSERT_NE(s.internal_port(), 0);
  EXPECT_EQ(http_get(s.internal_port(), "/healthz").first, 200);
  EXPECT_EQ(http_get(s.internal_port(), "/readyz").first, 200);
  auto metrics = http_get(s.internal_port(), "/metrics");
  EXPECT_EQ(metrics.first, 200);
  EXPECT_TRUE(has(metrics.second, "muster_connections")) << metrics.second;
  // Nothing else there: no console, no API, no WebSocket.
  EXPECT_EQ(http_get(s.internal_port(), "/").first, 404);
  EXPECT_EQ(http_get(s.internal_port(), "/api/v1/channels").first, 404);
  // And the counters are no longer on the public port.
  EXPECT_EQ(https_get(s.port(), "/metrics", f.trusting()).status, 404);
  EXPECT_EQ(https_get(s.port(), "/healthz", f.trusting()).status, 200);
}

TEST(tls, a_client_that_stalls_or_garbles_its_handshake_costs_others_nothing) {
  tls_fixture f;
  server_process s(f.args({"--set", "server.internal_listen=\"127.0.0.1:0\"", "--set",
                           "limits.handshake_timeout_ms=500"}));
  namespace net = boost::asio;
  net::io_context ioc;
  net::ip::tcp::endpoint to(net::ip::make_address("127.0.0.1"), s.port());
  // A TLS record header and the start of a ClientHello, then nonsense; and one that says
  // nothing at all.
  net::ip::tcp::socket garbled(ioc), silent(ioc);
  garbled.connect(to);
  silent.connect(to);
  std::string junk =
      std::string("\x16\x03\x01\x00\x30\x01\x00\x00\x2c", 9) + std::string(44, '\x7f');
  net::write(garbled, net::buffer(junk));
  tls_websocket ok(s.port(), f.trusting());
  EXPECT_TRUE(has(ok.call(1, "connect", R"("name":"amb")"), "\"result\""));
  EXPECT_TRUE(eventually([&] {
    return has(http_get(s.internal_port(), "/metrics").second,
               "muster_tls_handshake_errors_total 1");
  })) << "the garbled handshake is counted";
  // The silent one is dropped at the handshake timeout.
  silent.non_blocking(true);
  boost::system::error_code ec;
  EXPECT_TRUE(eventually([&] {
    char byte;
    silent.read_some(net::buffer(&byte, 1), ec);
    return ec != net::error::would_block && ec != net::error::try_again;
  }));
  EXPECT_TRUE(ec == net::error::eof || ec == net::error::connection_reset) << ec.message();
}
