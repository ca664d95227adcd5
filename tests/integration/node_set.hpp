#pragma once
// The servers an engine-parametrised integration test runs against, with auth on: one musterd
// on the memory or embedded engine, or two sharing a real redis-server (so the steps cross
// nodes). Owned by one test thread.
#include <memory>
#include <string>
#include <vector>

#include "clients/lib/blocking_client.hpp"
#include "tests/integration/redis_process.hpp"
#include "tests/integration/server_process.hpp"

namespace muster::test {

class node_set {
 public:
  /// `engine`: "memory", "embedded" or "redis"; `args`: further musterd arguments. Waits until
  /// every node is ready (ready() says whether they all became so).
  node_set(const std::string& engine, std::vector<std::string> args);
  bool ready() const { return ready_; }
  /// Node `i`, counted round the nodes there are.
  server_process& node(int i) { return *nodes_[static_cast<std::size_t>(i) % nodes_.size()]; }
  std::size_t size() const { return nodes_.size(); }
  /// A client connected to node `on` as `sub` with `role`.
  std::unique_ptr<client::blocking_client> connect(int on, const std::string& sub,
                                                   const std::string& role);
  /// Every node's log, for failure messages.
  std::string logs() const;

 private:
  std::unique_ptr<redis_process> redis_;
  std::vector<std::unique_ptr<server_process>> nodes_;
  bool ready_ = false;
};

}  // namespace muster::test
