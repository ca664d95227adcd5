#include <gtest/gtest.h>
#include <signal.h>

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
