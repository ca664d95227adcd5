// `muster bot` against the real musterd, a feed served by the test, and a stand-in API that
// answers 503/429 before it accepts: mapping, dedup keys, memory across restarts, retries.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

#include "clients/lib/blocking_client.hpp"
#include "tests/integration/server_process.hpp"

using namespace muster;
using namespace muster::test;
using namespace std::chrono_literals;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// A small HTTP server on loopback run by the test: every request goes to `handler`.
class test_http_server {
 public:
  struct answer {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;
  };
  using handler = std::function<answer(const std::string& method, const std::string& target,
                                       const std::string& body)>;

  explicit test_http_server(handler h, std::uint16_t port = 0)
      : handler_(std::move(h)), acceptor_(ioc_, {net::ip::make_address("127.0.0.1"), port}) {
    accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~test_http_server() {
    ioc_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port()) + path;
  }

 private:
  struct conn : std::enable_shared_from_this<conn> {
    explicit conn(net::ip::tcp::socket s) : stream(std::move(s)) {}
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    http::response<http::string_body> res;
  };
  void accept() {
    acceptor_.async_accept([this](beast::error_code ec, net::ip::tcp::socket s) {
      if (ec) return;
      auto c = std::make_shared<conn>(std::move(s));
      http::async_read(c->stream, c->buffer, c->req, [this, c](beast::error_code rec, std::size_t) {
        if (rec) return;
        auto a = handler_(std::string(c->req.method_string()), std::string(c->req.target()),
                          c->req.body());
        c->res.result(static_cast<unsigned>(a.status));
        c->res.version(11);
        c->res.set(http::field::content_type, a.content_type);
        for (auto& [k, v] : a.headers) c->res.set(k, v);
        c->res.body() = a.body;
        c->res.keep_alive(false);
        c->res.prepare_payload();
        http::async_write(c->stream, c->res, [c](beast::error_code, std::size_t) {
          beast::error_code ignored;
          c->stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
        });
      });
      accept();
    });
  }
  handler handler_;
  net::io_context ioc_;
  net::ip::tcp::acceptor acceptor_;
  std::thread thread_;
};

struct run_result {
  int exit_code = -1;
  std::string out;
};

// Runs `muster bot ARGS` with `input` on stdin (bounded by `timeout`).
run_result run_bot(const std::vector<std::string>& args, const std::string& input,
                   const std::filesystem::path& dir) {
  auto in_path = dir / "stdin.txt", out_path = dir / "stdout.txt";
  std::ofstream(in_path) << input;
  std::string cmd = "timeout 60 " + std::string(MUSTER_CLI_PATH) + " bot";
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " < '" + in_path.string() + "' > '" + out_path.string() + "' 2>&1";
  int status = std::system(cmd.c_str());
  std::ifstream out(out_path);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1,
          std::string((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>())};
}

std::size_t alerts_in(const server_process& s, const std::string& channel) {
  client::blocking_client c(s.endpoint());
  c.connect("x", test_token("lead", "lead"));
  auto r = c.call("alert.list", R"("channel":")" + channel + "\"");
  return client::json_uint(r.result, "total").value_or(0);
}

}  // namespace

