#include "server/engine/redis/redis_engine.hpp"

#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include <random>

namespace muster::server::redis {

namespace net = boost::asio;

namespace {

// Removes history entries past their TTL, oldest first (bounded work per call).
constexpr const char* trim_lua = R"(
local function trim(stream, now, ttl)
  local min_ts = now - ttl
  for i = 1, 100 do
    local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
    if #first == 0 then return end
    if tonumber(first[1][2][2]) > min_ts then return end
    redis.call('XDEL', stream, first[1][1])
  end
end
)";

// Assigns the next offset, appends to the bounded stream and publishes, atomically.
// KEYS: meta, stream. ARGV: frame head, middle, tail, new epoch, history size, ttl ms, now ms,
// pub/sub channel.
const std::string publish_lua = std::string(trim_lua) + R"(
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[4]
  redis.call('HSET', KEYS[1], 'e', epoch)
  redis.call('DEL', KEYS[2])
end
local top = redis.call('HINCRBY', KEYS[1], 't', 1)
local frame = ARGV[1] .. top .. ARGV[2] .. epoch .. ARGV[3]
if tonumber(ARGV[5]) > 0 then
  trim(KEYS[2], tonumber(ARGV[7]), tonumber(ARGV[6]))
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[5], top .. '-1', 't', ARGV[7], 'f', frame)
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PUBLISH', ARGV[8], top .. ':' .. frame)
return {top, epoch}
)";

// The stream position and a slice of history. KEYS: meta, stream. ARGV: since (-1: latest),
// limit, now ms, ttl ms, new epoch. Returns {top, epoch, first, offset, ts, frame, ...}.
const std::string history_lua = std::string(trim_lua) + R"(
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[5]
  redis.call('HSET', KEYS[1], 'e', epoch)
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  redis.call('DEL', KEYS[2])
end
local top = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
trim(KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[4]))
local out = {top, epoch, top + 1}
local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
if #first > 0 then out[3] = tonumber(string.match(first[1][1], '^(%d+)')) end
local limit = tonumber(ARGV[2])
if limit > 0 then
  local entries
  if tonumber(ARGV[1]) < 0 then
    entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', limit)
    local n = #entries
    for i = 1, n / 2 do entries[i], entries[n - i + 1] = entries[n - i + 1], entries[i] end
  else
    entries = redis.call('XRANGE', KEYS[2], (tonumber(ARGV[1]) + 1) .. '-0', '+', 'COUNT', limit)
  end
  for i = 1, #entries do
    out[#out + 1] = tonumber(string.match(entries[i][1], '^(%d+)'))
    out[#out + 1] = entries[i][2][2]
    out[#out + 1] = entries[i][2][4]
  end
end
return out
)";

// KEYS: presence hash, deadlines zset. ARGV: client, name, deadline ms, ttl ms, pub/sub, frame.
const std::string join_lua = R"(
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PUBLISH', ARGV[5], 'p:' .. ARGV[6])
return 1
)";

// KEYS: presence hash, deadlines zset. ARGV: client, pub/sub, frame.
const std::string leave_lua = R"(
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('PUBLISH', ARGV[2], 'p:' .. ARGV[3])
end
return 1
)";

// Drops entries whose deadline passed (their node stopped refreshing them), then lists.
// KEYS: presence hash, deadlines zset. ARGV: now ms.
const std::string presence_lua = R"(
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
for _, c in ipairs(expired) do
  redis.call('HDEL', KEYS[1], c)
  redis.call('ZREM', KEYS[2], c)
end
return redis.call('HGETALL', KEYS[1])
)";

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

const std::string& sha(const std::string& script) {
  static std::map<const std::string*, std::string> cache;
  static std::mutex m;
  std::lock_guard lock(m);
  auto it = cache.find(&script);
  if (it == cache.end()) it = cache.emplace(&script, sha1_hex(script)).first;
  return it->second;
}

std::string random_epoch() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string e(8, '0');
  auto v = rng();
  for (auto& c : e) {
    c = hex[v & 0xf];
    v >>= 4;
  }
  return e;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()); }

}  // namespace

redis_engine::redis_engine(net::io_context& ioc, options opts)
    : ioc_(ioc), opts_(std::move(opts)), heartbeat_timer_(ioc) {}

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

