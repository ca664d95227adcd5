#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "clients/lib/crisis.hpp"
#include "tests/integration/server_process.hpp"

using namespace muster;
using namespace muster::test;
using namespace std::chrono_literals;

namespace {

struct child {
  pid_t pid = -1;
  std::string out_path, err_path;
  ~child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  int wait(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(5ms);
    }
    return -1;
  }
  std::string out() const { return slurp(out_path); }
  std::string err() const { return slurp(err_path); }
  static std::string slurp(const std::string& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
};

std::unique_ptr<child> run_muster(const server_process& s, std::vector<std::string> args,
                                  const std::string& tag) {
  auto c = std::make_unique<child>();
  c->out_path = (s.dir() / (tag + ".out")).string();
  c->err_path = (s.dir() / (tag + ".err")).string();
  std::vector<std::string> argv_s = {MUSTER_CLI_PATH};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  c->pid = ::fork();
  if (c->pid == 0) {
    FILE* o = std::freopen(c->out_path.c_str(), "w", stdout);
    FILE* e = std::freopen(c->err_path.c_str(), "w", stderr);
    FILE* i = std::freopen("/dev/null", "r", stdin);
    (void)o, (void)e, (void)i;
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
  return c;
}

std::string url(const server_process& s) {
  return "ws://127.0.0.1:" + std::to_string(s.port()) + "/ws";
}

}  // namespace

TEST(cli, send_reaches_tail) {
  server_process server;
  auto tail = run_muster(
      server, {"tail", "ops", "--url", url(server), "--name", "watcher", "--json"}, "tail");
  auto probe = connect_client(server, "probe");
  ASSERT_TRUE(eventually([&] {
    return probe->call("presence", R"("channel":"ops")").result.find("watcher") !=
           std::string::npos;
  })) << tail->err();
  auto send = run_muster(
      server, {"send", "ops", "holding statement is out", "--url", url(server), "--name", "lead"},
      "send");
  ASSERT_EQ(send->wait(10s), 0) << send->err();
  EXPECT_NE(send->out().find("published ops #1"), std::string::npos) << send->out();
  ASSERT_TRUE(eventually([&] {
    return tail->out().find("holding statement is out") != std::string::npos;
  })) << tail->out()
      << tail->err();
  EXPECT_NE(tail->out().find(R"("sender":{"client")"), std::string::npos);
  ::kill(tail->pid, SIGTERM);
  EXPECT_EQ(tail->wait(5s), 0);
}

TEST(cli, send_reports_connection_failure_clearly) {
  server_process server;
  auto port = server.port();
  server.stop();
  auto send = run_muster(
      server, {"send", "ops", "x", "--url", "ws://127.0.0.1:" + std::to_string(port) + "/ws"},
      "fail");
  EXPECT_EQ(send->wait(10s), 2);
  EXPECT_NE(send->err().find("cannot connect"), std::string::npos) << send->err();
}

TEST(cli, send_reports_server_errors) {
  server_process server;
  auto send = run_muster(server, {"send", "bad channel", "x", "--url", url(server)}, "bad");
  EXPECT_EQ(send->wait(10s), 1);
  EXPECT_NE(send->err().find("bad_channel"), std::string::npos) << send->err();
}

TEST(cli, send_with_the_same_idempotency_key_publishes_once) {
  server_process server;
  for (int i = 0; i < 2; ++i) {
    auto send = run_muster(
        server, {"send", "ops", "only once", "--url", url(server), "--idempotency-key", "note-42"},
        "send" + std::to_string(i));
    ASSERT_EQ(send->wait(10s), 0) << send->err();
    EXPECT_NE(send->out().find("published ops #1"), std::string::npos) << send->out();
  }
  auto probe = connect_client(server, "probe");
  auto h = probe->call("history", R"("channel":"ops")");
  EXPECT_NE(h.result.find(R"("offset":1,)"), std::string::npos) << h.result;
  EXPECT_EQ(h.result.find(R"("offset":2,)"), std::string::npos) << "the repeat published nothing";
}

TEST(cli, send_retries_until_the_server_is_there) {
  // The port of a server that is gone: the first tries fail, a later one finds the new server.
  std::uint16_t port;
  {
    server_process probe;
    port = probe.port();
  }
  std::string listen = "127.0.0.1:" + std::to_string(port);
  server_process placeholder;  // run_muster needs a server for its files only
  auto send = run_muster(
      placeholder,
      {"send", "ops", "after a restart", "--url", "ws://" + listen + "/ws", "--attempts", "8"},
      "retry");
  std::this_thread::sleep_for(300ms);  // at least one attempt has failed
  server_process back({"--listen", listen});
  ASSERT_EQ(send->wait(20s), 0) << send->err();
  EXPECT_NE(send->out().find("published ops #1"), std::string::npos) << send->out();
}

namespace {

// Runs `muster ARGS` to its end; {exit code, stdout, stderr}.
struct finished {
  int code = -1;
  std::string out, err;
};
finished muster_cli(const server_process& s, std::vector<std::string> args) {
  static int n = 0;
  auto c = run_muster(s, std::move(args), "cli" + std::to_string(++n));
  int code = c->wait(20s);
  return {code, c->out(), c->err()};
}

// The server said no: exit code 1, `muster <cmd>: <code>: <message>` on stderr.
void expect_refused(const finished& r, const std::string& prefix) {
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(r.err.starts_with(prefix)) << r.err;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::unique_ptr<client::blocking_client> connect_as(const server_process& s,
                                                    const std::string& token) {
  auto c = std::make_unique<client::blocking_client>(s.endpoint());
  c->connect("test", token);
  return c;
}

client::alert_post x_post(const std::string& url, const std::string& text,
                          const std::string& channel = "") {
  client::alert_post post;
  post.source = "x";
  post.url = url;
  post.text = text;
  post.channel = channel;
  return post;
}

// The id after "posted <kind> " in `muster guidance post`'s output.
std::string posted_id(const std::string& out) {
  auto at = out.find("g-");
  return at == std::string::npos ? "" : out.substr(at, out.find(' ', at) - at);
}

}  // namespace

TEST(cli, alerts_are_listed_claimed_answered_and_closed) {
  server_process server(auth_args());
  auto lead = test_token("lena", "lead"), ana = test_token("ana", "ambassador"),
       omar = test_token("omar", "ambassador");
  auto bot = connect_as(server, test_token("scout", "bot"));
  client::create_channel(*connect_as(server, lead), "crisis.cli", "Kettle recall", "sev2");
  client::alert_post post;
  post.source = "x";
  post.url = "https://x.com/kettlefan/status/1";
  post.author = "@kettlefan";
  post.text = std::string("My KX-200 caught fire this morning and nobody at the brand answers ") +
              "my messages";
  post.severity = "sev2";
  post.reach = 2400000;
  post.channel = "crisis.cli";
  auto first = client::push_alert(*bot, post);
  post.url = "https://x.com/other/status/2";
  post.text = "Smoke from my kettle";
  post.channel.clear();  // routed: triage
  auto second = client::push_alert(*bot, post);
  for (auto* who : {&ana, &omar}) connect_as(server, *who);  // in the directory, for assign
  auto u = url(server);

  auto r = muster_cli(server, {"alerts", "--channel", "crisis.cli", "--url", u, "--token", lead});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "ID")) << r.out;
  EXPECT_TRUE(has(r.out, first.id)) << r.out;
  EXPECT_TRUE(has(r.out, "sev2")) << r.out;
  EXPECT_TRUE(has(r.out, "2.4M")) << r.out;
  EXPECT_TRUE(has(r.out, "@kettlefan")) << r.out;
  // The text cut to 60 characters, the last one an ellipsis.
  EXPECT_TRUE(has(r.out, "My KX-200 caught fire this morning and nobody at the brand …\n"))
      << r.out;
  EXPECT_FALSE(has(r.out, second.id)) << r.out;
  // Without --channel: every crisis channel and triage, with a column saying which.
  r = muster_cli(server, {"alerts", "--url", u, "--token", lead});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "CHANNEL")) << r.out;
  EXPECT_TRUE(has(r.out, first.id) && has(r.out, second.id)) << r.out;
  r = muster_cli(server, {"alerts", "--channel", "triage", "--json", "--url", u, "--token", lead});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with(R"({"alerts":[{"id":")" + second.id)) << r.out;

  r = muster_cli(server,
                 {"claim", first.id, "--channel", "crisis.cli", "--url", u, "--token", ana});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "claimed " + first.id + " (claimed by ana)\n");
  r = muster_cli(server,
                 {"claim", first.id, "--channel", "crisis.cli", "--url", u, "--token", omar});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(
      r.err.starts_with("muster claim: already_claimed: alert " + first.id + " is claimed by ana"))
      << r.err;
  r = muster_cli(server, {"alerts", "--channel", "crisis.cli", "--status", "claimed", "--url", u,
                          "--token", lead});
  EXPECT_TRUE(has(r.out, first.id) && has(r.out, "ana")) << r.out;
  r = muster_cli(server,
                 {"respond", first.id, "--channel", "crisis.cli", "--url", u, "--token", ana});
  EXPECT_EQ(r.code, 2) << "neither --reply-url nor --text";
  r = muster_cli(server, {"respond", first.id, "--channel", "crisis.cli", "--reply-url",
                          "https://x.com/brand/status/3", "--text", "Sorry, DM us", "--url", u,
                          "--token", ana});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "responded to " + first.id + " (responded by ana)\n");
  r = muster_cli(server,
                 {"resolve", first.id, "--channel", "crisis.cli", "--url", u, "--token", ana});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "resolved " + first.id + " (resolved by ana)\n");

  r = muster_cli(server, {"assign", second.id, "--channel", "triage", "--to", "omar", "--url", u,
                          "--token", lead});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "assigned " + second.id + " (claimed by omar)\n");
  r = muster_cli(server, {"assign", second.id, "--channel", "triage", "--to", "nobody", "--url", u,
                          "--token", lead});
  expect_refused(r, "muster assign: unknown_user: ");
  r = muster_cli(server,
                 {"release", second.id, "--channel", "triage", "--url", u, "--token", lead});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "released " + second.id + " (new)\n");
  r = muster_cli(server, {"dismiss", second.id, "--channel", "triage", "--url", u, "--token", ana});
  expect_refused(r, "muster dismiss: forbidden: ");
  r = muster_cli(server,
                 {"dismiss", second.id, "--channel", "triage", "--url", u, "--token", lead});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "dismissed " + second.id + " (dismissed)\n");

  r = muster_cli(server, {"claim", "a-nope", "--channel", "triage", "--url", u, "--token", ana});
  expect_refused(r, "muster claim: not_found: ");
  r = muster_cli(server, {"claim", "--channel", "triage", "--url", u});
  EXPECT_EQ(r.code, 2) << "no alert id: a usage error";
}

