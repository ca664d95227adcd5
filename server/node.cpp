#include "server/node.hpp"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include <fstream>
#include <random>
#include <stdexcept>

#include "server/crisis/revocations.hpp"
#include "server/listener.hpp"
#include "server/tls_context.hpp"
#include "server/websocket_session.hpp"
#include "server/ws_framing.hpp"

namespace muster::server {

namespace {
std::string random_node_id() {
  std::mt19937_64 rng{std::random_device{}()};
  static constexpr char chars[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string id(6, '0');
  for (auto& c : id) c = chars[rng() % 36];
  return id;
}

// An identity provider's key set from `path`; throws naming the file when it cannot be used.
std::shared_ptr<const auth::key_set> load_key_set(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("auth.jwks_file " + path + ": cannot be read");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto parsed = auth::key_set::parse(text);
  if (auto* why = std::get_if<std::string>(&parsed))
    throw std::runtime_error("auth.jwks_file " + path + ": " + *why);
  auto keys = std::make_shared<const auth::key_set>(std::move(std::get<auth::key_set>(parsed)));
  spdlog::info("auth: {} keys from {}", keys->size(), path);
  return keys;
}

// The authenticator's keys: the shared secret, and an identity provider's key set read from
// auth.jwks_file at start-up (a file that cannot be used stops start-up, naming it).
auth::authenticator::options auth_options(const config& cfg) {
  auth::authenticator::options o{
      cfg.auth_enabled,
      cfg.auth_secret,
      cfg.auth_leeway,
      nullptr,
      cfg.auth_issuer,
      cfg.auth_audience,
      {cfg.auth_role_claim, cfg.auth_name_claim, cfg.auth_channels_claim}};
  if (!cfg.auth_enabled || (cfg.auth_jwks_file.empty() && cfg.auth_jwks_url.empty())) return o;
  // From a URL: none until the first fetch (tokens then name an unknown key id).
  o.jwks = cfg.auth_jwks_url.empty() ? load_key_set(cfg.auth_jwks_file)
                                     : std::make_shared<const auth::key_set>();
  if (cfg.auth_audience.empty())
    spdlog::warn(
        "auth: an identity provider's keys without auth.audience: tokens the provider issued "
        "for any other application are accepted too");
  return o;
}
tls_files tls_settings(const config& cfg) {
  return {cfg.tls_cert_file, cfg.tls_key_file, cfg.tls_min_version};
}
}  // namespace

node::node(config cfg, engine_factory make_engine)
    : cfg_(std::move(cfg)),
      crisis_options_(cfg_.crisis_options()),
      metrics_(cfg_.threads ? cfg_.threads : std::max(1u, std::thread::hardware_concurrency())),
      auth_(auth_options(cfg_), metrics_),
      origins_(cfg_.allowed_origins),
      id_(random_node_id()) {
  if (cfg_.auth_enabled && !cfg_.auth_jwks_url.empty()) {
    jwks_fetcher_ = std::make_unique<auth::jwks_fetcher>(
        auth::jwks_fetcher::options{cfg_.auth_jwks_url, cfg_.auth_jwks_ca_file,
                                    cfg_.auth_jwks_refresh},
        [this](std::shared_ptr<const auth::key_set> keys) { auth_.replace_keys(std::move(keys)); },
        metrics_);
    auth_.on_unknown_key([f = jwks_fetcher_.get()] { f->key_missing(); });
  }
  unsigned n = cfg_.threads ? cfg_.threads : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i)
    threads_.push_back(std::make_unique<io_thread>(i, cfg_.max_message_bytes));
  engine_ = make_engine(threads_[0]->ioc);
  crisis_ = std::make_unique<crisis::service>(*engine_, crisis_options_, metrics_);
  if (!cfg_.web_root.empty() && cfg_.web_root != "none") {
    try {
      auto files = std::make_shared<const static_files>(cfg_.web_root);
      spdlog::info("web console: {} files from {}", files->size(), cfg_.web_root);
      web_.store(std::move(files));
    } catch (const std::exception& e) {
      // The server is still useful without its console: say so and go on.
      spdlog::warn("web console not served: {}", e.what());
    }
  }
  if (cfg_.tls()) {
    tls_.store(make_tls_context(tls_settings(cfg_)));
    spdlog::info("tls: {} (from {})", describe_certificate(*tls_.load()), cfg_.tls_cert_file);
  }
  auto address = net::ip::make_address(cfg_.host());
  listener_ = std::make_shared<listener>(*this, net::ip::tcp::endpoint(address, cfg_.port()));
  port_ = listener_->port();
  if (!cfg_.internal_listen.empty()) {
    auto where = net::ip::make_address(config::host_of(cfg_.internal_listen));
    internal_listener_ = std::make_shared<listener>(
        *this, net::ip::tcp::endpoint(where, config::port_of(cfg_.internal_listen)),
        listener_role::internal);
    internal_port_ = internal_listener_->port();
  }
}

node::~node() {
  if (web_loader_.joinable()) web_loader_.join();
  // Sessions still owned by pending handlers are released while everything they unregister
  // from (routes, engine, registries) still exists.
  loops_done_ = true;
  guards_.clear();
  listener_.reset();
  internal_listener_.reset();
  sweep_timer_.reset();
  scan_timer_.reset();
  revocations_retry_.reset();
  deadline_.reset();
  threads_.clear();
}

void node::run() {
  engine_->start(*this);
  if (jwks_fetcher_) jwks_fetcher_->start();
  for (auto& t : threads_) guards_.emplace_back(t->ioc.get_executor());
  if (cfg_.auth_enabled) {
    engine_->subscribe(crisis::revocations::channel);
    watch_revocations();
  }
  listener_->run();
  if (internal_listener_) internal_listener_->run();
  spdlog::info("musterd {} node {} listening on {}:{}{} with {} I/O threads, {} engine",
               MUSTER_VERSION, id_, cfg_.host(), port_, tls_.load() ? " (TLS)" : "",
               threads_.size(), cfg_.engine);
  if (internal_listener_)
    spdlog::info("internal listener (health checks, metrics) on {}:{}",
                 config::host_of(cfg_.internal_listen), internal_port_);
  if (on_listening) on_listening(port_);

  net::signal_set signals(threads_[0]->ioc, SIGINT, SIGTERM, SIGHUP);
  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        reload_web();
        return wait_signal();
      }
      if (stopping_)
        spdlog::info("signal {}: already shutting down", sig);
      else
        spdlog::info("signal {}: shutting down", sig);
      shutdown();
      wait_signal();  // a second signal must not kill us mid-drain
    });
  };
  wait_signal();
  start_sweep();
  start_scan();
  for (auto& t : threads_) start_keepalive(*t);

  std::vector<std::thread> workers;
  for (std::size_t i = 1; i < threads_.size(); ++i)
    workers.emplace_back([this, i] {
      metrics_.bind_thread(i);
      threads_[i]->ioc.run();
    });
  metrics_.bind_thread(0);
  threads_[0]->ioc.run();
  for (auto& w : workers) w.join();
  if (web_loader_.joinable()) web_loader_.join();
  loops_done_ = true;
  engine_->stop();
  spdlog::info("musterd stopped");
}

