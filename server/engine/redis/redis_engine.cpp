#include "server/engine/redis/redis_engine.hpp"

#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <random>
#include <utility>

#include "protocol/event_frame.hpp"
#include "server/engine/redis/lua_scripts.hpp"
#include "server/engine/redis/replies.hpp"

namespace muster::server::redis {

namespace net = boost::asio;

namespace {

std::string sha1_hex(const std::string& s) {
  unsigned char d[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : d) {
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 15]);
  }
  return out;
}

// The scripts that use lib.lua get it prepended.
lua_script make_script(std::string_view body, bool with_lib) {
  std::string text = with_lib ? std::string(lua::lib_lua) + std::string(body) : std::string(body);
  auto digest = sha1_hex(text);
  return {std::move(text), std::move(digest)};
}

const lua_script publish_script = make_script(lua::publish_lua, true);
const lua_script commit_script = make_script(lua::commit_lua, true);
const lua_script history_script = make_script(lua::history_lua, true);
const lua_script read_docs_script = make_script(lua::read_docs_lua, false);
const lua_script list_docs_script = make_script(lua::list_docs_lua, false);
const lua_script index_put_script = make_script(lua::index_put_lua, false);
const lua_script index_remove_script = make_script(lua::index_remove_lua, false);
const lua_script index_put_earlier_script = make_script(lua::index_put_earlier_lua, false);
const lua_script index_replace_script = make_script(lua::index_replace_lua, false);
const lua_script index_range_script = make_script(lua::index_range_lua, false);
const lua_script join_script = make_script(lua::presence_join_lua, false);
const lua_script leave_script = make_script(lua::presence_leave_lua, false);
const lua_script presence_script = make_script(lua::presence_lua, false);
const lua_script ephemeral_set_script = make_script(lua::ephemeral_set_lua, false);
const lua_script ephemeral_list_script = make_script(lua::ephemeral_list_lua, false);

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ms(std::chrono::milliseconds d) {
  return std::to_string(d.count());
}

std::string describe(const reply_ptr& r) {
  return r ? std::string(text(*r)) : std::string();
}

// Hands `h` the decoded reply, or bad_reply (logged) when the reply was not of its shape.
template <class Handler, class Value>
void answer(Handler& h, std::optional<Value> v, const char* what, const reply_ptr& r) {
  if (!v) {
    spdlog::error("redis {}: unexpected reply {}", what, describe(r));
    return h(make_error_code(engine_errc::bad_reply), {});
  }
  h({}, std::move(*v));
}

}  // namespace

redis_engine::redis_engine(net::io_context& ioc, options opts)
    : ioc_(ioc),
      opts_(std::move(opts)),
      heartbeat_timer_(std::make_unique<net::steady_timer>(ioc)),
      refresh_timer_(std::make_unique<net::steady_timer>(ioc)) {}

redis_engine::~redis_engine() = default;

std::string redis_engine::key(std::string_view channel, std::string_view suffix) const {
  // The {channel} hash tag puts every key of one channel in one cluster slot.
  std::string k = opts_.prefix;
  k += '{';
  k += channel;
  k += "}:";
  k += suffix;
  return k;
}

std::string redis_engine::pubsub_name(std::string_view channel) const {
  std::string k = opts_.prefix;
  k += '{';
  k += channel;
  k += '}';
  return k;
}

