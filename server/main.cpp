// musterd: wires configuration, the engine and the node together; nothing else lives here.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <boost/asio/post.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "server/config.hpp"
#include "server/engine/embedded/embedded_engine.hpp"
#include "server/engine/embedded/sqlite.hpp"
#include "server/engine/memory_engine.hpp"
#include "server/engine/redis/redis_engine.hpp"
#include "server/log_format.hpp"
#include "server/node.hpp"

using namespace muster::server;

namespace {
// The database's directory: made if missing at start-up (`create`), only checked by
// --check-config; one that cannot be made or written is a configuration error.
void prepare_storage_dir(const std::string& path, bool create) {
  namespace fs = std::filesystem;
  auto dir = fs::absolute(path).parent_path();
  auto fail = [&](const std::string& why) {
    throw config_error({"storage.path: " + dir.string() + ": " + why});
  };
  std::error_code ec;
  if (create) {
    fs::create_directories(dir, ec);
    if (ec) fail("cannot create the directory: " + ec.message());
  }
  auto existing = dir;
  while (!fs::exists(existing, ec) && existing.has_parent_path() &&
         existing != existing.root_path())
    existing = existing.parent_path();
  if (!fs::is_directory(existing, ec)) fail("not a directory");
  if (::access(existing.c_str(), W_OK) != 0)
    fail(std::string("not writable: ") + std::strerror(errno));
}

// An installed musterd (bin/musterd) serves ../share/muster/web; one run from its build tree,
// the checkout's clients/web.
std::string default_web_root() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto installed = (exe.parent_path() / MUSTER_INSTALLED_WEB_ROOT).lexically_normal();
    if (std::filesystem::is_directory(installed, ec)) return installed.string();
  }
  return MUSTER_WEB_ROOT;
}

}  // namespace

int main(int argc, char** argv) {
  // A reload (SIGHUP) that comes while starting must not kill us: ignored until run() handles it.
  std::signal(SIGHUP, SIG_IGN);
  CLI::App app{"musterd: real-time crisis-response chat and alerting server"};
  app.set_version_flag("--version", std::string("musterd ") + MUSTER_VERSION);
  std::string config_file, check_file, port_file, listen;
  unsigned threads = 0;
  std::vector<std::string> sets;
  app.add_option("-c,--config", config_file, "TOML configuration file")->check(CLI::ExistingFile);
  app.add_option("--check-config", check_file,
                 "Validate a configuration file, print problems and exit");
  app.add_option("--listen", listen, "Address to listen on, host:port (overrides server.listen)");
  app.add_option("--threads", threads, "I/O threads, 0 = one per core (overrides server.threads)");
  app.add_option("--set", sets, "Override any key: section.key=value (repeatable)");
  app.add_option("--port-file", port_file, "Write the bound port to this file once listening");
  CLI11_PARSE(app, argc, argv);

  config cfg;
  try {
    if (!check_file.empty()) {
      load_config_file(cfg, check_file);
      if (cfg.engine == "embedded") prepare_storage_dir(cfg.storage_path, false);
      std::cout << check_file << ": OK\n";
      return 0;
    }
    if (!config_file.empty()) load_config_file(cfg, config_file);
    apply_env(cfg, process_env());
    if (!listen.empty()) sets.push_back("server.listen=\"" + listen + "\"");
    if (app.count("--threads")) sets.push_back("server.threads=" + std::to_string(threads));
    apply_overrides(cfg, sets);
    validate(cfg);
    if (cfg.web_root.empty()) cfg.web_root = default_web_root();
    if (cfg.engine == "embedded") prepare_storage_dir(cfg.storage_path, true);
  } catch (const config_error& e) {
    for (const auto& line : e.errors) std::cerr << line << "\n";
    return 2;
  }

  spdlog::set_level(spdlog::level::from_str(cfg.log_level));
  if (cfg.log_format == "json") muster::server::use_json_logs();
  // Every connection is a file descriptor: take all the process may have.
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < cfg.max_connections + 64)
    spdlog::warn(
        "open-file limit {} is below server.max_connections {}: connections past it will fail",
        rl.rlim_cur, cfg.max_connections);
  if (!cfg.auth_enabled)
    spdlog::warn(
        "AUTH IS DISABLED (auth.enabled = false): anyone who can reach {} may act as an admin. "
        "Never run this way outside a test bench.",
        cfg.listen);
  try {
    node n(cfg, [&cfg](boost::asio::io_context& ioc) -> std::unique_ptr<engine> {
      if (cfg.engine == "redis") {
        redis::redis_engine::options ro;
        auto colon = cfg.redis_address.rfind(':');
        ro.host = cfg.redis_address.substr(0, colon);
        ro.port = static_cast<std::uint16_t>(std::stoul(cfg.redis_address.substr(colon + 1)));
        ro.password = cfg.redis_password;
        ro.prefix = cfg.redis_prefix;
        ro.connect_timeout = cfg.redis_connect_timeout;
        ro.command_timeout = cfg.redis_command_timeout;
        ro.history_size = cfg.history_size;
        ro.history_ttl = cfg.history_ttl;
        ro.presence_ttl = cfg.presence_ttl;
        ro.cluster = cfg.redis_cluster;
        ro.idempotency_window = cfg.idempotency_window;
        return std::make_unique<redis::redis_engine>(ioc, ro);
      }
      if (cfg.engine == "embedded") {
        embedded::embedded_engine::options eo;
        eo.path = cfg.storage_path;
        eo.synchronous_full = cfg.storage_synchronous == "full";
        eo.history_size = cfg.history_size;
        eo.history_ttl = cfg.history_ttl;
        eo.window = cfg.storage_memory_events;
        eo.cache_mb = cfg.storage_cache_mb;
        eo.idempotency_window = cfg.idempotency_window;
        // Replies and the crisis layer's next steps run on I/O thread 0, in commit order.
        eo.complete = [&ioc](std::function<void()> fn) { boost::asio::post(ioc, std::move(fn)); };
        try {
          return std::make_unique<embedded::embedded_engine>(eo);
        } catch (const embedded::sqlite_error& e) {
          // Said plainly: which file, and what SQLite found wrong with it.
          throw std::runtime_error(std::string("embedded engine: ") + e.what());
        }
      }
      return std::make_unique<memory_engine>(
          memory_engine::options{cfg.history_size, cfg.history_ttl, cfg.idempotency_window});
    });
    n.on_listening = [&](std::uint16_t port) {
      if (port_file.empty()) return;
      std::ofstream f(port_file + ".tmp");
      f << port << "\n";
      if (n.internal_port()) f << n.internal_port() << "\n";
      f.close();
      std::rename((port_file + ".tmp").c_str(), port_file.c_str());
    };
    n.run();
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return 1;
  }
  return 0;
}