void node::watch_revocations() {
  // Read again every 5 s, as well as followed live: a node whose Redis subscription was down
  // when a revocation was announced (or not yet up at start) still learns of it.
  auto again = [this](std::chrono::seconds after) {
    if (!revocations_retry_)
      revocations_retry_ = std::make_unique<net::steady_timer>(threads_[0]->ioc);
    revocations_retry_->expires_after(after);
    revocations_retry_->async_wait([this](boost::system::error_code e) {
      if (!e && !stopping_) watch_revocations();
    });
  };
  engine_->list_docs(
      crisis::revocations::channel, "", [this, again](std::error_code ec, std::vector<doc> docs) {
        if (stopping_) return;
        if (ec) {
          // Revoked tokens must not come back with a restart: keep asking until it answers.
          if (!revocations_read_)
            spdlog::error("auth: revocations not read ({}); trying again", ec.message());
          return again(std::chrono::seconds(1));
        }
        auto before = auth_.revocations().size();
        for (const auto& d : docs) auth_.revocations().apply(d.value);
        auto now = auth_.revocations().size();
        if (!revocations_read_ && now) spdlog::info("auth: {} revocations in force", now);
        // Connections accepted before the list was read, or since a missed announcement.
        if (!revocations_read_ || now != before) close_revoked();
        revocations_read_ = true;
        again(std::chrono::seconds(5));
      });
}

void node::close_revoked() {
  for (auto& tp : threads_) {
    auto& t = *tp;
    net::post(t.ioc, [&t] {
      std::vector<std::shared_ptr<websocket_session>> all;
      for (auto* s = t.sessions; s; s = s->next_) all.push_back(s->shared_from_this());
      for (auto& s : all) s->check_token();
    });
  }
}