std::size_t redis_engine::add_shard(const std::string& host, std::uint16_t port) {
  for (std::size_t i = 0; i < shards_.size(); ++i)
    if (shards_[i]->host == host && shards_[i]->port == port) return i;
  auto sh = std::make_unique<shard>();
  sh->host = host;
  sh->port = port;
  redis_connection::options o;
  o.host = host;
  o.port = port;
  o.password = opts_.password;
  o.connect_timeout = opts_.connect_timeout;
  o.command_timeout = opts_.command_timeout;
  o.name = "redis " + host + ":" + std::to_string(port) + " commands";
  sh->cmd = redis_connection::create(ioc_, o);
  o.name = "redis " + host + ":" + std::to_string(port) + " subscriptions";
  sh->sub = redis_connection::create(ioc_, o);
  std::size_t index = shards_.size();
  if (index == 0) seed_cmd_ = sh->cmd;
  sh->cmd->on_state([this, index](bool up) {
    if (up && shards_[index]->cmd->reconnects() > 0) reconnects_total_.fetch_add(1);
    update_ready();
    if (up && opts_.cluster && index == 0 && !slots_known_) refresh_slots();
  });
  sh->sub->on_push([this, index](const redisReply& r) { on_push(index, r); });
  sh->sub->on_state([this, index](bool up) {
    auto& me = *shards_[index];
    if (up && me.sub->reconnects() > 0) reconnects_total_.fetch_add(1);
    me.confirmed.clear();
    update_ready();
    if (up) {
      // Re-subscribe what this node needs here; what was published meanwhile is found by the
      // sessions' gap check and filled from history.
      for (auto& ch : wanted_)
        if (shard_for(ch) == index) to_subscribe_.insert(ch);
      flush_subscriptions();
    } else {
      // Reads waiting for a confirmation must not wait for a connection that is gone.
      for (auto it = waiting_.begin(); it != waiting_.end();) {
        if (shard_for(it->first) != index) {
          ++it;
          continue;
        }
        auto fns = std::move(it->second);
        it = waiting_.erase(it);
        for (auto& f : fns) f();
      }
    }
  });
  sh->cmd->start();
  sh->sub->start();
  shards_.push_back(std::move(sh));
  return index;
}

std::size_t redis_engine::shard_for(std::string_view channel) const {
  if (!opts_.cluster || !slots_known_) return 0;
  return slot_owner_[key_slot(channel)];
}

bool redis_engine::confirmed(const std::string& channel) const {
  return shards_[shard_for(channel)]->confirmed.count(channel) > 0;
}

void redis_engine::update_ready() {
  bool all = !shards_.empty() && (!opts_.cluster || slots_known_);
  for (auto& sh : shards_) all = all && sh->cmd->up() && sh->sub->up();
  ready_ = all;
}

void redis_engine::refresh_slots() {
  if (refreshing_ || stopped_) return;
  refreshing_ = true;
  // Any live master can answer; the seed is tried first.
  std::size_t ask = 0;
  for (std::size_t i = 0; i < shards_.size(); ++i)
    if (shards_[i]->cmd->up()) {
      ask = i;
      break;
    }
  shards_[ask]->cmd->command(
      format_command({"CLUSTER", "SLOTS"}), [this](std::error_code ec, reply_ptr r) {
        refreshing_ = false;
        if (stopped_) return;
        auto ranges = !ec && r ? replies::cluster_slots(*r) : std::nullopt;
        if (!ranges) {
          spdlog::warn("redis cluster: CLUSTER SLOTS failed: {}",
                       ec ? ec.message() : std::string(r ? text(*r) : ""));
          refresh_timer_->expires_after(std::chrono::milliseconds(500));
          refresh_timer_->async_wait([this](boost::system::error_code e) {
            if (!e) refresh_slots();
          });
          return;
        }
        std::vector<std::uint16_t> owner(16384, 0);
        bool complete = true;
        std::vector<bool> covered(16384, false);
        for (const auto& range : *ranges) {
          auto index = add_shard(range.host, range.port);
          for (std::size_t slot = range.first; slot <= range.last; ++slot) {
            owner[slot] = static_cast<std::uint16_t>(index);
            covered[slot] = true;
          }
        }
        for (bool c : covered) complete = complete && c;
        if (!complete) spdlog::warn("redis cluster: not every slot is served");
        std::vector<std::size_t> before;
        for (auto& ch : wanted_) before.push_back(shard_for(ch));
        slot_owner_ = std::move(owner);
        bool first = !slots_known_;
        slots_known_ = true;
        spdlog::info("redis cluster: slot map with {} masters", shards_.size());
        // Subscriptions follow their slots to their new owners.
        std::size_t i = 0;
        for (auto& ch : wanted_) {
          auto now = shard_for(ch);
          if (first || before[i] != now) {
            for (auto& sh : shards_) sh->confirmed.erase(ch);
            to_subscribe_.insert(ch);
          }
          ++i;
        }
        update_ready();
        flush_subscriptions();
      });
}

void redis_engine::start(engine_sink& sink) {
  sink_ = &sink;
  net::post(ioc_, [this] {
    add_shard(opts_.host, opts_.port);
    heartbeat();
  });
}

