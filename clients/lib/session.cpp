#include "clients/lib/session.hpp"

#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <random>

#include "clients/lib/ws_connection.hpp"
#include "protocol/codec.hpp"

namespace muster::client {

namespace net = boost::asio;
using error_code = boost::system::error_code;

struct session::impl : std::enable_shared_from_this<session::impl> {
  impl(net::io_context& c, options o) : ioc(c), opts(std::move(o)), timer(c) {}

  struct channel_state {
    std::uint64_t offset = 0;
    std::string epoch;
    bool join_leave = false;
    bool subscribed = false;  // on the current connection
  };

  net::io_context& ioc;
  options opts;
  net::steady_timer timer;
  std::unique_ptr<ws_connection> ws;
  frame_parser parser;
  state st = state::disconnected;
  bool stopped = false;
  std::chrono::milliseconds backoff{0};
  std::mt19937 rng{std::random_device{}()};
  std::uint64_t next_id = 0;
  std::map<std::uint64_t, reply_handler> pending;
  std::map<std::string, channel_state> channels;
  std::deque<std::string> out;
  bool writing = false;
  message_handler on_msg;
  state_handler on_st;
  std::uint64_t generation = 0;  // connection attempts; stale callbacks compare it

  // A publish with its idempotency key, sent again after a lost connection or an engine
  // failure until it is acknowledged (it is published once, whatever happened to a try).
  struct publish_job {
    std::string fields;
    reply_handler h;
    int attempts = 0;
  };
  static constexpr int max_publish_attempts = 6;
  std::deque<std::shared_ptr<publish_job>> unsent;  // waiting for the next connection

  void send_publish(const std::shared_ptr<publish_job>& job) {
    if (stopped) return fail(job, "session stopped");
    if (st != state::connected) return unsent.push_back(job);
    ++job->attempts;
    auto self = shared_from_this();
    send_command("publish", job->fields, [self, job](const server_message& m) {
      bool transient = m.error_code == "disconnected" || m.error_code == "unavailable" ||
                       m.error_code == "outcome_unknown" || m.error_code == "rate_limited";
      if (!m.is_error || !transient || job->attempts >= max_publish_attempts || self->stopped) {
        if (job->h) job->h(m);
        return;
      }
      if (m.error_code == "disconnected") return self->unsent.push_back(job);
      // The server is there but cannot take it now: again after a pause, with the same key.
      auto t = std::make_shared<net::steady_timer>(
          self->ioc, std::chrono::milliseconds(100 << std::min(job->attempts, 6)));
      t->async_wait([self, job, t](error_code ec) {
        if (!ec) self->send_publish(job);
      });
    });
  }

  void fail(const std::shared_ptr<publish_job>& job, const std::string& why) {
    if (!job->h) return;
    server_message m;
    m.is_error = true;
    m.error_code = "disconnected";
    m.error_message = why;
    job->h(m);
  }

  void resend_unsent() {
    auto jobs = std::move(unsent);
    unsent.clear();
    for (auto& job : jobs) send_publish(job);
  }

  void fail_unsent(const std::string& why) {
    auto jobs = std::move(unsent);
    unsent.clear();
    for (auto& job : jobs) fail(job, why);
  }

  void set_state(state s, const std::string& detail) {
    st = s;
    if (on_st) on_st(s, detail);
  }

  void connect() {
    if (stopped) return;
    ++generation;
    try {
      ws = std::make_unique<ws_connection>(ioc, opts.server, opts.tls,
                                           std::string(protocol::subprotocol));
    } catch (const client_error& e) {
      return give_up(e.what());  // the CA file: no retry reads it better
    }
    set_state(state::connecting, "connecting to " + ws->url());
    auto self = shared_from_this();
    auto gen = generation;
    // Resolve, connect, TLS (wss://) and WebSocket handshakes, within the Beast's own 30 s.
    ws->async_open(std::chrono::seconds(30), [self, gen](const open_failure* f) {
      if (gen != self->generation) return;
      if (!f) return self->on_open(gen);
      if (f->certificate_refused) return self->give_up(f->message);
      self->lost(f->message);
    });
  }