void redis_engine::start(engine_sink& sink) {
  sink_ = &sink;
  redis_connection::options o;
  o.host = opts_.host;
  o.port = opts_.port;
  o.password = opts_.password;
  o.connect_timeout = opts_.connect_timeout;
  o.command_timeout = opts_.command_timeout;
  o.name = "redis commands";
  cmd_ = redis_connection::create(ioc_, o);
  o.name = "redis subscriptions";
  sub_ = redis_connection::create(ioc_, o);
  cmd_->on_state([this](bool up) { cmd_up_ = up; });
  sub_->on_push([this](const redisReply& r) { on_push(r); });
  sub_->on_state([this](bool up) {
    sub_up_ = up;
    confirmed_.clear();
    if (up) {
      // Re-subscribe everything this node needs; what was published meanwhile is found by
      // the sessions' gap check and recovered from history.
      to_subscribe_ = wanted_;
      to_unsubscribe_.clear();
      flush_subscriptions();
    } else {
      // Reads waiting for a confirmation must not wait for a connection that is gone.
      auto waiting = std::move(waiting_);
      waiting_.clear();
      for (auto& [ch, fns] : waiting)
        for (auto& f : fns) f();
    }
  });
  net::post(ioc_, [this] {
    cmd_->start();
    sub_->start();
    heartbeat();
  });
}

void redis_engine::stop() {
  stopped_ = true;
  heartbeat_timer_.cancel();
  if (cmd_) cmd_->stop();
  if (sub_) sub_->stop();
}

void redis_engine::append_metrics(std::string& out) const {
  out += "# HELP muster_redis_up Whether the Redis connection is up (1) or down (0)\n# TYPE muster_redis_up gauge\n";
  out += "muster_redis_up{connection=\"commands\"} " + std::string(cmd_up_ ? "1" : "0") + "\n";
  out += "muster_redis_up{connection=\"subscriptions\"} " + std::string(sub_up_ ? "1" : "0") + "\n";
  out += "# HELP muster_redis_reconnects_total Reconnections to Redis after a loss\n# TYPE muster_redis_reconnects_total counter\n";
  out += "muster_redis_reconnects_total " + std::to_string(reconnects()) + "\n";
  out += "# HELP muster_redis_command_seconds Redis command round-trip time\n# TYPE muster_redis_command_seconds histogram\n";
  if (cmd_) cmd_->append_latency_histogram(out, "muster_redis_command_seconds", "connection=\"commands\"");
}

std::uint64_t redis_engine::reconnects() const {
  return (cmd_ ? cmd_->reconnects() : 0) + (sub_ ? sub_->reconnects() : 0);
}

void redis_engine::eval(const std::string& script, const std::string& digest, std::vector<std::string> keys,
                        std::vector<std::string> args, redis_connection::reply_handler h) {
  auto build = [&](bool by_sha) {
    std::vector<std::string_view> argv = {by_sha ? "EVALSHA" : "EVAL", by_sha ? std::string_view(digest) : std::string_view(script)};
    std::string nkeys = std::to_string(keys.size());
    argv.push_back(nkeys);
    for (auto& k : keys) argv.push_back(k);
    for (auto& a : args) argv.push_back(a);
    return format_command(argv);
  };
  auto full = std::make_shared<std::string>(build(false));
  // EVALSHA first; a Redis that does not know the script yet (restart, failover) gets it once.
  cmd_->command(build(true), [this, full, h = std::move(h)](std::error_code ec, reply_ptr r) mutable {
    if (!ec && r && r->type == REDIS_REPLY_ERROR && text(*r).starts_with("NOSCRIPT"))
      return cmd_->command(std::move(*full), std::move(h));
    h(ec, std::move(r));
  });
}

void redis_engine::publish(std::string_view channel, std::string data, const client_info& sender,
                           publish_handler h) {
  // The frame is built here except for offset and epoch, which the script splices in.
  std::string head = "{\"event\":\"message\",\"channel\":";
  protocol::append_json_string(head, channel);
  head += ",\"offset\":";
  std::string tail = "\",\"ts\":";
  auto now = now_ms();
  tail += std::to_string(now);
  tail += ",\"sender\":{\"client\":";
  protocol::append_json_string(tail, sender.client);
  tail += ",\"name\":";
  protocol::append_json_string(tail, sender.name);
  tail += "},\"data\":";
  tail += data.empty() ? std::string("null") : data;
  tail += '}';
  net::post(ioc_, [this, ch = std::string(channel), head = std::move(head), tail = std::move(tail), now,
                   h = std::move(h)]() mutable {
    auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.history_ttl);
    eval(publish_lua, sha(publish_lua), {key(ch, "m"), key(ch, "s")},
         {head, ",\"epoch\":\"", tail, random_epoch(), std::to_string(opts_.history_size), ms(ttl),
          std::to_string(now), pubsub_name(ch)},
         [h = std::move(h)](std::error_code ec, reply_ptr r) {
           if (ec) return h(ec, {});
           if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
               r->element[0]->type != REDIS_REPLY_INTEGER) {
             spdlog::error("redis publish: unexpected reply {}", r ? std::string(text(*r)) : "");
             return h(make_error_code(engine_errc::bad_reply), {});
           }
           h({}, {static_cast<std::uint64_t>(r->element[0]->integer), std::string(text(*r->element[1]))});
         });
  });
}

