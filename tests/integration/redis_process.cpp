#include "tests/integration/redis_process.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

#include <random>
#include <stdexcept>
#include <thread>

namespace muster::test {

namespace fs = std::filesystem;
namespace net = boost::asio;

std::uint16_t free_port() {
  net::io_context ioc;
  net::ip::tcp::acceptor a(ioc, {net::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

namespace {
bool answers_ping(std::uint16_t port) {
  try {
    net::io_context ioc;
    net::ip::tcp::socket s(ioc);
    s.connect({net::ip::make_address("127.0.0.1"), port});
    net::write(s, net::buffer(std::string("PING\r\n")));
    std::string reply;
    net::read_until(s, net::dynamic_buffer(reply), "\r\n");
    return reply.rfind("+PONG", 0) == 0 || reply.rfind("-NOAUTH", 0) == 0;
  } catch (const std::exception&) {
    return false;
  }
}
}  // namespace

redis_process::redis_process(std::vector<std::string> args) : args_(std::move(args)) {
  std::random_device rd;
  dir_ = fs::temp_directory_path() /
         ("muster-redis-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(dir_);
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = free_port();
    try {
      launch();
      return;
    } catch (const std::exception&) {
      if (attempt == 4) {
        std::error_code ec;
        fs::remove_all(dir_, ec);  // the destructor will not run
        throw;
      }
    }
  }
}

void redis_process::launch() {
  std::vector<std::string> argv_s = {"/usr/bin/redis-server",
                                     "--port",
                                     std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--dir",
                                     dir_.string(),
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--enable-debug-command",
                                     "yes",
                                     "--daemonize",
                                     "no",
                                     "--logfile",
                                     (dir_ / "redis.log").string()};
  argv_s.insert(argv_s.end(), args_.begin(), args_.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // If the test process dies (a timeout kill, a crash), so does this child: no orphans.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (answers_ping(port_)) return;
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("redis-server exited at start-up (port taken?)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill_hard();
  throw std::runtime_error("redis-server did not answer in time");
}

std::string redis_process::command(const std::string& inline_command) const {
  net::io_context ioc;
  net::ip::tcp::socket s(ioc);
  s.connect({net::ip::make_address("127.0.0.1"), port_});
  net::write(s, net::buffer(inline_command + "\r\n"));
  std::string reply;
  net::read_until(s, net::dynamic_buffer(reply), "\r\n");
  auto line = reply.substr(0, reply.find("\r\n"));
  if (line.empty() || line[0] != '$' || line == "$-1") return line;
  // A bulk string: its payload follows the length line.
  auto len = std::stoul(line.substr(1));
  auto need = line.size() + 2 + len + 2;
  if (reply.size() < need)
    net::read(s, net::dynamic_buffer(reply), net::transfer_exactly(need - reply.size()));
  return reply.substr(line.size() + 2, len);
}

void redis_process::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void redis_process::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int status;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill_hard();
}

void redis_process::restart() {
  stop();
  launch();
}

redis_process::~redis_process() {
  stop();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

}  // namespace muster::test

namespace muster::test {

redis_cluster::redis_cluster() {
  for (int i = 0; i < 3; ++i)
    nodes_.push_back(std::make_unique<redis_process>(
        std::vector<std::string>{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                                 "--cluster-node-timeout", "2000"}));
  std::string cmd = "/usr/bin/redis-cli --cluster create";
  for (auto& n : nodes_) cmd += " 127.0.0.1:" + std::to_string(n->port());
  cmd += " --cluster-replicas 0 --cluster-yes > " + (nodes_[0]->dir() / "create.log").string() +
         " 2>&1";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("redis-cli --cluster create failed");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    bool all = true;
    for (auto& n : nodes_) {
      try {
        all = all && n->cluster_ok();
      } catch (const std::exception&) {
        all = false;
      }
    }
    if (all) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  throw std::runtime_error("the cluster did not reach cluster_state:ok");
}

bool redis_process::cluster_ok() const {
  net::io_context ioc;
  net::ip::tcp::socket s(ioc);
  s.connect({net::ip::make_address("127.0.0.1"), port_});
  net::write(s, net::buffer(std::string("CLUSTER INFO\r\n")));
  std::string reply;
  boost::system::error_code ec;
  net::read_until(s, net::dynamic_buffer(reply), "cluster_state:", ec);
  net::read_until(s, net::dynamic_buffer(reply), "\r\n", ec);
  return reply.find("cluster_state:ok") != std::string::npos;
}

}  // namespace muster::test