TEST(bot, json_lines_become_alerts_once_even_across_restarts) {
  server_process s(auth_args());
  auto server = "http://127.0.0.1:" + std::to_string(s.port());
  auto token = test_token("scout", "bot");
  auto state = s.dir() / "bot.state";
  std::string posts =
      R"({"id":"p1","source":"x","url":"https://x.com/a/status/1","author":"@a","text":"kettle fire","severity":"sev2","metrics":{"reach":500}})"
      "\n"
      R"({"id":"p2","source":"reddit","url":"https://reddit.com/r/k/2","text":"meh"})"
      "\n"
      R"({"id":"p3","source":"x","url":"https://X.com/a/status/1?utm_source=rt","text":"kettle fire again"})"
      "\n"
      R"({"id":"p1","source":"x","url":"https://x.com/a/status/1"})"
      "\n"
      "not json\n";
  auto r =
      run_bot({"--server", server, "--token", token, "--input", "-", "--state", state.string()},
              posts, s.dir());
  EXPECT_EQ(r.exit_code, 1) << r.out;  // one invalid line
  EXPECT_NE(r.out.find("sent p1 -> alert a-"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(new)"), std::string::npos) << r.out;
  // p3 is the same post reached through another link: the server folds it.
  EXPECT_NE(r.out.find("sent p3 -> alert a-"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(deduplicated)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("skipped p1 (already sent)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("invalid post at line 5: not valid JSON"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("posts 5: sent 3 (2 new, 1 deduplicated), skipped 1, failed 0, invalid 1"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(alerts_in(s, "triage"), 2u);

  // Restarted with the same posts: nothing is sent again.
  r = run_bot({"--server", server, "--token", token, "--input", "-", "--state", state.string()},
              posts.substr(0, posts.rfind("not json")), s.dir());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("posts 4: sent 0 (0 new, 0 deduplicated), skipped 4"), std::string::npos)
      << r.out;
  EXPECT_EQ(alerts_in(s, "triage"), 2u);

  // A token that may not push is a clear, final failure (no retries).
  r = run_bot({"--server", server, "--token", test_token("amy", "ambassador"), "--input", "-"},
              R"({"id":"p9","source":"x","url":"https://x.com/a/status/9"})"
              "\n",
              s.dir());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("failed p9: HTTP 403"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("retry"), std::string::npos) << r.out;
}

TEST(bot, json_and_atom_feeds_are_polled_and_mapped) {
  server_process s(auth_args());
  auto server = "http://127.0.0.1:" + std::to_string(s.port());
  auto token = test_token("scout", "bot");
  test_http_server feed([](const std::string&, const std::string& target, const std::string&) {
    test_http_server::answer a;
    if (target == "/posts.json") {
      a.body = R"({"data":{"posts":[
        {"post_id":"m1","network":"mastodon","link":"https://mastodon.social/@k/1","user":{"handle":"@k"},"content":"smoke from the KX-200","stats":{"followers":12000,"likes":40}},
        {"post_id":"m2","network":"mastodon","link":"https://mastodon.social/@j/2","user":{"handle":"@j"},"content":"love it","stats":{"followers":3,"likes":1}}]}})";
    } else if (target == "/news.atom") {
      a.content_type = "application/atom+xml";
      a.body = R"(<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>News</title>
  <entry><id>tag:news.example,2026:1</id><title>Kettles &amp; fire: what we know</title>
    <link rel="alternate" href="https://news.example/kettles?a=1&amp;b=2"/>
    <author><name>Dana Reporter</name></author><updated>2026-11-27T08:00:00Z</updated>
    <summary><![CDATA[Reports of <b>smoking</b> kettles]]></summary></entry>
  <entry><id>tag:news.example,2026:2</id><title>Fire &#x1F525; &#zz; &#xD800; &#0;</title>
    <link href="https://news.example/fire"/></entry>
</feed>)";
    } else {
      a.status = 404;
    }
    return a;
  });
  auto map = s.dir() / "map.toml";
  std::ofstream(map) << R"([map]
id = "post_id"
source = "network"
url = "link"
author = "user.handle"
text = "content"
severity = "=sev2"
reach = "stats.followers"
engagement = "stats.likes"
[feed]
items = "data.posts"
)";
  auto r = run_bot({"--server", server, "--token", token, "--feed", feed.url("/posts.json"),
                    "--once", "--map", map.string()},
                   "", s.dir());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("posts 2: sent 2 (2 new"), std::string::npos) << r.out;
  client::blocking_client c(s.endpoint());
  c.connect("x", test_token("lead", "lead"));
  auto list = c.call("alert.list", R"("channel":"triage")").result;
  EXPECT_NE(list.find(R"("source":"mastodon")"), std::string::npos) << list;
  EXPECT_NE(list.find(R"("author":"@k")"), std::string::npos) << list;
  EXPECT_NE(list.find(R"("severity":"sev2")"), std::string::npos) << list;
  EXPECT_NE(list.find(R"("reach":12000,"engagement":40)"), std::string::npos) << list;

  r = run_bot({"--server", server, "--token", token, "--feed", feed.url("/news.atom"), "--once"},
              "", s.dir());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("sent tag:news.example,2026:1 -> alert a-"), std::string::npos) << r.out;
  list = c.call("alert.list", R"("channel":"triage")").result;
  EXPECT_NE(list.find(R"("url":"https://news.example/kettles?a=1&b=2")"), std::string::npos)
      << list;
  EXPECT_NE(list.find(R"("author":"Dana Reporter")"), std::string::npos) << list;
  EXPECT_NE(list.find(R"("text":"Reports of <b>smoking</b> kettles")"), std::string::npos) << list;
  EXPECT_NE(list.find(R"("source":"news")"), std::string::npos) << list;
  // Character references that are no characters stay as written (no crash, no bad UTF-8).
  EXPECT_NE(list.find("\"text\":\"Fire \xF0\x9F\x94\xA5 &#zz; &#xD800; &#0;\""), std::string::npos)
      << list;

  // A feed that is not there is reported, not a crash.
  r = run_bot({"--server", server, "--token", token, "--feed", feed.url("/missing"), "--once"}, "",
              s.dir());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("HTTP 404"), std::string::npos) << r.out;
}