void redis_engine::history(std::string_view channel, history_query q, history_handler h) {
  net::post(ioc_, [this, ch = std::string(channel), q, h = std::move(h)]() mutable {
    // A subscribing session reads history only once Redis confirmed the subscription, so
    // nothing published in between can fall through the gap.
    if (wanted_.count(ch) && !confirmed_.count(ch) && sub_up_) {
      waiting_[ch].push_back([this, ch, q, h = std::move(h)]() mutable { do_history(ch, q, std::move(h)); });
      return;
    }
    do_history(std::move(ch), q, std::move(h));
  });
}

void redis_engine::do_history(std::string ch, history_query q, history_handler h) {
  auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.history_ttl);
  std::string since = q.since ? std::to_string(*q.since) : "-1";
  eval(history_lua, sha(history_lua), {key(ch, "m"), key(ch, "s")},
       {since, std::to_string(q.limit), std::to_string(now_ms()), ms(ttl), random_epoch()},
       [h = std::move(h)](std::error_code ec, reply_ptr r) {
         if (ec) return h(ec, {});
         if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3 || (r->elements - 3) % 3 != 0) {
           spdlog::error("redis history: unexpected reply {}", r ? std::string(text(*r)) : "");
           return h(make_error_code(engine_errc::bad_reply), {});
         }
         history_result res;
         res.top = {static_cast<std::uint64_t>(r->element[0]->integer), std::string(text(*r->element[1]))};
         res.first_offset = static_cast<std::uint64_t>(r->element[2]->integer);
         for (std::size_t i = 3; i + 2 < r->elements; i += 3) {
           stored_publication p;
           p.offset = static_cast<std::uint64_t>(r->element[i]->integer);
           auto ts = text(*r->element[i + 1]);
           p.ts_ms = std::atoll(std::string(ts).c_str());
           p.frame = std::make_shared<const std::string>(text(*r->element[i + 2]));
           res.publications.push_back(std::move(p));
         }
         h({}, std::move(res));
       });
}

void redis_engine::presence(std::string_view channel, presence_handler h) {
  net::post(ioc_, [this, ch = std::string(channel), h = std::move(h)]() mutable {
    eval(presence_lua, sha(presence_lua), {key(ch, "p"), key(ch, "pz")}, {std::to_string(now_ms())},
         [h = std::move(h)](std::error_code ec, reply_ptr r) {
           if (ec) return h(ec, {});
           if (!r || r->type != REDIS_REPLY_ARRAY) return h(make_error_code(engine_errc::bad_reply), {});
           std::vector<client_info> out;
           for (std::size_t i = 0; i + 1 < r->elements; i += 2)
             out.push_back({std::string(text(*r->element[i])), std::string(text(*r->element[i + 1]))});
           std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.client < b.client; });
           h({}, std::move(out));
         });
  });
}

void redis_engine::presence_join(std::string_view channel, const client_info& who) {
  net::post(ioc_, [this, ch = std::string(channel), who] {
    local_presence_[ch][who.client] = who.name;
    auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.presence_ttl);
    eval(join_lua, sha(join_lua), {key(ch, "p"), key(ch, "pz")},
         {who.client, who.name, std::to_string(now_ms() + ttl.count()), ms(ttl * 4), pubsub_name(ch),
          protocol::encode_presence_event(true, ch, who.client, who.name)},
         [](std::error_code ec, reply_ptr) {
           // Not fatal: the heartbeat writes the entry again once Redis is back.
           if (ec) spdlog::warn("redis presence join: {}", ec.message());
         });
  });
}

void redis_engine::presence_leave(std::string_view channel, const client_info& who) {
  net::post(ioc_, [this, ch = std::string(channel), who] {
    auto it = local_presence_.find(ch);
    if (it != local_presence_.end()) {
      it->second.erase(who.client);
      if (it->second.empty()) local_presence_.erase(it);
    }
    eval(leave_lua, sha(leave_lua), {key(ch, "p"), key(ch, "pz")},
         {who.client, pubsub_name(ch), protocol::encode_presence_event(false, ch, who.client, who.name)},
         [](std::error_code ec, reply_ptr) {
           // If Redis is down the entry expires on its own after the presence TTL.
           if (ec) spdlog::warn("redis presence leave: {}", ec.message());
         });
  });
}

