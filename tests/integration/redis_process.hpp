#pragma once
// Starts a real redis-server on a free loopback port in its own temp dir; stops it by PID.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace muster::test {

class redis_process {
 public:
  /// `args`: extra redis-server arguments (e.g. {"--appendonly", "yes"}).
  explicit redis_process(std::vector<std::string> args = {});
  ~redis_process();
  redis_process(const redis_process&) = delete;
  redis_process& operator=(const redis_process&) = delete;

  std::uint16_t port() const { return port_; }
  const std::filesystem::path& dir() const { return dir_; }
  /// SIGKILL (a crash) or SIGTERM (a clean stop), then wait.
  void kill_hard();
  void stop();
  /// Starts again on the same port and directory.
  void restart();
  /// Sends one inline command (e.g. "CLIENT KILL TYPE pubsub") and returns the reply line.
  std::string command(const std::string& inline_command) const;
  /// CLUSTER INFO says cluster_state:ok.
  bool cluster_ok() const;

 private:
  void launch();
  std::filesystem::path dir_;
  std::vector<std::string> args_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

/// A free loopback TCP port (bound, read, released; callers retry if it is taken meanwhile).
std::uint16_t free_port();

}  // namespace muster::test

namespace muster::test {

/// A local Redis Cluster of three masters (no replicas), created with redis-cli.
class redis_cluster {
 public:
  redis_cluster();
  std::uint16_t seed_port() const { return nodes_.front()->port(); }
  redis_process& node(std::size_t i) { return *nodes_[i]; }

 private:
  std::vector<std::unique_ptr<redis_process>> nodes_;
};

}  // namespace muster::test