void node::reload_web() {
  // Read on a thread of its own: no disk wait on an I/O thread; the old files and keys serve
  // meanwhile. Never joined while running: a reload still under way makes this one a no-op.
  if (reloading_.exchange(true)) return spdlog::warn("SIGHUP: a reload is still running");
  if (web_loader_.joinable()) web_loader_.join();  // finished: reloading_ was false
  web_loader_ = std::thread([this] {
    if (cfg_.web_root.empty() || cfg_.web_root == "none") {
      spdlog::info("SIGHUP: no console to reload (server.web_root = \"none\")");
    } else {
      try {
        auto files = std::make_shared<const static_files>(cfg_.web_root);
        spdlog::info("SIGHUP: web console reloaded, {} files from {}", files->size(),
                     cfg_.web_root);
        web_.store(std::move(files));
      } catch (const std::exception& e) {
        spdlog::error("SIGHUP: web console not reloaded, the old files stay: {}", e.what());
      }
    }
    // A renewed certificate: new connections use it, open ones keep theirs.
    if (cfg_.tls()) {
      try {
        auto ctx = make_tls_context(tls_settings(cfg_));
        spdlog::info("SIGHUP: tls certificate reloaded: {}", describe_certificate(*ctx));
        tls_.store(std::move(ctx));
      } catch (const std::exception& e) {
        spdlog::error("SIGHUP: tls certificate not reloaded, the old one stays: {}", e.what());
      }
    }
    // The identity provider rotates its keys: the new set replaces the old one.
    if (jwks_fetcher_) jwks_fetcher_->key_missing();  // fetched again (within a few seconds)
    if (cfg_.auth_enabled && !cfg_.auth_jwks_file.empty()) {
      try {
        auth_.replace_keys(load_key_set(cfg_.auth_jwks_file));
      } catch (const std::exception& e) {
        spdlog::error("SIGHUP: keys not reloaded, the old ones stay: {}", e.what());
      }
    }
    reloading_ = false;
  });
}

void node::start_sweep() {
  sweep_timer_ = std::make_unique<net::steady_timer>(threads_[0]->ioc, std::chrono::seconds(10));
  sweep_timer_->async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_) return;
    engine_->sweep();
    start_sweep();
  });
}

void node::start_scan(bool soon) {
  if (!scan_timer_) scan_timer_ = std::make_unique<net::steady_timer>(threads_[0]->ioc);
  // Work left over from a full pass is taken soon, so a steady load never falls behind (not at
  // once: items that keep failing must not spin the thread).
  auto soon_after = std::min(cfg_.scan_interval, std::chrono::milliseconds(20));
  scan_timer_->expires_after(soon ? soon_after : cfg_.scan_interval);
  scan_timer_->async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_) return;
    // The next pass is armed only once this one finished: passes never overlap.
    crisis_->scan([this](bool more) {
      if (loops_done_ || stopping_) return;
      net::post(threads_[0]->ioc, [this, more] {
        if (!stopping_) start_scan(more);
      });
    });
  });
}

void node::start_keepalive(io_thread& t) {
  // One timer per thread instead of one per connection: idle connections cost no timer.
  auto period = std::max(std::chrono::milliseconds(100), cfg_.idle_timeout / 4);
  if (!t.keepalive_timer) t.keepalive_timer = std::make_unique<net::steady_timer>(t.ioc);
  t.keepalive_timer->expires_after(period);
  t.keepalive_timer->async_wait([this, &t](boost::system::error_code ec) {
    if (ec || stopping_) return;
    auto now = std::chrono::steady_clock::now();
    std::vector<std::shared_ptr<websocket_session>> all;
    for (auto* s = t.sessions; s; s = s->next_) all.push_back(s->shared_from_this());
    for (auto& s : all) s->check_idle(now);
    start_keepalive(t);
  });
}

void node::shutdown() {
  if (stopping_.exchange(true)) return;
  // Runs on thread 0; each thread closes its own sessions.
  net::post(threads_[0]->ioc, [this] {
    listener_->stop();
    if (internal_listener_) internal_listener_->stop();
    if (sweep_timer_) sweep_timer_->cancel();
    if (scan_timer_) scan_timer_->cancel();
    if (revocations_retry_) revocations_retry_->cancel();
    for (auto& t : threads_) {
      net::post(t->ioc, [t = t.get()] {
        if (t->keepalive_timer) t->keepalive_timer->cancel();
        std::vector<std::shared_ptr<websocket_session>> all;
        for (auto* s = t->sessions; s; s = s->next_) all.push_back(s->shared_from_this());
        for (auto& s : all) s->go_away();
      });
    }
    guards_.clear();
    deadline_ = std::make_unique<net::steady_timer>(threads_[0]->ioc, cfg_.drain_timeout);
    deadline_->async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      spdlog::warn("drain timeout reached; stopping with {} connections open",
                   metrics_.connections.load());
      stop_loops();
    });
    if (metrics_.connections.load() <= 0) stop_loops();
  });
}

void node::session_closed() {
  if (loops_done_.load()) return;
  if (stopping_.load() && metrics_.connections.load() <= 0)
    net::post(threads_[0]->ioc, [this] { stop_loops(); });
}

void node::stop_loops() {
  // Every WebSocket has been closed (or the drain timeout passed): idle HTTP keep-alive
  // connections and timers must not hold the process.
  if (deadline_) deadline_->cancel();
  for (auto& t : threads_) t->ioc.stop();
}

