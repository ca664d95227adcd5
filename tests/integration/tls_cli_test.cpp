// The CLI over TLS: against a test TLS server, --ca-file and MUSTER_CA_FILE trust a private CA
// for send, tail, the bot and bench, and a refused certificate is said clearly and not retried;
// against musterd with TLS on (tls_musterd_cli), send reaches tail, the bot pushes, bench runs.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>

#include "tests/integration/server_process.hpp"
#include "tests/integration/tls_test_server.hpp"

using namespace muster;
using namespace muster::test;
using namespace std::chrono_literals;

namespace {

struct cli_result {
  int code = -1;  // -1: still running at the deadline (then killed)
  std::string out, err;
};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The CLI running with `args`, `env` added to its environment and stdin from `input`; killed
// if still running when destroyed.
class cli_child {
 public:
  cli_child(const tls_test_certs& pki, std::vector<std::string> args,
            const std::map<std::string, std::string>& env = {}, const std::string& input = "") {
    static int n = 0;
    base_ = (pki.dir / ("cli-" + std::to_string(++n))).string();
    std::ofstream(base_ + ".in") << input;
    args.insert(args.begin(), MUSTER_CLI_PATH);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
      ::unsetenv("MUSTER_URL");
      if (!env.count("MUSTER_CA_FILE")) ::unsetenv("MUSTER_CA_FILE");
      FILE* i = std::freopen((base_ + ".in").c_str(), "r", stdin);
      FILE* o = std::freopen((base_ + ".out").c_str(), "w", stdout);
      FILE* e = std::freopen((base_ + ".err").c_str(), "w", stderr);
      (void)i, (void)o, (void)e;
      ::execv(argv[0], argv.data());
      std::_Exit(127);
    }
  }
  ~cli_child() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  cli_child(const cli_child&) = delete;
  cli_child& operator=(const cli_child&) = delete;

  pid_t pid() const { return pid_; }
  std::string out() const { return slurp(base_ + ".out"); }
  std::string err() const { return slurp(base_ + ".err"); }

  /// Waits at most `timeout` for the exit; then its code, or -1 (and it is killed).
  cli_result wait(std::chrono::milliseconds timeout = 20s) {
    cli_result r;
    int status = 0;
    for (auto deadline = std::chrono::steady_clock::now() + timeout;
         pid_ > 0 && std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(5ms))
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        pid_ = -1;
      }
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    r.out = out();
    r.err = err();
    return r;
  }

 private:
  std::string base_;
  pid_t pid_ = -1;
};

cli_result run_cli(const tls_test_certs& pki, std::vector<std::string> args,
                   const std::map<std::string, std::string>& env = {},
                   const std::string& input = "") {
  return cli_child(pki, std::move(args), env, input).wait();
}

std::string url(const std::string& scheme, const tls_test_server& s,
                const std::string& host = "127.0.0.1") {
  return scheme + "://" + host + ":" + std::to_string(s.port());
}

const char* posts =
    R"({"id":"p1","source":"x","url":"https://x.com/a/status/1","text":"kettle fire"})"
    "\n"
    R"({"id":"p2","source":"x","url":"https://x.com/a/status/2","text":"smoke"})"
    "\n";

}  // namespace

TEST(tls_cli, send_over_wss_trusts_the_ca_of_ca_file_or_MUSTER_CA_FILE) {
  tls_test_certs pki;
  tls_test_server server(pki.valid);
  auto flag = run_cli(pki, {"send", "ops", "hello", "--url", url("wss", server) + "/ws",
                            "--ca-file", pki.ca.ca_file()});
  EXPECT_EQ(flag.code, 0) << flag.err;
  EXPECT_NE(flag.out.find("published ops"), std::string::npos) << flag.out;
  // The https:// form of the same server, and the CA from the environment.
  auto env = run_cli(pki, {"send", "ops", "hello", "--url", url("https", server)},
                     {{"MUSTER_CA_FILE", pki.ca.ca_file()}});
  EXPECT_EQ(env.code, 0) << env.err;
  EXPECT_EQ(server.handshakes(), 2);
}