void redis_engine::stop() {
  stopped_ = true;
  // Called once the loops have stopped: every I/O object of ours is released now, while the
  // io_context it belongs to still exists (handlers still holding a connection release it
  // when that io_context is destroyed).
  if (heartbeat_timer_) heartbeat_timer_->cancel();
  if (refresh_timer_) refresh_timer_->cancel();
  for (auto& sh : shards_) {
    sh->cmd->stop();
    sh->sub->stop();
  }
  ready_ = false;
  shards_.clear();
  seed_cmd_.reset();
  heartbeat_timer_.reset();
  refresh_timer_.reset();
}

void redis_engine::append_metrics(std::string& out) const {
  // Read from the HTTP thread: only atomics of the connections are touched, and the shard
  // list, which grows only on the Redis thread, is not walked here.
  out +=
      "# HELP muster_redis_up Whether the engine's Redis connections are all up (1) or not (0)\n"
      "# TYPE muster_redis_up gauge\n";
  out += std::string("muster_redis_up ") + (ready_ ? "1" : "0") + "\n";
  out +=
      "# HELP muster_redis_reconnects_total Reconnections to Redis after a loss\n"
      "# TYPE muster_redis_reconnects_total counter\n";
  out += "muster_redis_reconnects_total " + std::to_string(reconnects()) + "\n";
  out +=
      "# HELP muster_redis_command_seconds Redis command round-trip time (seed node)\n"
      "# TYPE muster_redis_command_seconds histogram\n";
  if (seed_cmd_)
    seed_cmd_->append_latency_histogram(out, "muster_redis_command_seconds", "node=\"seed\"");
}

std::uint64_t redis_engine::reconnects() const {
  return reconnects_total_.load();
}

void redis_engine::eval(const std::string& channel, const lua_script& script,
                        std::vector<std::string> keys, std::vector<std::string> args,
                        redis_connection::reply_handler h, int redirects) {
  // Kept for a retry: the full script is formatted only if Redis does not know it.
  struct call {
    std::vector<std::string> keys, args;
    std::string format(const lua_script& sc, bool by_sha) const {
      std::string nkeys = std::to_string(keys.size());
      std::vector<std::string_view> argv = {by_sha ? "EVALSHA" : "EVAL", by_sha ? sc.sha : sc.text,
                                            nkeys};
      for (auto& k : keys) argv.push_back(k);
      for (auto& a : args) argv.push_back(a);
      return format_command(argv);
    }
  };
  auto c = std::make_shared<call>(call{std::move(keys), std::move(args)});
  auto& conn = shards_[shard_for(channel)]->cmd;
  auto retry = [this, channel, &script, c, redirects](redis_connection::reply_handler hh) {
    eval(channel, script, c->keys, c->args, std::move(hh), redirects + 1);
  };
  // EVALSHA first; a Redis that does not know the script yet (restart, failover) gets it once.
  conn->command(c->format(script, true), [this, conn, c, &script, retry = std::move(retry),
                                          redirects, h = std::move(h)](std::error_code ec,
                                                                       reply_ptr r) mutable {
    if (!ec && r && r->type == REDIS_REPLY_ERROR) {
      auto err = text(*r);
      if (err.starts_with("NOSCRIPT")) return conn->command(c->format(script, false), std::move(h));
      // The slot is being migrated and this key already left: ask the target once (ASKING
      // then the command, in order on one connection), without changing the slot map.
      if (err.starts_with("ASK ") && redirects < 3) {
        auto space = err.rfind(' ');
        auto target = err.substr(space + 1);
        auto colon = target.rfind(':');
        if (colon != std::string_view::npos) {
          auto index = add_shard(std::string(target.substr(0, colon)),
                                 static_cast<std::uint16_t>(std::strtoul(
                                     std::string(target.substr(colon + 1)).c_str(), nullptr, 10)));
          auto& to = shards_[index]->cmd;
          if (to->up()) {
            to->command(format_command({"ASKING"}), [](std::error_code, reply_ptr) {});
            return to->command(c->format(script, false), std::move(h));
          }
        }
      }
      // The slot moved (MOVED), or the target is not reachable yet: learn the new map and retry.
      if ((err.starts_with("MOVED") || err.starts_with("ASK") || err.starts_with("TRYAGAIN")) &&
          redirects < 3) {
        refresh_slots();
        auto t = std::make_shared<net::steady_timer>(
            ioc_, std::chrono::milliseconds(50 * (redirects + 1)));
        t->async_wait([t, retry = std::move(retry), h = std::move(h)](
                          boost::system::error_code) mutable { retry(std::move(h)); });
        return;
      }
    }
    h(ec, std::move(r));
  });
}
void redis_engine::publish(std::string_view channel, std::string data, const client_info& sender,
                           std::string_view idempotency_key, publish_handler h) {
  if (stopped_) return h(make_error_code(engine_errc::unavailable), {});
  // The frame is built here except for offset and epoch, which the script splices in.
  auto now = now_ms();
  auto frame =
      protocol::make_event_frame(channel, "message", now, sender.client, sender.name, data);
  auto forget_at =
      now + std::chrono::duration_cast<std::chrono::milliseconds>(opts_.idempotency_window).count();
  net::post(ioc_, [this, ch = std::string(channel), frame = std::move(frame), now, forget_at,
                   idem = std::string(idempotency_key), h = std::move(h)]() mutable {
    auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.history_ttl);
    // The key check runs in the same script as the append: atomic across every node.
    eval(ch, publish_script, {key(ch, "m"), key(ch, "s"), key(ch, "i"), key(ch, "iz")},
         {std::move(frame.head), std::string(frame.middle), std::move(frame.tail), new_epoch(),
          std::to_string(opts_.history_size), ms(ttl), std::to_string(now), pubsub_name(ch),
          publish_command(), std::move(idem), std::to_string(forget_at)},
         [h = std::move(h)](std::error_code ec, reply_ptr r) {
           if (ec) return h(ec, {});
           answer(h, r ? replies::published(*r) : std::nullopt, "publish", r);
         });
  });
}

