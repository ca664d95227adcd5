#pragma once
// One musterd process: its I/O threads (one io_context each, sessions pinned to one), the
// engine, the routing of engine events to the threads that have subscribers, and shutdown.
// Public methods are thread-safe unless noted.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "protocol/codec.hpp"
#include "server/auth/authenticator.hpp"
#include "server/auth/jwks_fetcher.hpp"
#include "server/auth/origin_policy.hpp"
#include "server/channel_registry.hpp"
#include "server/command_table.hpp"
#include "server/config.hpp"
#include "server/crisis/service.hpp"
#include "server/engine/engine.hpp"
#include "server/metrics.hpp"
#include "server/static_files.hpp"

namespace boost::asio::ssl {
class context;
}

namespace muster::server {

namespace net = boost::asio;
class websocket_session;
class listener;

/// Everything one I/O thread owns. Only that thread touches it after start-up.
struct io_thread {
  explicit io_thread(std::size_t i, std::size_t max_data)
      : index(i), decoder(&lookup_op, max_data) {}
  /// Timers go first; then the loop (declared last), whose pending handlers may still own
  /// sessions that unregister from the members below as they are destroyed.
  ~io_thread() {
    keepalive_timer.reset();
    flush_timer.reset();
  }
  std::size_t index;
  channel_registry registry;
  protocol::decoder decoder;
  websocket_session* sessions = nullptr;  // intrusive list, for shutdown
  std::uint64_t next_client = 0;
  std::vector<char> read_buffer = std::vector<char>(64 * 1024);  // shared by the thread's sessions
  std::unique_ptr<net::steady_timer> keepalive_timer;

  // Engine events bound for this thread, in channel order. A queue of our own rather than
  // one post per event: Asio may run a post made from inside a handler after a post made
  // concurrently by another thread, which would reorder a channel.
  struct inbound {
    std::string channel;
    channel_event ev;
  };
  std::mutex inbox_mutex;
  std::vector<inbound> inbox;     // guarded by inbox_mutex
  bool drain_posted = false;      // guarded by inbox_mutex
  std::vector<inbound> draining;  // this thread only

  // Sessions with queued frames and no write in flight. Writes start from one flush handler
  // that yields while more events are still arriving (bounded), so a burst of events goes
  // out as one coalesced frame per session instead of one syscall per event.
  std::vector<std::shared_ptr<websocket_session>> dirty;
  bool flush_posted = false;
  unsigned flush_yields = 0;
  std::chrono::steady_clock::time_point flush_since;
  // Writes take at most about half the loop's time: after a flush that took T, the next
  // starts no sooner than T later, so under load each write carries more events.
  std::chrono::steady_clock::time_point flush_not_before;
  std::unique_ptr<net::steady_timer> flush_timer;
  std::uint64_t activity = 0;    // handlers that may produce output; bumped by reads and drains
  std::uint64_t flush_seen = 0;  // `activity` when the flush last looked
  net::io_context ioc{1};        // last: destroyed first (see the destructor)
};

class node final : public engine_sink {
 public:
  /// Builds the engine once the I/O threads exist; engines doing I/O run on the given loop.
  using engine_factory = std::function<std::unique_ptr<engine>(net::io_context&)>;
  node(config cfg, engine_factory make_engine);
  ~node();

  /// Binds, runs every I/O thread and blocks until shutdown completes.
  void run();
  /// Starts a graceful shutdown (also triggered by SIGINT/SIGTERM).
  void shutdown();
  /// The bound port (valid after bind, before run returns).
  std::uint16_t port() const { return port_; }
  /// The internal listener's port (server.internal_listen), 0 without one.
  std::uint16_t internal_port() const { return internal_port_; }
  /// Called once the listeners are bound (e.g. to write a port file).
  std::function<void(std::uint16_t)> on_listening;

  const config& cfg() const { return cfg_; }
  engine& eng() { return *engine_; }
  crisis::service& crisis() { return *crisis_; }
  const auth::authenticator& auth() const { return auth_; }
  const auth::origin_policy& origins() const { return origins_; }
  /// False while auth.jwks_url is set and no key set has been fetched yet (/readyz says so).
  bool keys_ready() const { return !jwks_fetcher_ || jwks_fetcher_->loaded(); }
  /// The console's files as last loaded (at start-up, and again on SIGHUP); any thread.
  std::shared_ptr<const static_files> web() const { return web_.load(); }
  /// The TLS certificate and settings as last loaded (start-up, SIGHUP); null without [tls].
  std::shared_ptr<net::ssl::context> tls_context() const { return tls_.load(); }
  metrics& stats() { return metrics_; }
  const std::string& id() const { return id_; }
  bool stopping() const { return stopping_.load(); }
  io_thread& thread(std::size_t i) { return *threads_[i]; }
  std::size_t thread_count() const { return threads_.size(); }

  /// A session on thread `t` gained the thread's first subscriber / lost its last (registry says).
  void attach(std::string_view channel, std::size_t t);
  void detach(std::string_view channel, std::size_t t);

  void on_event(std::string_view channel, const channel_event& ev) override;
  /// A WebSocket session ended (any thread); completes shutdown when it was the last.
  void session_closed();

 private:
  void stop_loops();
  static void drain(io_thread& t);
  static void flush(io_thread& t);

 public:
  /// Queues `s` for the thread's next flush (on its own thread).
  static void schedule_flush(io_thread& t, std::shared_ptr<websocket_session> s);

 private:
  void start_sweep();
  /// Loads the deny-list from the engine (again after a failure) and follows its stream.
  void watch_revocations();
  /// Every thread closes its connections whose token is now revoked (4001).
  void close_revoked();
  std::unique_ptr<net::steady_timer> revocations_retry_;
  bool revocations_read_ = false;  // thread 0
  void start_scan(bool soon = false);
  void start_keepalive(io_thread& t);
  struct route {
    std::vector<std::uint32_t> per_thread;
    std::uint32_t total = 0;
  };

  config cfg_;
  crisis::options crisis_options_;
  metrics metrics_;
  auth::authenticator auth_;
  auth::origin_policy origins_;
  // After auth_, so it stops before the authenticator it feeds goes away.
  std::unique_ptr<auth::jwks_fetcher> jwks_fetcher_;  // auth.jwks_url, if set
  // Declared before the engine so it is destroyed after it: an engine that fails its pending
  // requests as it goes away calls back into the service.
  std::unique_ptr<crisis::service> crisis_;
  std::unique_ptr<engine> engine_;
  std::atomic<std::shared_ptr<const static_files>> web_{std::make_shared<static_files>()};
  std::atomic<std::shared_ptr<net::ssl::context>> tls_;
  /// Loads server.web_root off the I/O threads and swaps it in (SIGHUP).
  void reload_web();
  std::thread web_loader_;  // the last reload; joined before the next and at the end of run()
  std::atomic<bool> reloading_{false};
  std::string id_;
  std::vector<std::unique_ptr<io_thread>> threads_;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards_;
  std::shared_ptr<listener> listener_;
  std::shared_ptr<listener> internal_listener_;  // server.internal_listen, if set
  std::unique_ptr<net::steady_timer> sweep_timer_;
  std::unique_ptr<net::steady_timer> scan_timer_;  // escalations and reminders, thread 0
  std::unique_ptr<net::steady_timer> deadline_;    // drain timeout, thread 0 only
  std::mutex routes_mutex_;
  std::unordered_map<std::string, route, string_hash, std::equal_to<>> routes_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> loops_done_{false};  // after run(): nothing may be posted any more
  std::uint16_t port_ = 0;
  std::uint16_t internal_port_ = 0;
};

}  // namespace muster::server