TEST(cli, guidance_is_posted_acknowledged_and_followed) {
  server_process server(auth_args());
  auto lead = test_token("lena", "lead"), ana = test_token("ana", "ambassador");
  client::create_channel(*connect_as(server, lead), "crisis.g", "Kettle recall");
  auto member = connect_as(server, ana);
  ASSERT_FALSE(member->call("subscribe", R"("channel":"crisis.g")").is_error);
  auto u = url(server);

  auto r = muster_cli(server, {"guidance", "post", "--channel", "crisis.g", "--kind",
                               "holding_statement", "--title", "Holding", "--body",
                               "We are aware and investigating.", "--url", u, "--token", lead});
  ASSERT_EQ(r.code, 0) << r.err;
  auto id = posted_id(r.out);
  ASSERT_FALSE(id.empty()) << r.out;
  EXPECT_EQ(r.out, "posted holding_statement " + id + " to crisis.g\n");
  r = muster_cli(server,
                 {"guidance", "status", id, "--channel", "crisis.g", "--url", u, "--token", lead});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "ana") && has(r.out, "pending")) << r.out;
  EXPECT_TRUE(has(r.out, "0 of 1 members acknowledged")) << r.out;
  r = muster_cli(server,
                 {"guidance", "ack", id, "--channel", "crisis.g", "--url", u, "--token", ana});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "acknowledged " + id + "\n");
  r = muster_cli(server,
                 {"guidance", "ack", id, "--channel", "crisis.g", "--url", u, "--token", ana});
  EXPECT_EQ(r.out, "already acknowledged " + id + "\n");
  r = muster_cli(server,
                 {"guidance", "status", id, "--channel", "crisis.g", "--url", u, "--token", lead});
  EXPECT_TRUE(has(r.out, "acknowledged") && has(r.out, "v1")) << r.out;
  EXPECT_TRUE(has(r.out, "1 of 1 members acknowledged")) << r.out;

  r = muster_cli(server,
                 {"guidance", "status", id, "--channel", "crisis.g", "--url", u, "--token", ana});
  expect_refused(r, "muster guidance status: forbidden: ");
  r = muster_cli(
      server, {"guidance", "ack", "g-nope", "--channel", "crisis.g", "--url", u, "--token", ana});
  expect_refused(r, "muster guidance ack: not_found: ");
  r = muster_cli(server, {"guidance", "post", "--channel", "crisis.g", "--kind", "rumour",
                          "--title", "t", "--body", "b", "--url", u});
  EXPECT_EQ(r.code, 2) << "an unknown kind: a usage error";
}