void redis_engine::history(std::string_view channel, history_query q, history_handler h) {
  if (stopped_) return h(make_error_code(engine_errc::unavailable), {});
  net::post(ioc_, [this, ch = std::string(channel), q, h = std::move(h)]() mutable {
    // A subscribing session reads history only once Redis confirmed the subscription, so
    // nothing published in between can fall through the gap.
    after_subscribed(
        ch, [this, ch, q, h = std::move(h)]() mutable { do_history(ch, q, std::move(h)); });
  });
}

void redis_engine::after_subscribed(const std::string& ch, std::function<void()> fn) {
  if (!wanted_.count(ch) || confirmed(ch) || !shards_[shard_for(ch)]->sub->up()) return fn();
  // Bounded: if no confirmation comes in time, `fn` goes ahead (a later gap is still caught by
  // the session's offset check) rather than leaving a subscribe unanswered.
  auto once = std::make_shared<std::function<void()>>(std::move(fn));
  auto run = [once] {
    if (!*once) return;
    auto f = std::move(*once);
    *once = nullptr;
    f();
  };
  waiting_[ch].push_back(run);
  auto t = std::make_shared<net::steady_timer>(ioc_, opts_.command_timeout);
  t->async_wait([t, run](boost::system::error_code) { run(); });
}

void redis_engine::do_history(std::string ch, history_query q, history_handler h) {
  auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.history_ttl);
  std::string since = q.since ? std::to_string(*q.since) : "-1";
  eval(ch, history_script, {key(ch, "m"), key(ch, "s")},
       {since, std::to_string(q.limit), std::to_string(now_ms()), ms(ttl), new_epoch()},
       [h = std::move(h)](std::error_code ec, reply_ptr r) {
         if (ec) return h(ec, {});
         answer(h, r ? replies::history(*r) : std::nullopt, "history", r);
       });
}

void redis_engine::presence(std::string_view channel, presence_handler h) {
  if (stopped_) return h(make_error_code(engine_errc::unavailable), {});
  net::post(ioc_, [this, ch = std::string(channel), h = std::move(h)]() mutable {
    eval(ch, presence_script, {key(ch, "p"), key(ch, "pz")}, {std::to_string(now_ms())},
         [h = std::move(h)](std::error_code ec, reply_ptr r) {
           if (ec) return h(ec, {});
           answer(h, r ? replies::presence(*r) : std::nullopt, "presence", r);
         });
  });
}

