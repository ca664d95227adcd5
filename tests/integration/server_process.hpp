#pragma once
// Starts a real musterd on a free loopback port in its own temp dir, and stops it (by PID).
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "clients/lib/blocking_client.hpp"

namespace muster::test {

class server_process {
 public:
  /// `args` are extra musterd arguments, e.g. {"--set", "limits.publish_rate=5"};
  /// `max_open_files`: the child's RLIMIT_NOFILE (0: inherited).
  explicit server_process(std::vector<std::string> args = {}, unsigned max_open_files = 0);
  ~server_process();
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  std::uint16_t port() const { return port_; }
  /// server.internal_listen's port (0 without one).
  std::uint16_t internal_port() const { return internal_port_; }
  client::endpoint endpoint() const { return {"127.0.0.1", port_, "/ws"}; }
  pid_t pid() const { return pid_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::string log() const;

  /// Sends SIGTERM and waits; returns the exit status (or -1 if it had to be killed).
  int stop(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool running();
  /// SIGKILL: the node dies without a goodbye.
  void kill_hard();
  /// Waits for the process to exit by itself; returns its exit status, or nullopt at the deadline.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::uint16_t internal_port_ = 0;
};

/// A client connected and "connect"ed as `name`.
std::unique_ptr<client::blocking_client> connect_client(const server_process& s,
                                                        const std::string& name);

/// One HTTP GET on loopback; returns {status, body}.
std::pair<int, std::string> http_get(std::uint16_t port, const std::string& target);

struct http_reply {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};
/// One HTTP request on loopback with an optional Bearer token and JSON body.
http_reply http_request(std::uint16_t port, const std::string& method, const std::string& target,
                        const std::string& body = "", const std::string& bearer = "",
                        const std::map<std::string, std::string>& headers = {});

/// An HS256 token for the test secret (see `test_secret`), valid for an hour unless told.
inline constexpr const char* test_secret = "integration-test-secret-0123456789";
std::string test_token(const std::string& sub, const std::string& role,
                       std::vector<std::string> channels = {},
                       std::chrono::seconds ttl = std::chrono::hours(1));
/// musterd arguments that turn auth on with `test_secret`.
std::vector<std::string> auth_args();

/// Waits for `pred` with a deadline, polling; returns its last value.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace muster::test