  void on_open(std::uint64_t gen) {
    do_read(gen);
    std::string fields;
    if (!opts.name.empty()) {
      fields = "\"name\":";
      protocol::append_json_string(fields, opts.name);
    }
    if (!opts.token.empty()) {
      fields += fields.empty() ? "\"token\":" : ",\"token\":";
      protocol::append_json_string(fields, opts.token);
    }
    auto self = shared_from_this();
    send_command("connect", fields, [self](const server_message& m) {
      if (m.is_error) {
        self->set_state(state::disconnected,
                        "connect refused: " + m.error_code + ": " + m.error_message);
        self->stop_connection();
        if (m.error_code == "unauthorized" || m.error_code == "bad_request")
          return self->give_up("connect refused: " + m.error_code);
        return self->schedule_reconnect();
      }
      self->backoff = std::chrono::milliseconds(0);
      self->set_state(state::connected, "connected");
      for (auto& [name, ch] : self->channels) self->send_subscribe(name);
      self->resend_unsent();
    });
  }

  void send_subscribe(const std::string& name) {
    auto& ch = channels[name];
    std::string fields = "\"channel\":";
    protocol::append_json_string(fields, name);
    if (ch.join_leave) fields += ",\"join_leave\":true";
    if (!ch.epoch.empty()) {
      fields += ",\"recover\":{\"offset\":" + std::to_string(ch.offset) + ",\"epoch\":";
      protocol::append_json_string(fields, ch.epoch);
      fields += "}";
    }
    bool had_position = !ch.epoch.empty();
    auto self = shared_from_this();
    send_command("subscribe", fields, [self, name, had_position](const server_message& m) {
      auto& c = self->channels[name];
      if (m.is_error) {
        self->set_state(self->st,
                        "subscribe " + name + " failed: " + m.error_code + ": " + m.error_message);
        return;
      }
      c.subscribed = true;
      auto recovered = json_bool(m.result, "recovered").value_or(false);
      auto offset = json_uint(m.result, "offset").value_or(0);
      auto epoch = json_string(m.result, "epoch").value_or("");
      if (had_position && !recovered)
        self->set_state(
            self->st,
            "could not recover " + name +
                ": history no longer covers the gap; messages may be missing (use history)");
      else if (had_position)
        self->set_state(self->st, "recovered " +
                                      std::to_string(json_uint(m.result, "missed").value_or(0)) +
                                      " missed message(s) on " + name);
      if (!recovered) {
        c.offset = offset;
        c.epoch = epoch;
      }
    });
  }

  void send_command(const std::string& op, const std::string& fields, reply_handler h) {
    auto id = ++next_id;
    std::string text = "{\"id\":" + std::to_string(id) + ",\"op\":\"" + op + "\"";
    if (!fields.empty()) text += "," + fields;
    text += "}";
    if (h) pending.emplace(id, std::move(h));
    out.push_back(std::move(text));
    if (!writing) do_write(generation);
  }

  void do_write(std::uint64_t gen) {
    if (out.empty() || !ws || st == state::disconnected) return;
    writing = true;
    auto self = shared_from_this();
    ws->async_write(out.front(), false, [self, gen](error_code ec) {
      if (gen != self->generation) return;
      self->writing = false;
      if (ec) return self->lost("write failed: " + ec.message());
      self->out.pop_front();
      self->do_write(gen);
    });
  }

  void do_read(std::uint64_t gen) {
    auto self = shared_from_this();
    ws->async_read([self, gen](error_code ec, std::string_view payload) {
      if (gen != self->generation) return;
      if (ec) {
        std::string why = self->ws->closed_by_server()
                              ? "server closed the connection (code " +
                                    std::to_string(self->ws->close_code()) + ")"
                              : "connection lost: " + ec.message();
        return self->lost(why);
      }
      auto msgs = self->parser.parse(payload);
      for (auto& m : msgs) self->dispatch(m);
      self->do_read(gen);
    });
  }

  void dispatch(const server_message& m) {
    if (m.id) {
      auto it = pending.find(*m.id);
      if (it == pending.end()) return;
      auto h = std::move(it->second);
      pending.erase(it);
      h(m);
      return;
    }
    if (m.event == "message") {
      auto it = channels.find(m.channel);
      if (it != channels.end()) {
        // Never hand the application the same offset twice.
        if (!it->second.epoch.empty() && m.epoch == it->second.epoch &&
            m.offset <= it->second.offset)
          return;
        it->second.offset = m.offset;
        it->second.epoch = m.epoch;
      }
    }
    if (on_msg) on_msg(m);
  }