void node::attach(std::string_view channel, std::size_t t) {
  std::lock_guard lock(routes_mutex_);
  auto it = routes_.find(channel);
  if (it == routes_.end()) {
    it = routes_.emplace(std::string(channel), route{}).first;
    it->second.per_thread.resize(threads_.size());
  }
  ++it->second.per_thread[t];
  if (it->second.total++ == 0) {
    metrics_.channels.fetch_add(1, std::memory_order_relaxed);
    engine_->subscribe(channel);  // engines only queue work here: safe under our lock
  }
}

void node::detach(std::string_view channel, std::size_t t) {
  std::lock_guard lock(routes_mutex_);
  auto it = routes_.find(channel);
  if (it == routes_.end() || it->second.per_thread[t] == 0) return;
  --it->second.per_thread[t];
  if (--it->second.total == 0) {
    routes_.erase(it);
    metrics_.channels.fetch_sub(1, std::memory_order_relaxed);
    engine_->unsubscribe(channel);
  }
}

void node::on_event(std::string_view channel, const channel_event& json_event) {
  if (channel == crisis::revocations::channel) {
    // A revocation from any node: into the deny-list, then off with its connections.
    simdjson::dom::parser parser;
    simdjson::dom::element e, data;
    if (!parser.parse(*json_event.frame).get(e) && !e["data"].get(data) &&
        auth_.revocations().apply(simdjson::minify(data))) {
      spdlog::info("auth: revocation: {}", simdjson::minify(data));
      close_revoked();
    }
    return;
  }
  std::lock_guard lock(routes_mutex_);
  auto it = routes_.find(channel);
  if (it == routes_.end()) return;
  // Framed once here: every local recipient on every thread writes these same bytes.
  channel_event ev = json_event;
  ev.frame = std::make_shared<const std::string>(ws::frame(ws::opcode::text, *json_event.frame));
  for (std::size_t i = 0; i < threads_.size(); ++i) {
    if (it->second.per_thread[i] == 0) continue;
    auto& t = *threads_[i];
    std::lock_guard inbox_lock(t.inbox_mutex);
    t.inbox.push_back({std::string(channel), ev});
    // One wake-up per burst: events queued meanwhile ride along.
    if (!t.drain_posted) {
      t.drain_posted = true;
      net::post(t.ioc, [&t] { drain(t); });
    }
  }
}

void node::drain(io_thread& t) {
  ++t.activity;
  {
    std::lock_guard lock(t.inbox_mutex);
    t.draining.swap(t.inbox);
    t.drain_posted = false;
  }
  for (auto& item : t.draining) t.registry.deliver(item.channel, item.ev);
  t.draining.clear();
  if (t.draining.capacity() > 4096) decltype(t.draining)().swap(t.draining);
}

void node::schedule_flush(io_thread& t, std::shared_ptr<websocket_session> s) {
  t.dirty.push_back(std::move(s));
  if (!t.flush_posted) {
    t.flush_posted = true;
    t.flush_since = std::chrono::steady_clock::now();
    t.flush_seen = t.activity;
    net::post(t.ioc, [&t] { flush(t); });
  }
}

void node::flush(io_thread& t) {
  constexpr unsigned max_yields = 4096;
  constexpr auto max_delay = std::chrono::microseconds(10000);
  // Like a cork released at the end of an event-loop turn: while other handlers keep running
  // (reads of commands, drains of events) the flush steps back so their output joins this
  // batch; once a turn passes with nothing else to do, or the delay bound is hit, it writes.
  bool more_coming = t.activity != t.flush_seen;
  t.flush_seen = t.activity;
  if (!more_coming) {
    std::lock_guard lock(t.inbox_mutex);
    more_coming = t.drain_posted;
  }
  if (more_coming && t.flush_yields < max_yields &&
      std::chrono::steady_clock::now() - t.flush_since < max_delay) {
    ++t.flush_yields;
    net::post(t.ioc, [&t] { flush(t); });
    return;
  }
  auto start = std::chrono::steady_clock::now();
  if (start < t.flush_not_before) {
    if (!t.flush_timer) t.flush_timer = std::make_unique<net::steady_timer>(t.ioc);
    t.flush_timer->expires_at(t.flush_not_before);
    t.flush_timer->async_wait([&t](boost::system::error_code ec) {
      if (!ec) flush(t);
    });
    t.flush_not_before = {};  // the timer has taken the wait: run when it fires
    return;
  }
  t.flush_yields = 0;
  t.flush_posted = false;
  auto batch = std::move(t.dirty);
  t.dirty.clear();
  for (auto& s : batch) s->start_write();
  auto end = std::chrono::steady_clock::now();
  // Short flushes (light load) impose nothing; long ones leave as much time for reading.
  if (end - start > std::chrono::microseconds(200)) t.flush_not_before = end + (end - start) / 2;
}

}  // namespace muster::server