TEST(tls_cli, send_says_why_a_certificate_is_refused_and_does_not_retry) {
  tls_test_certs pki;
  tls_test_server server(pki.valid);
  auto r = run_cli(pki, {"send", "ops", "hello", "--url", url("wss", server), "--attempts", "5"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(
      r.err.find("muster send: TLS handshake with 127.0.0.1:" + std::to_string(server.port()) +
                 " failed: certificate verify failed (unable to get local issuer "
                 "certificate)"),
      std::string::npos)
      << r.err;
  EXPECT_EQ(server.connections(), 1);
}

TEST(tls_cli, tail_gives_up_on_a_certificate_for_another_name) {
  tls_test_certs pki;
  tls_test_server server(pki.wrong_name);
  auto r = run_cli(pki, {"tail", "ops", "--url", url("wss", server, "localhost"), "--ca-file",
                         pki.ca.ca_file()});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("certificate verify failed (hostname mismatch)"), std::string::npos)
      << r.err;
  EXPECT_EQ(server.handshakes(), 0);
}

TEST(tls_cli, bot_pushes_over_https_with_ca_file) {
  tls_test_certs pki;
  tls_test_server server(pki.valid);
  server.set_http_reply(R"({"alert":{"id":"a-1"},"deduplicated":false})");
  auto r = run_cli(
      pki, {"bot", "--url", url("https", server), "--ca-file", pki.ca.ca_file(), "--input", "-"},
      {}, posts);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("sent 2 (2 new"), std::string::npos) << r.out;
  EXPECT_EQ(server.http_requests(), 2);
}

TEST(tls_cli, bot_stops_at_a_refused_certificate) {
  tls_test_certs pki;
  tls_test_server server(pki.expired);
  auto r = run_cli(pki, {"bot", "--url", url("https", server), "--input", "-"},
                   {{"MUSTER_CA_FILE", pki.ca.ca_file()}}, posts);
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("certificate verify failed (certificate has expired)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.err.find("muster bot: stopped: "), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("retry"), std::string::npos) << r.out;
  EXPECT_EQ(server.connections(), 1);  // one post tried once, the next not at all
}

TEST(tls_cli, bench_subscribers_connect_over_wss) {
  tls_test_certs pki;
  tls_test_server server(pki.valid);
  auto ok = run_cli(pki, {"bench", "--url", url("wss", server) + "/ws", "--ca-file",
                          pki.ca.ca_file(), "-n", "3", "-m", "0"});
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("subscribers: 3/3 subscribed"), std::string::npos) << ok.out;
  auto refused = run_cli(pki, {"bench", "--url", url("wss", server) + "/ws", "-n", "3", "-m", "0"});
  EXPECT_EQ(refused.code, 1) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("subscriber: TLS handshake with 127.0.0.1:" +
                             std::to_string(server.port()) + " failed: certificate verify failed"),
            std::string::npos)
      << refused.err;
}

TEST(tls_musterd_cli, send_reaches_tail_over_wss) {
  tls_test_certs pki;
  server_process s(musterd_tls_args(pki.valid));
  auto wss = "wss://localhost:" + std::to_string(s.port()) + "/ws";
  cli_child tail(pki, {"tail", "ops", "--url", wss, "--name", "watcher", "--json"},
                 {{"MUSTER_CA_FILE", pki.ca.ca_file()}});
  client::blocking_client probe(client::parse_url(wss), client::tls_options{pki.ca.ca_file()});
  probe.connect("probe");
  ASSERT_TRUE(eventually([&] {
    return probe.call("presence", R"("channel":"ops")").result.find("watcher") != std::string::npos;
  })) << tail.err();
  auto send =
      run_cli(pki, {"send", "ops", "sent over tls", "--url", wss, "--ca-file", pki.ca.ca_file()});
  ASSERT_EQ(send.code, 0) << send.err;
  EXPECT_NE(send.out.find("published ops #1"), std::string::npos) << send.out;
  EXPECT_TRUE(eventually([&] { return tail.out().find("sent over tls") != std::string::npos; }))
      << tail.out() << tail.err();
  ::kill(tail.pid(), SIGTERM);
  EXPECT_EQ(tail.wait(5s).code, 0);
}

TEST(tls_musterd_cli, bot_pushes_alerts_over_https) {
  tls_test_certs pki;
  server_process s(musterd_tls_args(pki.valid, auth_args()));
  auto r = run_cli(pki,
                   {"bot", "--url", "https://127.0.0.1:" + std::to_string(s.port()), "--token",
                    test_token("scout", "bot"), "--ca-file", pki.ca.ca_file(), "--input", "-"},
                   {}, posts);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("sent p1 -> alert a-"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sent 2 (2 new"), std::string::npos) << r.out;
}

TEST(tls_musterd_cli, bench_over_wss_delivers_everything) {
  tls_test_certs pki;
  server_process s(musterd_tls_args(pki.valid));
  auto r = run_cli(pki, {"bench", "--url", "wss://127.0.0.1:" + std::to_string(s.port()) + "/ws",
                         "--ca-file", pki.ca.ca_file(), "-n", "3", "-m", "20"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("subscribers: 3/3 subscribed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("deliveries: 60/60"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("lost: 0, duplicates: 0"), std::string::npos) << r.out;
}