void redis_engine::presence_join(std::string_view channel, const client_info& who) {
  if (stopped_) return;  // sessions released at shutdown must not post to a dying loop
  net::post(ioc_, [this, ch = std::string(channel), who] {
    local_presence_[ch][who.client] = encode_presence_entry(who);
    // Published once this node listens, so the first local subscriber hears its own join too.
    after_subscribed(ch, [this, ch, who] {
      if (stopped_) return;
      auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.presence_ttl);
      eval(ch, join_script, {key(ch, "p"), key(ch, "pz")},
           {who.client, encode_presence_entry(who), std::to_string(now_ms() + ttl.count()),
            ms(ttl * 4), pubsub_name(ch),
            protocol::encode_presence_event(true, ch, who.client, who.name, who.user),
            publish_command()},
           [](std::error_code ec, reply_ptr) {
             // Not fatal: the heartbeat writes the entry again once Redis is back.
             if (ec) spdlog::warn("redis presence join: {}", ec.message());
           });
    });
  });
}

void redis_engine::presence_leave(std::string_view channel, const client_info& who) {
  if (stopped_) return;  // sessions released at shutdown must not post to a dying loop
  net::post(ioc_, [this, ch = std::string(channel), who] {
    auto it = local_presence_.find(ch);
    if (it != local_presence_.end()) {
      it->second.erase(who.client);
      if (it->second.empty()) local_presence_.erase(it);
    }
    eval(ch, leave_script, {key(ch, "p"), key(ch, "pz")},
         {who.client, pubsub_name(ch),
          protocol::encode_presence_event(false, ch, who.client, who.name, who.user),
          publish_command()},
         [](std::error_code ec, reply_ptr) {
           // If Redis is down the entry expires on its own after the presence TTL.
           if (ec) spdlog::warn("redis presence leave: {}", ec.message());
         });
  });
}

void redis_engine::ephemeral_set(std::string_view channel, std::string entry, std::string value,
                                 std::chrono::milliseconds ttl, std::string event, set_handler h) {
  if (stopped_) return h(make_error_code(engine_errc::unavailable));
  net::post(ioc_,
            [this, ch = std::string(channel), entry = std::move(entry), value = std::move(value),
             ttl, event = std::move(event), h = std::move(h)]() mutable {
              // The keys outlive the newest entry a little, so that Redis drops what nobody
              // refreshes.
              eval(ch, ephemeral_set_script, {key(ch, "e"), key(ch, "ez")},
                   {std::move(entry), std::move(value), std::to_string(now_ms() + ttl.count()),
                    ms(ttl * 2), pubsub_name(ch), std::move(event), publish_command()},
                   [h = std::move(h)](std::error_code ec, reply_ptr) { h(ec); });
            });
}

void redis_engine::ephemeral_list(std::string_view channel, std::string prefix, entries_handler h) {
  if (stopped_) return h(make_error_code(engine_errc::unavailable), {});
  net::post(ioc_, [this, ch = std::string(channel), prefix = std::move(prefix),
                   h = std::move(h)]() mutable {
    eval(ch, ephemeral_list_script, {key(ch, "e"), key(ch, "ez")},
         {std::to_string(now_ms()), std::move(prefix)},
         [h = std::move(h)](std::error_code ec, reply_ptr r) {
           if (ec) return h(ec, {});
           answer(h, r ? replies::entries(*r) : std::nullopt, "ephemeral_list", r);
         });
  });
}

void redis_engine::heartbeat() {
  if (stopped_) return;
  // Refresh this node's presence entries; a node that dies stops doing this and its
  // users disappear after presence_ttl.
  auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.presence_ttl);
  auto deadline = std::to_string(now_ms() + ttl.count());
  for (auto& [ch, clients] : local_presence_) {
    auto& conn = shards_[shard_for(ch)]->cmd;
    if (!conn->up()) continue;
    auto z = key(ch, "pz");
    std::vector<std::string_view> args = {"ZADD", z, "GT", "CH"};
    for (auto& entry : clients) {
      args.push_back(deadline);
      args.push_back(entry.first);
    }
    conn->command(format_command(args), [](std::error_code, reply_ptr) {});
    // Entries lost while Redis was away come back too.
    for (auto& [client, entry] : clients)
      conn->command(format_command({"HSET", key(ch, "p"), client, entry}),
                    [](std::error_code, reply_ptr) {});
    conn->command(format_command({"PEXPIRE", key(ch, "p"), ms(ttl * 4)}),
                  [](std::error_code, reply_ptr) {});
    conn->command(format_command({"PEXPIRE", z, ms(ttl * 4)}), [](std::error_code, reply_ptr) {});
  }
  heartbeat_timer_->expires_after(
      std::max(std::chrono::milliseconds(200),
               std::chrono::duration_cast<std::chrono::milliseconds>(opts_.presence_ttl) / 3));
  heartbeat_timer_->async_wait([this](boost::system::error_code ec) {
    if (!ec) heartbeat();
  });
}