TEST(bot, retries_on_429_5xx_and_an_absent_server_then_succeeds) {
  // A stand-in for musterd: unreachable at first, then 503, then 429 (Retry-After: 0), then 202.
  std::atomic<int> calls{0};
  std::uint16_t port;
  {
    net::io_context probe;
    net::ip::tcp::acceptor a(probe, {net::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  std::unique_ptr<test_http_server> api;
  std::thread later([&] {
    std::this_thread::sleep_for(700ms);
    api = std::make_unique<test_http_server>(
        [&](const std::string& method, const std::string& target, const std::string& body) {
          test_http_server::answer a;
          int n = ++calls;
          EXPECT_EQ(method, "POST");
          EXPECT_EQ(target, "/api/v1/alerts");
          EXPECT_NE(body.find("https://x.com/r/1"), std::string::npos);
          if (n == 1) a.status = 503;
          if (n == 2) {
            a.status = 429;
            a.headers.emplace_back("Retry-After", "0");
          }
          if (n >= 3) {
            a.status = 202;
            a.body = R"({"status":"success","alert":{"id":"a-retried"},"deduplicated":false})";
          }
          return a;
        },
        port);
  });
  auto dir = std::filesystem::temp_directory_path() / ("muster-bot-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto r = run_bot({"--server", "http://127.0.0.1:" + std::to_string(port), "--token", "t",
                    "--input", "-", "--max-attempts", "10"},
                   R"({"id":"r1","source":"x","url":"https://x.com/r/1"})"
                   "\n",
                   dir);
  later.join();
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(calls.load(), 3);
  EXPECT_NE(r.out.find("sent r1 -> alert a-retried (new)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("HTTP 503"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("HTTP 429"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("connect"), std::string::npos) << r.out;  // the absent server
  api.reset();
  std::filesystem::remove_all(dir);
}

TEST(bot, reports_lines_truncation_and_counts_and_takes_any_server_url) {
  server_process s(auth_args());
  auto token = test_token("scout", "bot");
  auto ws = "ws://127.0.0.1:" + std::to_string(s.port()) + "/ws";
  std::string posts =
      "\n"
      R"({"id":"k1","source":"x","url":"https://x.com/a/status/11","metrics":{"reach":"12k"}})"
      "\n\n"
      R"({"id":"k2","source":"x","url":"https://x.com/a/status/12","metrics":{"reach":"2.4M","engagement":"1,5"}})"
      "\n"
      R"({"id":"k3","source":"x","url":"https://x.com/a/status/13")"
      "\n"
      R"(["not","an","object"])"
      "\n"
      R"({"id":"k4","source":"x","url":"https://x.com/a/status/14","metrics":{"reach":"lots"}})"
      "\n";
  // A ws:// URL names the same server: the bot posts to its HTTP side.
  auto r = run_bot({"--url", ws, "--token", token, "--input", "-"}, posts, s.dir());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("sent k1 -> alert a-"), std::string::npos) << r.out;
  // Line numbers of the file, blank lines included.
  EXPECT_NE(r.out.find(R"(invalid post at line 4: engagement "1,5" is not a count)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("invalid post at line 5: truncated JSON"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("invalid post at line 6: not a JSON object (an array)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(R"(invalid post at line 7: reach "lots" is not a count)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("posts 5: sent 1 (1 new, 0 deduplicated), skipped 0, failed 0, invalid 4"),
            std::string::npos)
      << r.out;
  client::blocking_client c(s.endpoint());
  c.connect("x", test_token("lead", "lead"));
  auto list = c.call("alert.list", R"("channel":"triage")");
  EXPECT_NE(list.result.find(R"("metrics":{"reach":12000,)"), std::string::npos) << list.result;

  r = run_bot(
      {"--url", ws, "--token", token, "--input", "-"},
      R"({"id":"k5","source":"x","url":"https://x.com/a/status/15","metrics":{"reach":"2.4M"}})"
      "\n",
      s.dir());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  list = c.call("alert.list", R"("channel":"triage")");
  EXPECT_NE(list.result.find(R"("reach":2400000)"), std::string::npos) << list.result;

  // The old flag still works (said to be deprecated); a URL it cannot use is refused at once.
  r = run_bot({"--server", "http://127.0.0.1:" + std::to_string(s.port()), "--token", token,
               "--input", "-"},
              R"({"id":"k6","source":"x","url":"https://x.com/a/status/16"})"
              "\n",
              s.dir());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("--server is deprecated; use --url"), std::string::npos) << r.out;
  r = run_bot({"--url", "ftp://127.0.0.1:1", "--token", token, "--input", "-"},
              R"({"id":"k7","source":"x","url":"https://x.com/a/status/17"})"
              "\n",
              s.dir());
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("unsupported URL"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("retry"), std::string::npos) << r.out;
}

TEST(bot, permanent_refusals_are_not_retried) {
  std::atomic<int> calls{0};
  test_http_server api([&](const std::string&, const std::string&, const std::string&) {
    ++calls;
    test_http_server::answer a;
    a.status = 400;
    a.body = R"({"error":{"code":"bad_request","message":"url is required"}})";
    return a;
  });
  auto dir = std::filesystem::temp_directory_path() / ("muster-bot4-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto r = run_bot({"--url", api.url(""), "--token", "t", "--input", "-"},
                   R"({"id":"b1","source":"x","url":"https://x.com/b/1"})"
                   "\n",
                   dir);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(calls.load(), 1) << r.out;
  EXPECT_NE(r.out.find("failed b1: HTTP 400"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("retry"), std::string::npos) << r.out;
  std::filesystem::remove_all(dir);
}