  void stop_connection() {
    ++generation;  // callbacks of the old connection become no-ops
    writing = false;
    if (ws) ws->shutdown();
    for (auto& [name, ch] : channels) ch.subscribed = false;
    auto failed = std::move(pending);
    pending.clear();
    // Unsent commands other than subscriptions are failed, never silently dropped.
    out.clear();
    for (auto& [id, h] : failed) {
      server_message m;
      m.id = id;
      m.is_error = true;
      m.error_code = "disconnected";
      m.error_message = "connection lost before the reply";
      h(m);
    }
  }

  void lost(const std::string& why) {
    if (stopped) return;
    stop_connection();
    set_state(state::disconnected, why);
    if (opts.reconnect)
      schedule_reconnect();
    else {
      stopped = true;
      fail_unsent(why);
      set_state(state::stopped, why);
    }
  }

  // Retrying cannot help (the server said no, or its certificate is refused): stop for good.
  void give_up(const std::string& why) {
    stop_connection();
    stopped = true;
    fail_unsent(why);
    set_state(state::stopped, "giving up: " + why);
  }

  void schedule_reconnect() {
    if (stopped) return;
    backoff = backoff.count() == 0 ? opts.min_backoff : std::min(backoff * 2, opts.max_backoff);
    // Full jitter: thousands of clients must not come back in the same millisecond.
    std::uniform_int_distribution<long> d(backoff.count() / 2, backoff.count());
    timer.expires_after(std::chrono::milliseconds(d(rng)));
    auto self = shared_from_this();
    timer.async_wait([self](error_code ec) {
      if (!ec) self->connect();
    });
  }
};

session::session(net::io_context& ioc, options opts)
    : impl_(std::make_shared<impl>(ioc, std::move(opts))) {}
session::~session() = default;

std::shared_ptr<session> session::create(net::io_context& ioc, options opts) {
  return std::shared_ptr<session>(new session(ioc, std::move(opts)));
}

void session::on_message(message_handler h) {
  impl_->on_msg = std::move(h);
}
void session::on_state(state_handler h) {
  impl_->on_st = std::move(h);
}
void session::start() {
  impl_->stopped = false;
  impl_->connect();
}
void session::stop() {
  impl_->stopped = true;
  impl_->timer.cancel();
  impl_->stop_connection();
  impl_->fail_unsent("stopped");
  impl_->set_state(state::stopped, "stopped");
}

void session::subscribe(const std::string& channel, bool join_leave) {
  auto& ch = impl_->channels[channel];
  ch.join_leave = join_leave;
  if (impl_->st == state::connected && !ch.subscribed) impl_->send_subscribe(channel);
}

void session::command(const std::string& op, const std::string& fields, reply_handler h) {
  if (impl_->st != state::connected) {
    if (h) {
      server_message m;
      m.is_error = true;
      m.error_code = "disconnected";
      m.error_message = "not connected";
      h(m);
    }
    return;
  }
  impl_->send_command(op, fields, std::move(h));
}

void session::refresh(const std::string& token, reply_handler h) {
  std::string fields = "\"token\":";
  protocol::append_json_string(fields, token);
  command("refresh", fields, [self = impl_, token, h = std::move(h)](const server_message& m) {
    // Accepted, or the connection went before the answer: the next connect uses the new one.
    if (!m.is_error || m.error_code == "disconnected") self->opts.token = token;
    if (h) h(m);
  });
}

void session::publish(const std::string& channel, const std::string& data_json, reply_handler h,
                      std::string idempotency_key) {
  if (idempotency_key.empty()) {
    static constexpr char hex[] = "0123456789abcdef";
    idempotency_key = "lib-";
    for (int i = 0; i < 20; ++i) idempotency_key.push_back(hex[impl_->rng() & 15]);
  }
  auto job = std::make_shared<impl::publish_job>();
  job->fields = "\"channel\":";
  protocol::append_json_string(job->fields, channel);
  job->fields += ",\"data\":" + data_json + ",\"idempotency_key\":";
  protocol::append_json_string(job->fields, idempotency_key);
  job->h = std::move(h);
  if (impl_->stopped) return impl_->fail(job, "not connected");
  impl_->send_publish(job);
}

session::state session::current_state() const {
  return impl_->st;
}

std::pair<std::uint64_t, std::string> session::position(const std::string& channel) const {
  auto it = impl_->channels.find(channel);
  if (it == impl_->channels.end()) return {0, ""};
  return {it->second.offset, it->second.epoch};
}

}  // namespace muster::client
