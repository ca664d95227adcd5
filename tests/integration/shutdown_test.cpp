#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "clients/lib/blocking_client.hpp"
#include "tests/integration/server_process.hpp"

using namespace muster;
using namespace muster::test;
using namespace std::chrono_literals;

TEST(shutdown, sigterm_closes_every_websocket_with_1001_and_exits_cleanly) {
  server_process server({"--set", "server.drain_timeout_ms=5000"});
  auto a = connect_client(server, "a");
  auto b = connect_client(server, "b");
  ASSERT_FALSE(a->call("subscribe", R"("channel":"s")").is_error);
  ::kill(server.pid(), SIGTERM);
  auto ca = a->wait_closed(5s);
  auto cb = b->wait_closed(5s);
  ASSERT_TRUE(ca);
  ASSERT_TRUE(cb);
  EXPECT_EQ(*ca, 1001);
  EXPECT_EQ(*cb, 1001);
  EXPECT_EQ(server.wait_exit(5s), 0) << server.log();
}

TEST(shutdown, drain_timeout_bounds_shutdown_when_a_client_never_reads) {
  server_process server({"--set", "server.drain_timeout_ms=500"});
  auto a = connect_client(server, "a");
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(server.stop(5s), 0);  // exits even though `a` is not pumping its socket
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
}

TEST(shutdown, sighup_reloads_the_console_and_keeps_serving) {
  // A copy of the console that the test changes: SIGHUP picks the new files up, no restart.
  auto root = std::filesystem::temp_directory_path() /
              ("muster-web-" + std::to_string(::getpid()) + "-sighup");
  std::filesystem::create_directories(root);
  std::ofstream(root / "index.html") << "first";
  server_process s({"--set", "server.web_root=\"" + root.string() + "\""});
  auto c = connect_client(s, "stays");
  EXPECT_EQ(http_get(s.port(), "/").second, "first");
  std::ofstream(root / "index.html", std::ios::trunc) << "second";
  ASSERT_EQ(::kill(s.pid(), SIGHUP), 0);
  EXPECT_TRUE(eventually([&] { return http_get(s.port(), "/").second == "second"; }));
  EXPECT_NE(s.log().find("SIGHUP: web console reloaded, 1 files"), std::string::npos) << s.log();
  EXPECT_FALSE(c->call("subscribe", R"("channel":"still")").is_error) << "connections stay";
  std::filesystem::remove_all(root);
}
