// The async client session against a real musterd, through a proxy the test can cut.
#include "clients/lib/session.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <mutex>
#include <thread>

#include "tests/integration/server_process.hpp"

using namespace muster;
using namespace muster::test;
using namespace std::chrono_literals;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// A loopback TCP proxy whose live connections can all be cut at once.
class proxy {
 public:
  explicit proxy(std::uint16_t target)
      : target_(target), acceptor_(ioc_, {net::ip::make_address("127.0.0.1"), 0}) {
    accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~proxy() {
    net::post(ioc_, [this] {
      acceptor_.close();
      cut_all();
    });
    ioc_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void cut() {
    net::post(ioc_, [this] { cut_all(); });
  }

 private:
  struct pair {
    tcp::socket a, b;
    std::array<char, 16384> ab{}, ba{};
    explicit pair(net::io_context& c) : a(c), b(c) {}
  };
  void cut_all() {
    for (auto& w : pairs_)
      if (auto p = w.lock()) {
        boost::system::error_code ec;
        p->a.close(ec);
        p->b.close(ec);
      }
    pairs_.clear();
  }
  void accept() {
    auto p = std::make_shared<pair>(ioc_);
    acceptor_.async_accept(p->a, [this, p](boost::system::error_code ec) {
      if (ec) return;
      boost::system::error_code ec2;
      p->b.connect({net::ip::make_address("127.0.0.1"), target_}, ec2);
      if (!ec2) {
        pairs_.push_back(p);
        pump(p, p->a, p->b, p->ab);
        pump(p, p->b, p->a, p->ba);
      }
      accept();
    });
  }
  void pump(std::shared_ptr<pair> p, tcp::socket& from, tcp::socket& to,
            std::array<char, 16384>& buf) {
    from.async_read_some(
        net::buffer(buf), [this, p, &from, &to, &buf](boost::system::error_code ec, std::size_t n) {
          if (ec) {
            boost::system::error_code ig;
            to.close(ig);
            return;
          }
          net::async_write(to, net::buffer(buf.data(), n),
                           [this, p, &from, &to, &buf](boost::system::error_code ec2, std::size_t) {
                             if (!ec2) pump(p, from, to, buf);
                           });
        });
  }
  std::uint16_t target_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::vector<std::weak_ptr<pair>> pairs_;
  std::thread thread_;
};

}  // namespace

TEST(client_session, reconnects_and_recovers_exactly_the_missed_messages) {
  server_process server;
  proxy px(server.port());
  net::io_context ioc;
  client::session::options o;
  o.server = {"127.0.0.1", px.port(), "/ws"};
  o.name = "ambassador";
  o.min_backoff = 50ms;
  o.max_backoff = 200ms;
  auto s = client::session::create(ioc, o);
  std::vector<std::uint64_t> offsets;
  std::vector<std::string> states;
  int connects = 0;
  s->on_message([&](const client::server_message& m) {
    if (m.event == "message") offsets.push_back(m.offset);
  });
  s->on_state([&](client::session::state st, const std::string& d) {
    states.push_back(d);
    if (st == client::session::state::connected) ++connects;
  });
  s->subscribe("drill");
  s->start();
  auto run_until = [&](auto pred, std::chrono::milliseconds t) {
    auto deadline = std::chrono::steady_clock::now() + t;
    while (!pred() && std::chrono::steady_clock::now() < deadline) ioc.run_for(10ms);
    return pred();
  };
  auto pub = connect_client(server, "bot");
  auto probe = [&] {
    return pub->call("presence", R"("channel":"drill")").result.find("ambassador") !=
           std::string::npos;
  };
  ASSERT_TRUE(run_until(probe, 5s));
  for (int i = 1; i <= 5; ++i)
    ASSERT_FALSE(pub->call("publish", R"("channel":"drill","data":)" + std::to_string(i)).is_error);
  ASSERT_TRUE(run_until([&] { return offsets.size() == 5; }, 5s));

  px.cut();
  // Published while the client is away (its presence entry disappears first).
  ASSERT_TRUE(run_until([&] { return !probe(); }, 5s));
  for (int i = 6; i <= 12; ++i)
    ASSERT_FALSE(pub->call("publish", R"("channel":"drill","data":)" + std::to_string(i)).is_error);
  ASSERT_TRUE(run_until([&] { return offsets.size() == 12; }, 10s));
  for (int i = 13; i <= 15; ++i)
    ASSERT_FALSE(pub->call("publish", R"("channel":"drill","data":)" + std::to_string(i)).is_error);
  ASSERT_TRUE(run_until([&] { return offsets.size() == 15; }, 5s));
  ioc.run_for(100ms);
  std::vector<std::uint64_t> expected;
  for (std::uint64_t i = 1; i <= 15; ++i) expected.push_back(i);
  EXPECT_EQ(offsets, expected);
  EXPECT_GE(connects, 2);
  bool recovered = false;
  for (auto& d : states) recovered |= d.find("recovered 7 missed") != std::string::npos;
  EXPECT_TRUE(recovered) << ::testing::PrintToString(states);
  s->stop();
}

TEST(client_session, publish_while_disconnected_fails_loudly) {
  net::io_context ioc;
  client::session::options o;
  o.server = {"127.0.0.1", 1, "/ws"};  // nothing listens on port 1
  o.reconnect = false;
  auto s = client::session::create(ioc, o);
  std::string stopped_detail;
  s->on_state([&](client::session::state st, const std::string& d) {
    if (st == client::session::state::stopped) stopped_detail = d;
  });
  s->start();
  ioc.run_for(2s);
  EXPECT_NE(stopped_detail.find("cannot connect"), std::string::npos) << stopped_detail;
  std::string code;
  s->publish("x", "1", [&](const client::server_message& m) { code = m.error_code; });
  EXPECT_EQ(code, "disconnected");
}

TEST(client_session, a_publish_interrupted_by_a_lost_connection_is_published_exactly_once) {
  server_process server;
  proxy px(server.port());
  net::io_context ioc;
  client::session::options o;
  o.server = {"127.0.0.1", px.port(), "/ws"};
  o.name = "lead";
  o.min_backoff = 50ms;
  o.max_backoff = 200ms;
  auto s = client::session::create(ioc, o);
  bool connected = false;
  int connects = 0;
  s->on_state([&](client::session::state st, const std::string&) {
    connected = st == client::session::state::connected;
    connects += connected;
  });
  s->start();
  auto run_until = [&](auto pred, std::chrono::milliseconds t) {
    auto deadline = std::chrono::steady_clock::now() + t;
    while (!pred() && std::chrono::steady_clock::now() < deadline) ioc.run_for(10ms);
    return pred();
  };
  ASSERT_TRUE(run_until([&] { return connected; }, 5s));
  // Sent, then the connection is cut before the reply can come back: the library sends it
  // again with its key after reconnecting.
  std::vector<client::server_message> replies;
  for (int i = 0; i < 20; ++i)
    s->publish("once", std::to_string(i),
               [&](const client::server_message& m) { replies.push_back(m); });
  px.cut();
  ASSERT_TRUE(run_until([&] { return replies.size() == 20; }, 10s));
  for (auto& r : replies) EXPECT_FALSE(r.is_error) << r.raw;
  auto audit = connect_client(server, "audit");
  auto h = audit->call("history", R"("channel":"once","limit":1000)");
  int stored = 0;
  for (auto p = h.result.find(R"("event":"message")"); p != std::string::npos;
       p = h.result.find(R"("event":"message")", p + 1))
    ++stored;
  EXPECT_EQ(stored, 20) << "each exactly once: " << h.result;
  EXPECT_GE(connects, 2) << "the cut did interrupt it";
  s->stop();
}

TEST(client_session, a_refreshed_token_is_used_for_reconnects) {
  auto args = auth_args();
  args.insert(args.end(), {"--set", "auth.leeway_s=0"});
  server_process server(args);
  proxy px(server.port());
  net::io_context ioc;
  client::session::options o;
  o.server = {"127.0.0.1", px.port(), "/ws"};
  o.name = "amy";
  o.token = test_token("amy", "ambassador", {}, 2s);  // gone by the time of the reconnect
  o.min_backoff = 50ms;
  o.max_backoff = 200ms;
  auto s = client::session::create(ioc, o);
  int connects = 0;
  std::string last_detail;
  s->on_state([&](client::session::state st, const std::string& d) {
    last_detail = d;
    if (st == client::session::state::connected) ++connects;
  });
  s->start();
  auto run_until = [&](auto pred, std::chrono::milliseconds t) {
    auto deadline = std::chrono::steady_clock::now() + t;
    while (!pred() && std::chrono::steady_clock::now() < deadline) ioc.run_for(10ms);
    return pred();
  };
  ASSERT_TRUE(run_until([&] { return connects == 1; }, 5s));
  std::optional<client::server_message> reply;
  s->refresh(test_token("amy", "ambassador", {}, 1h),
             [&](const client::server_message& m) { reply = m; });
  ASSERT_TRUE(run_until([&] { return reply.has_value(); }, 5s));
  ASSERT_FALSE(reply->is_error) << reply->error_message;
  ioc.run_for(2500ms);  // the first token has expired now
  px.cut();
  EXPECT_TRUE(run_until([&] { return connects == 2; }, 10s))
      << "reconnected with the refreshed token; last state: " << last_detail;
  s->stop();
}
