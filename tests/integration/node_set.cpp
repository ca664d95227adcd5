#include "tests/integration/node_set.hpp"

namespace muster::test {

node_set::node_set(const std::string& engine, std::vector<std::string> args) {
  auto all = auth_args();
  all.insert(all.end(), args.begin(), args.end());
  if (engine == "redis") {
    redis_ = std::make_unique<redis_process>();
    all.insert(all.end(), {"--set", "engine.type=\"redis\"", "--set",
                           "redis.address=\"127.0.0.1:" + std::to_string(redis_->port()) + "\""});
    for (int i = 0; i < 2; ++i) nodes_.push_back(std::make_unique<server_process>(all));
  } else {
    // embedded is what server_process runs by default.
    if (engine == "memory") all.insert(all.end(), {"--set", "engine.type=\"memory\""});
    nodes_.push_back(std::make_unique<server_process>(all));
  }
  ready_ = true;
  for (auto& n : nodes_)
    ready_ = ready_ && eventually([&] {
               try {
                 return http_get(n->port(), "/readyz").first == 200;
               } catch (const std::exception&) {
                 return false;
               }
             });
}

std::unique_ptr<client::blocking_client> node_set::connect(int on, const std::string& sub,
                                                           const std::string& role) {
  auto c = std::make_unique<client::blocking_client>(node(on).endpoint());
  c->connect(sub, test_token(sub, role));
  return c;
}

std::string node_set::logs() const {
  std::string all;
  for (auto& n : nodes_) all += n->log();
  return all;
}

}  // namespace muster::test