void redis_engine::subscribe(std::string_view channel) {
  if (stopped_) return;  // sessions released at shutdown must not post to a dying loop
  net::post(ioc_, [this, ch = std::string(channel)] {
    wanted_.insert(ch);
    to_unsubscribe_.erase(ch);
    if (!confirmed(ch)) to_subscribe_.insert(ch);
    if (!flush_posted_) {
      flush_posted_ = true;
      net::post(ioc_, [this] { flush_subscriptions(); });
    }
  });
}

void redis_engine::unsubscribe(std::string_view channel) {
  if (stopped_) return;  // sessions released at shutdown must not post to a dying loop
  net::post(ioc_, [this, ch = std::string(channel)] {
    wanted_.erase(ch);
    to_subscribe_.erase(ch);
    if (confirmed(ch)) to_unsubscribe_.insert(ch);
    if (!flush_posted_) {
      flush_posted_ = true;
      net::post(ioc_, [this] { flush_subscriptions(); });
    }
  });
}

void redis_engine::flush_subscriptions() {
  // Batched per Redis node: one (S)SUBSCRIBE for everything that changed in this turn (in a
  // cluster, one per channel: a sharded subscription names channels of one slot only).
  flush_posted_ = false;
  if (opts_.cluster && !slots_known_) return;  // redone once the slot map is known
  std::map<std::size_t, std::vector<std::string>> subs, unsubs;
  for (auto it = to_subscribe_.begin(); it != to_subscribe_.end();) {
    auto index = shard_for(*it);
    if (!shards_[index]->sub->up()) {
      ++it;  // redone in full when that connection comes back
      continue;
    }
    subs[index].push_back(*it);
    it = to_subscribe_.erase(it);
  }
  for (auto& ch : to_unsubscribe_) {
    auto index = shard_for(ch);
    shards_[index]->confirmed.erase(ch);
    if (shards_[index]->sub->up()) unsubs[index].push_back(ch);
  }
  to_unsubscribe_.clear();
  const std::string_view sub_cmd = opts_.cluster ? "SSUBSCRIBE" : "SUBSCRIBE";
  const std::string_view unsub_cmd = opts_.cluster ? "SUNSUBSCRIBE" : "UNSUBSCRIBE";
  const std::string_view sub_kind = opts_.cluster ? "ssubscribe" : "subscribe";
  const std::string_view unsub_kind = opts_.cluster ? "sunsubscribe" : "unsubscribe";
  auto groups = [&](const std::vector<std::string>& chans) {
    std::vector<std::vector<std::string>> out;
    if (opts_.cluster)
      for (auto& c : chans) out.push_back({c});
    else
      out.push_back(chans);
    return out;
  };
  for (auto& entry : subs) {
    auto index = entry.first;  // not a structured binding: the handlers below capture it
    auto& chans = entry.second;
    for (auto& group : groups(chans)) {
      std::vector<std::string> names;
      for (auto& ch : group) names.push_back(pubsub_name(ch));
      std::vector<std::string_view> args = {sub_cmd};
      for (auto& n : names) args.push_back(n);
      auto batch = std::make_shared<std::vector<std::string>>(group);
      shards_[index]->sub->command(
          format_command(args),
          [this, batch, index](std::error_code ec, reply_ptr r) {
            bool ok = !ec && r && r->type != REDIS_REPLY_ERROR;
            if (!ok && r && r->type == REDIS_REPLY_ERROR) {
              spdlog::warn("redis subscribe: {}", text(*r));
              refresh_slots();  // MOVED: the slot map is stale
              for (auto& ch : *batch)
                if (wanted_.count(ch)) to_subscribe_.insert(ch);
            }
            bool orphans = false;
            for (auto& ch : *batch) {
              if (ok && wanted_.count(ch) && index < shards_.size())
                shards_[index]->confirmed.insert(ch);
              if (ok && !wanted_.count(ch) && index < shards_.size()) {
                // Unsubscribed locally while this SUBSCRIBE was in flight: undo it in Redis.
                shards_[index]->confirmed.insert(ch);
                to_unsubscribe_.insert(ch);
                orphans = true;
              }
              auto it = waiting_.find(ch);
              if (it == waiting_.end() || (!ok && r)) continue;
              auto fns = std::move(it->second);
              waiting_.erase(it);
              for (auto& f : fns) f();
            }
            if (orphans) flush_subscriptions();
          },
          batch->size(), sub_kind);
    }
  }
  for (auto& [index, chans] : unsubs) {
    for (auto& group : groups(chans)) {
      std::vector<std::string> names;
      for (auto& ch : group) names.push_back(pubsub_name(ch));
      std::vector<std::string_view> args = {unsub_cmd};
      for (auto& n : names) args.push_back(n);
      shards_[index]->sub->command(
          format_command(args), [](std::error_code, reply_ptr) {}, group.size(), unsub_kind);
    }
  }
}