void redis_engine::heartbeat() {
  if (stopped_) return;
  // Refresh this node's presence entries; a node that dies stops doing this and its
  // users disappear after presence_ttl.
  if (cmd_->up()) {
    auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.presence_ttl);
    auto deadline = std::to_string(now_ms() + ttl.count());
    for (auto& [ch, clients] : local_presence_) {
      auto z = key(ch, "pz");
      std::vector<std::string_view> args = {"ZADD", z, "GT", "CH"};
      for (auto& entry : clients) {
        args.push_back(deadline);
        args.push_back(entry.first);
      }
      cmd_->command(format_command(args), [](std::error_code, reply_ptr) {});
      // Entries lost while Redis was away come back too.
      for (auto& [client, name] : clients)
        cmd_->command(format_command({"HSET", key(ch, "p"), client, name}), [](std::error_code, reply_ptr) {});
      cmd_->command(format_command({"PEXPIRE", key(ch, "p"), ms(ttl * 4)}), [](std::error_code, reply_ptr) {});
      cmd_->command(format_command({"PEXPIRE", z, ms(ttl * 4)}), [](std::error_code, reply_ptr) {});
    }
  }
  heartbeat_timer_.expires_after(std::max(std::chrono::milliseconds(200),
                                          std::chrono::duration_cast<std::chrono::milliseconds>(opts_.presence_ttl) / 3));
  heartbeat_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) heartbeat();
  });
}

void redis_engine::subscribe(std::string_view channel) {
  net::post(ioc_, [this, ch = std::string(channel)] {
    wanted_.insert(ch);
    to_unsubscribe_.erase(ch);
    if (!confirmed_.count(ch)) to_subscribe_.insert(ch);
    if (!flush_posted_) {
      flush_posted_ = true;
      net::post(ioc_, [this] { flush_subscriptions(); });
    }
  });
}

void redis_engine::unsubscribe(std::string_view channel) {
  net::post(ioc_, [this, ch = std::string(channel)] {
    wanted_.erase(ch);
    to_subscribe_.erase(ch);
    if (confirmed_.count(ch)) to_unsubscribe_.insert(ch);
    if (!flush_posted_) {
      flush_posted_ = true;
      net::post(ioc_, [this] { flush_subscriptions(); });
    }
  });
}

void redis_engine::flush_subscriptions() {
  // Batched: one SUBSCRIBE / UNSUBSCRIBE for everything that changed in this turn.
  flush_posted_ = false;
  if (!sub_ || !sub_->up()) return;  // redone in full on reconnect
  if (!to_subscribe_.empty()) {
    std::vector<std::string> names;
    std::vector<std::string_view> args = {"SUBSCRIBE"};
    for (auto& ch : to_subscribe_) names.push_back(pubsub_name(ch));
    for (auto& n : names) args.push_back(n);
    auto batch = std::make_shared<std::vector<std::string>>(to_subscribe_.begin(), to_subscribe_.end());
    to_subscribe_.clear();
    sub_->command(format_command(args), [this, batch](std::error_code ec, reply_ptr) {
      for (auto& ch : *batch) {
        if (!ec && wanted_.count(ch)) confirmed_.insert(ch);
        auto it = waiting_.find(ch);
        if (it == waiting_.end()) continue;
        auto fns = std::move(it->second);
        waiting_.erase(it);
        for (auto& f : fns) f();
      }
    }, batch->size());
  }
  if (!to_unsubscribe_.empty()) {
    std::vector<std::string> names;
    std::vector<std::string_view> args = {"UNSUBSCRIBE"};
    for (auto& ch : to_unsubscribe_) {
      names.push_back(pubsub_name(ch));
      confirmed_.erase(ch);
    }
    for (auto& n : names) args.push_back(n);
    auto count = to_unsubscribe_.size();
    to_unsubscribe_.clear();
    sub_->command(format_command(args), [](std::error_code, reply_ptr) {}, count);
  }
}

void redis_engine::on_push(const redisReply& r) {
  // ["message", "<prefix>{channel}", "<offset>:<frame>" | "p:<frame>"]
  auto name = text(*r.element[1]);
  auto payload = text(*r.element[r.elements - 1]);
  if (!name.starts_with(opts_.prefix) || name.size() < opts_.prefix.size() + 2) return;
  auto channel = name.substr(opts_.prefix.size() + 1, name.size() - opts_.prefix.size() - 2);
  auto colon = payload.find(':');
  if (colon == std::string_view::npos || !sink_) return;
  channel_event ev;
  if (payload.substr(0, colon) == "p") {
    ev.presence = true;
  } else {
    ev.offset = std::strtoull(std::string(payload.substr(0, colon)).c_str(), nullptr, 10);
    if (ev.offset == 0) return;
  }
  ev.frame = std::make_shared<const std::string>(payload.substr(colon + 1));
  sink_->on_event(channel, ev);
}

}  // namespace muster::server::redis
