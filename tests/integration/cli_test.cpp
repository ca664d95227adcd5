#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

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