void redis_engine::on_push(std::size_t index, const redisReply& r) {
  // ["message"|"smessage", "<prefix>{channel}", "<offset>:<frame>" | "p:<frame>"], or an
  // unasked ["sunsubscribe", name, n] when the channel's slot moved to another node.
  auto push = replies::read_push(r, opts_.prefix);
  if (!push) return;
  auto channel = push->channel;
  auto notice = push->notice;
  if (!notice.empty()) {
    if (notice == "sunsubscribe" || notice == "unsubscribe") {
      std::string ch(channel);
      if (index < shards_.size()) shards_[index]->confirmed.erase(ch);
      if (wanted_.count(ch)) {
        spdlog::info("redis: subscription to {} dropped by Redis (slot moved?); following it", ch);
        to_subscribe_.insert(ch);
        if (opts_.cluster)
          refresh_slots();
        else
          flush_subscriptions();
      }
    }
    return;
  }
  auto& payload = push->payload;
  if (!payload || !sink_) return;
  channel_event ev;
  ev.offset = payload->offset;
  ev.presence = payload->presence;
  ev.epoch = std::string(payload->epoch);
  ev.frame = std::make_shared<const std::string>(payload->frame);
  sink_->on_event(channel, ev);
}

void redis_engine::read_docs(std::string_view channel, std::vector<std::string> keys,
                             docs_handler h) {
  if (stopped_) return h(make_error_code(engine_errc::unavailable), {});
  net::post(
      ioc_, [this, ch = std::string(channel), keys = std::move(keys), h = std::move(h)]() mutable {
        auto args = keys;
        eval(ch, read_docs_script, {key(ch, "d"), key(ch, "dv")}, std::move(args),
             [keys = std::move(keys), h = std::move(h)](std::error_code ec, reply_ptr r) mutable {
               if (ec) return h(ec, {});
               answer(h, r ? replies::docs(*r, std::move(keys)) : std::nullopt, "read_docs", r);
             });
      });
}

void redis_engine::list_docs(std::string_view channel, std::string prefix, docs_handler h) {
  if (stopped_) return h(make_error_code(engine_errc::unavailable), {});
  net::post(ioc_, [this, ch = std::string(channel), prefix = std::move(prefix),
                   h = std::move(h)]() mutable {
    eval(ch, list_docs_script, {key(ch, "d"), key(ch, "dv")}, {std::move(prefix)},
         [h = std::move(h)](std::error_code ec, reply_ptr r) {
           if (ec) return h(ec, {});
           answer(h, r ? replies::listed_docs(*r) : std::nullopt, "list_docs", r);
         });
  });
}