TEST(cli, stats_timeline_and_channels) {
  server_process server(auth_args());
  auto lead = test_token("lena", "lead"), ana = test_token("ana", "ambassador");
  client::create_channel(*connect_as(server, lead), "crisis.s", "Kettle recall", "sev2");
  auto bot = connect_as(server, test_token("scout", "bot"));
  auto alert = client::push_alert(*bot, x_post("https://x.com/a/status/1", "Smoke", "crisis.s"));
  client::claim_alert(*connect_as(server, ana), "crisis.s", alert.id);
  auto u = url(server);
  auto http = "http://127.0.0.1:" + std::to_string(server.port());

  auto r = muster_cli(server, {"stats", "--channel", "crisis.s", "--url", u, "--token", lead});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "TO-CLAIM") && has(r.out, "crisis.s")) << r.out;
  EXPECT_TRUE(has(r.out, "ana")) << r.out;
  r = muster_cli(server, {"stats", "--json", "--url", http, "--token", lead});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with(R"({"channels":[{"channel":"crisis.s")")) << r.out;
  r = muster_cli(server, {"stats", "--url", u, "--token", ana});
  expect_refused(r, "muster stats: forbidden: ");

  // The timeline over HTTP, whichever form of the URL is given.
  r = muster_cli(server, {"timeline", "crisis.s", "--url", u, "--token", lead});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with(R"({"event":"channel.created","channel":"crisis.s","offset":1,)"))
      << r.out;
  EXPECT_TRUE(has(r.out, "\n{\"event\":\"alert.new\"")) << r.out;
  EXPECT_TRUE(has(r.out, "\n{\"event\":\"alert.claimed\"")) << r.out;
  r = muster_cli(server,
                 {"timeline", "crisis.s", "--format", "text", "--url", http, "--token", lead});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with("[crisis.s] CHANNEL created \"Kettle recall\" sev2 open by lena\n"))
      << r.out;
  EXPECT_TRUE(has(r.out, "[crisis.s] ALERT sev3 x \"Smoke\" → " + alert.id + " (new)\n")) << r.out;
  EXPECT_TRUE(has(r.out, "[crisis.s] CLAIMED " + alert.id + " by ana\n")) << r.out;
  r = muster_cli(server, {"timeline", "crisis.s", "--url", u, "--token", ana});
  expect_refused(r, "muster timeline: forbidden: ");

  r = muster_cli(server, {"channels", "--url", http, "--token", ana});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "crisis.s") && has(r.out, "Kettle recall") && has(r.out, "sev2")) << r.out;
  EXPECT_TRUE(has(r.out, "system channels: triage (triage), leads (leads)")) << r.out;
  r = muster_cli(server, {"channels", "--json", "--url", u, "--token", ana});
  EXPECT_TRUE(r.out.starts_with(R"({"channels":[{"channel":"crisis.s")")) << r.out;
  r = muster_cli(server, {"channels", "--url", "ftp://127.0.0.1:1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(r.err.starts_with("muster channels: unsupported URL")) << r.err;
}

TEST(cli, tail_shows_crisis_events_as_lines) {
  server_process server(auth_args());
  auto lead = test_token("lena", "lead");
  auto http = "http://127.0.0.1:" + std::to_string(server.port());
  auto tail = run_muster(
      server,
      {"tail", "triage", "--url", http, "--token", test_token("watcher", "lead"), "--timestamps"},
      "tail");
  auto probe = connect_as(server, lead);
  ASSERT_TRUE(eventually([&] {
    return has(probe->call("presence", R"("channel":"triage")").result, "watcher");
  })) << tail->err();
  auto bot = connect_as(server, test_token("scout", "bot"));
  auto post = x_post("https://x.com/kettlefan/status/1", "My KX-200 caught fire");
  post.author = "@kettlefan";
  post.severity = "sev1";
  auto alert = client::push_alert(*bot, post);
  client::claim_alert(*connect_as(server, test_token("ana", "ambassador")), "triage", alert.id);
  ASSERT_TRUE(eventually([&] { return has(tail->out(), "CLAIMED"); })) << tail->out();
  auto out = tail->out();
  EXPECT_TRUE(has(out, " [triage] ALERT sev1 x @kettlefan \"My KX-200 caught fire\" → " + alert.id +
                           " (new)\n"))
      << out;
  EXPECT_TRUE(has(out, " [triage] CLAIMED " + alert.id + " by ana\n")) << out;
  // Each line starts with the event's time, HH:MM:SS.
  EXPECT_EQ(out[2], ':') << out;
  EXPECT_EQ(out[5], ':') << out;
  ::kill(tail->pid, SIGTERM);
  EXPECT_EQ(tail->wait(5s), 0);
  auto r = muster_cli(server, {"tail", "triage", "--json", "--timestamps"});
  EXPECT_EQ(r.code, 2) << "--json keeps the raw line: no timestamps";
}

TEST(cli, token_revoke_closes_the_users_connections) {
  server_process server(auth_args());
  auto admin = test_token("root", "admin");
  auto amy = connect_as(server, test_token("amy", "ambassador"));
  auto u = url(server);
  auto r = muster_cli(server, {"token", "revoke", "--url", u, "--token", admin});
  EXPECT_EQ(r.code, 2) << "neither --jti nor --user";
  r = muster_cli(server, {"token", "revoke", "--user", "amy", "--url", u, "--token",
                          test_token("lena", "lead")});
  expect_refused(r, "muster token revoke: forbidden: ");
  r = muster_cli(server, {"token", "revoke", "--user", "amy", "--reason", "phone lost", "--url", u,
                          "--token", admin});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "revoked: every token of amy issued until now\n");
  EXPECT_EQ(amy->wait_closed(2s), 4001);
  r = muster_cli(server, {"token", "--role", "lead"});
  EXPECT_EQ(r.code, 2) << "minting still needs --sub";
}