void redis_engine::commit(std::string_view channel, std::vector<doc_write> writes,
                          std::vector<event_spec> events, std::optional<retention> keep,
                          commit_handler h) {
  if (stopped_) return h(make_error_code(engine_errc::unavailable), {});
  // linked_writes() is false here: a caller that writes other channels anyway is refused whole.
  for (const auto& w : writes)
    if (!w.channel.empty()) return h(make_error_code(engine_errc::unavailable), {});
  auto now = now_ms();
  auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.history_ttl);
  std::vector<std::string> args = {std::to_string(writes.size()),
                                   std::to_string(events.size()),
                                   new_epoch(),
                                   std::to_string(opts_.history_size),
                                   ms(ttl),
                                   std::to_string(now),
                                   pubsub_name(channel),
                                   publish_command(),
                                   keep ? std::to_string(keep->size) : std::string(),
                                   keep ? ms(keep->ttl) : std::string(),
                                   std::string(protocol::event_frame_parts::middle)};
  args.reserve(args.size() + 3 * writes.size() + 2 * events.size());
  std::vector<std::string> written;  // for the "not applied" answer
  written.reserve(writes.size());
  for (auto& w : writes) {
    written.push_back(w.key);
    args.push_back(std::move(w.key));
    // Lua numbers cannot hold every 64-bit version: "any" is a word, versions are compared as
    // strings.
    args.push_back(w.expect == doc_write::any ? std::string("any") : std::to_string(w.expect));
    args.push_back(std::move(w.value));
  }
  for (auto& e : events) {
    auto frame = protocol::make_event_frame(channel, e.event, now, e.by.client, e.by.name, e.data);
    args.push_back(std::move(frame.head));
    args.push_back(std::move(frame.tail));
  }
  net::post(ioc_,
            [this, ch = std::string(channel), args = std::move(args), written = std::move(written),
             nevents = events.size(), h = std::move(h)]() mutable {
              eval(ch, commit_script, {key(ch, "m"), key(ch, "s"), key(ch, "d"), key(ch, "dv")},
                   std::move(args),
                   [written = std::move(written), nevents, h = std::move(h)](std::error_code ec,
                                                                             reply_ptr r) mutable {
                     if (ec) return h(ec, {});
                     answer(h, r ? replies::commit(*r, std::move(written), nevents) : std::nullopt,
                            "commit", r);
                   });
            });
}

void redis_engine::index_put(std::string index, std::string member, std::int64_t score,
                             done_handler h) {
  if (stopped_) return h(make_error_code(engine_errc::unavailable));
  net::post(ioc_, [this, index = std::move(index), member = std::move(member), score,
                   h = std::move(h)]() mutable {
    // The index is a pseudo-channel "idx:<name>", so its key routes by slot like a channel's.
    auto ch = "idx:" + index;
    eval(ch, index_put_script, {key(ch, "z")}, {std::to_string(score), std::move(member)},
         [h = std::move(h)](std::error_code ec, reply_ptr r) {
           if (ec) return h(ec);
           if (!r || !replies::is_int(*r)) {
             spdlog::error("redis index_put: unexpected reply {}", describe(r));
             return h(make_error_code(engine_errc::bad_reply));
           }
           h({});
         });
  });
}

void redis_engine::index_remove(std::string index, std::string member, done_handler h) {
  index_script(std::move(index), index_remove_script, {std::move(member)}, "index_remove",
               std::move(h));
}

void redis_engine::index_put_earlier(std::string index, std::string member, std::int64_t score,
                                     done_handler h) {
  index_script(std::move(index), index_put_earlier_script,
               {std::to_string(score), std::move(member)}, "index_put_earlier", std::move(h));
}

void redis_engine::index_replace(std::string index, std::string member, std::int64_t expect,
                                 std::optional<std::int64_t> score, done_handler h) {
  index_script(std::move(index), index_replace_script,
               {std::move(member), std::to_string(expect), score ? std::to_string(*score) : ""},
               "index_replace", std::move(h));
}

void redis_engine::index_script(std::string index, const lua_script& script,
                                std::vector<std::string> args, const char* what, done_handler h) {
  if (stopped_) return h(make_error_code(engine_errc::unavailable));
  net::post(ioc_, [this, index = std::move(index), &script, args = std::move(args), what,
                   h = std::move(h)]() mutable {
    auto ch = "idx:" + index;
    eval(ch, script, {key(ch, "z")}, std::move(args),
         [h = std::move(h), what](std::error_code ec, reply_ptr r) {
           if (ec) return h(ec);
           if (!r || !replies::is_int(*r)) {
             spdlog::error("redis {}: unexpected reply {}", what, describe(r));
             return h(make_error_code(engine_errc::bad_reply));
           }
           h({});
         });
  });
}

void redis_engine::index_range(std::string index, std::int64_t max_score, std::size_t limit,
                               index_handler h) {
  if (stopped_) return h(make_error_code(engine_errc::unavailable), {});
  // LIMIT takes a signed 64-bit count.
  auto count = std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max());
  net::post(ioc_, [this, index = std::move(index), max_score, count, h = std::move(h)]() mutable {
    auto ch = "idx:" + index;
    eval(ch, index_range_script, {key(ch, "z")}, {std::to_string(max_score), std::to_string(count)},
         [h = std::move(h)](std::error_code ec, reply_ptr r) {
           if (ec) return h(ec, {});
           answer(h, r ? replies::index_range(*r) : std::nullopt, "index_range", r);
         });
  });
}

}  // namespace muster::server::redis
