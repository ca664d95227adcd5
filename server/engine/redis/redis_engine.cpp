#include "server/engine/redis/redis_engine.hpp"

#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <random>
#include <utility>

namespace muster::server::redis {

namespace net = boost::asio;

namespace {

// Helpers shared by the scripts below. trim: removes history entries past their TTL, oldest
// first (bounded work per call).
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
-- The channel's epoch; a channel seen for the first time (or whose keys expired) starts a new
-- stream under `fresh`, so old offsets can never be mistaken for new ones.
local function epoch_of(meta, stream, fresh, ttl)
  local epoch = redis.call('HGET', meta, 'e')
  if not epoch then
    epoch = fresh
    redis.call('HSET', meta, 'e', epoch)
    redis.call('PEXPIRE', meta, ttl)
    redis.call('DEL', stream)
  end
  return epoch
end
-- The channel's history bounds: its own retention when a commit set one (a crisis timeline),
-- else the configured size and ttl ms.
local function retention_of(meta, size, ttl)
  local r = redis.call('HMGET', meta, 'rs', 'rt')
  if r[1] and r[2] then return r[1], r[2] end
  return size, ttl
end
)";

// Assigns the next offset, appends to the bounded stream and publishes, atomically.
// KEYS: meta, stream. ARGV: frame head, middle, tail, new epoch, history size, ttl ms, now ms,
// pub/sub channel, PUBLISH or SPUBLISH.
const std::string publish_lua = std::string(trim_lua) + R"(
local epoch = epoch_of(KEYS[1], KEYS[2], ARGV[4], ARGV[6])
local size, ttl = retention_of(KEYS[1], ARGV[5], ARGV[6])
local top = redis.call('HINCRBY', KEYS[1], 't', 1)
local frame = ARGV[1] .. top .. ARGV[2] .. epoch .. ARGV[3]
if tonumber(size) > 0 then
  trim(KEYS[2], tonumber(ARGV[7]), tonumber(ttl))
  redis.call('XADD', KEYS[2], 'MAXLEN', size, top .. '-1', 't', ARGV[7], 'f', frame)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call(ARGV[9], ARGV[8], top .. ':' .. frame)
return {top, epoch}
)";

// A compare-and-set of documents plus events, atomically: every write's expected version must
// hold, then all writes apply and all events are appended and published like publish_lua's.
// KEYS: meta, stream, docs hash, versions hash. ARGV: #writes, #events, new epoch, history size,
// ttl ms, now ms, pub/sub channel, PUBLISH or SPUBLISH, retention size and ttl ms ('': none),
// frame middle, then per write: key, expected version ('any': whatever), value ('': delete),
// then per event: frame head, tail.
// Returns {0, value, version, ...} (current state of each write's key) when an expectation
// failed, else {1, epoch, #writes, new version..., offset...}.
const std::string commit_lua = std::string(trim_lua) + R"(
local nw, ne = tonumber(ARGV[1]), tonumber(ARGV[2])
local w0, e0 = 12, 12 + 3 * nw
-- Versions compared as strings: exact whatever their size.
local ok = true
for i = 0, nw - 1 do
  local expect = ARGV[w0 + 3 * i + 1]
  if expect ~= 'any' and (redis.call('HGET', KEYS[4], ARGV[w0 + 3 * i]) or '0') ~= expect then
    ok = false
  end
end
if not ok then
  local out = {0}
  for i = 0, nw - 1 do
    local k = ARGV[w0 + 3 * i]
    out[#out + 1] = redis.call('HGET', KEYS[3], k) or ''
    out[#out + 1] = tonumber(redis.call('HGET', KEYS[4], k) or '0')
  end
  return out
end
local epoch = epoch_of(KEYS[1], KEYS[2], ARGV[3], ARGV[5])
if ARGV[9] ~= '' then redis.call('HSET', KEYS[1], 'rs', ARGV[9], 'rt', ARGV[10]) end
local size, ttl = retention_of(KEYS[1], ARGV[4], ARGV[5])
local out = {1, epoch, nw}
for i = 0, nw - 1 do
  local k, v = ARGV[w0 + 3 * i], ARGV[w0 + 3 * i + 2]
  if v == '' then
    out[#out + 1] = tonumber(redis.call('HGET', KEYS[4], k) or '0') + 1
    redis.call('HDEL', KEYS[3], k)
    redis.call('HDEL', KEYS[4], k)
  else
    redis.call('HSET', KEYS[3], k, v)
    out[#out + 1] = redis.call('HINCRBY', KEYS[4], k, 1)
  end
end
if ne > 0 and tonumber(size) > 0 then trim(KEYS[2], tonumber(ARGV[6]), tonumber(ttl)) end
for i = 0, ne - 1 do
  local top = redis.call('HINCRBY', KEYS[1], 't', 1)
  local frame = ARGV[e0 + 2 * i] .. top .. ARGV[11] .. epoch .. ARGV[e0 + 2 * i + 1]
  if tonumber(size) > 0 then
    redis.call('XADD', KEYS[2], 'MAXLEN', size, top .. '-1', 't', ARGV[6], 'f', frame)
    redis.call('PEXPIRE', KEYS[2], ttl)
  end
  redis.call(ARGV[8], ARGV[7], top .. ':' .. frame)
  out[#out + 1] = top
end
redis.call('PEXPIRE', KEYS[1], ttl)
return out
)";

// KEYS: docs hash, versions hash. ARGV: doc keys. Returns {value, version, ...} ('' and 0 for
// an absent document), one snapshot.
const std::string read_docs_lua = R"(
local out = {}
for i = 1, #ARGV do
  out[#out + 1] = redis.call('HGET', KEYS[1], ARGV[i]) or ''
  out[#out + 1] = tonumber(redis.call('HGET', KEYS[2], ARGV[i]) or '0')
end
return out
)";

// KEYS: docs hash, versions hash. ARGV: key prefix. Returns {key, value, version, ...} unordered.
const std::string list_docs_lua = R"(
local out = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if string.sub(all[i], 1, #ARGV[1]) == ARGV[1] then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
    out[#out + 1] = tonumber(redis.call('HGET', KEYS[2], all[i]) or '0')
  end
end
return out
)";

// Global indexes: one sorted set each. KEYS: the set. Through EVAL so they are routed by slot
// and follow redirects like every other command.
const std::string index_put_lua = R"(
return redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
)";
const std::string index_remove_lua = R"(
return redis.call('ZREM', KEYS[1], ARGV[1])
)";
// ARGV: max score, limit. Returns {member, score, ...}, lowest score first.
const std::string index_range_lua = R"(
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
)";

// The stream position and a slice of history. KEYS: meta, stream. ARGV: since (-1: latest),
// limit, now ms, ttl ms, new epoch. Returns {top, epoch, first, offset, ts, frame, ...}.
const std::string history_lua = std::string(trim_lua) + R"(
local epoch = epoch_of(KEYS[1], KEYS[2], ARGV[5], ARGV[4])
local _, ttl = retention_of(KEYS[1], 0, ARGV[4])
local top = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
trim(KEYS[2], tonumber(ARGV[3]), tonumber(ttl))
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

// KEYS: presence hash, deadlines zset. ARGV: client, name, deadline ms, ttl ms, pub/sub, frame,
// PUBLISH or SPUBLISH.
const std::string join_lua = R"(
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call(ARGV[7], ARGV[5], 'p:' .. ARGV[6])
return 1
)";

// KEYS: presence hash, deadlines zset. ARGV: client, pub/sub, frame, PUBLISH or SPUBLISH.
const std::string leave_lua = R"(
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call(ARGV[4], ARGV[2], 'p:' .. ARGV[3])
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

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ms(std::chrono::milliseconds d) {
  return std::to_string(d.count());
}

// Between a frame's head and tail the scripts splice offset, this, and the epoch.
constexpr const char* frame_middle = ",\"epoch\":\"";

// A stream event's frame (as protocol::encode_message_event writes it) split around the offset
// and epoch, which only the script knows.
std::pair<std::string, std::string> frame_parts(std::string_view channel, std::string_view event,
                                                std::string_view data, const client_info& by,
                                                std::int64_t now) {
  std::string head = "{\"event\":";
  protocol::append_json_string(head, event);
  head += ",\"channel\":";
  protocol::append_json_string(head, channel);
  head += ",\"offset\":";
  std::string tail = "\",\"ts\":";
  tail += std::to_string(now);
  tail += ",\"sender\":{\"client\":";
  protocol::append_json_string(tail, by.client);
  tail += ",\"name\":";
  protocol::append_json_string(tail, by.name);
  tail += "},\"data\":";
  if (data.empty())
    tail += "null";
  else
    tail += data;
  tail += '}';
  return {std::move(head), std::move(tail)};
}

// An integer element of a script's reply (Lua numbers arrive as integers).
bool is_int(const redisReply& r) noexcept {
  return r.type == REDIS_REPLY_INTEGER;
}

std::string describe(const reply_ptr& r) {
  return r ? std::string(text(*r)) : std::string();
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
        if (ec || !r || r->type != REDIS_REPLY_ARRAY) {
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
        for (std::size_t i = 0; i < r->elements; ++i) {
          auto* range = r->element[i];
          if (range->type != REDIS_REPLY_ARRAY || range->elements < 3) continue;
          auto* master = range->element[2];
          if (master->type != REDIS_REPLY_ARRAY || master->elements < 2) continue;
          auto index = add_shard(std::string(text(*master->element[0])),
                                 static_cast<std::uint16_t>(master->element[1]->integer));
          for (auto slot = range->element[0]->integer;
               slot <= range->element[1]->integer && slot < 16384; ++slot) {
            owner[static_cast<std::size_t>(slot)] = static_cast<std::uint16_t>(index);
            covered[static_cast<std::size_t>(slot)] = true;
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

void redis_engine::eval(const std::string& channel, const std::string& script,
                        const std::string& digest, std::vector<std::string> keys,
                        std::vector<std::string> args, redis_connection::reply_handler h,
                        int redirects) {
  auto build = [&](bool by_sha) {
    std::vector<std::string_view> argv = {
        by_sha ? "EVALSHA" : "EVAL", by_sha ? std::string_view(digest) : std::string_view(script)};
    std::string nkeys = std::to_string(keys.size());
    argv.push_back(nkeys);
    for (auto& k : keys) argv.push_back(k);
    for (auto& a : args) argv.push_back(a);
    return format_command(argv);
  };
  auto& conn = shards_[shard_for(channel)]->cmd;
  auto full = std::make_shared<std::string>(build(false));
  auto retry = [this, channel, &script, &digest, keys, args,
                redirects](redis_connection::reply_handler hh) mutable {
    eval(channel, script, digest, std::move(keys), std::move(args), std::move(hh), redirects + 1);
  };
  // EVALSHA first; a Redis that does not know the script yet (restart, failover) gets it once.
  conn->command(build(true), [this, conn, full, retry = std::move(retry), redirects,
                              h = std::move(h)](std::error_code ec, reply_ptr r) mutable {
    if (!ec && r && r->type == REDIS_REPLY_ERROR) {
      auto err = text(*r);
      if (err.starts_with("NOSCRIPT")) return conn->command(std::move(*full), std::move(h));
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
            return to->command(std::move(*full), std::move(h));
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
                           publish_handler h) {
  if (stopped_) return h(make_error_code(engine_errc::unavailable), {});
  // The frame is built here except for offset and epoch, which the script splices in.
  auto now = now_ms();
  auto [head, tail] = frame_parts(channel, "message", data, sender, now);
  net::post(ioc_, [this, ch = std::string(channel), head = std::move(head), tail = std::move(tail),
                   now, h = std::move(h)]() mutable {
    auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.history_ttl);
    eval(ch, publish_lua, sha(publish_lua), {key(ch, "m"), key(ch, "s")},
         {head, frame_middle, tail, new_epoch(), std::to_string(opts_.history_size), ms(ttl),
          std::to_string(now), pubsub_name(ch), publish_command()},
         [h = std::move(h)](std::error_code ec, reply_ptr r) {
           if (ec) return h(ec, {});
           if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
               r->element[0]->type != REDIS_REPLY_INTEGER) {
             spdlog::error("redis publish: unexpected reply {}", r ? std::string(text(*r)) : "");
             return h(make_error_code(engine_errc::bad_reply), {});
           }
           h({}, {static_cast<std::uint64_t>(r->element[0]->integer),
                  std::string(text(*r->element[1]))});
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
  eval(ch, history_lua, sha(history_lua), {key(ch, "m"), key(ch, "s")},
       {since, std::to_string(q.limit), std::to_string(now_ms()), ms(ttl), new_epoch()},
       [h = std::move(h)](std::error_code ec, reply_ptr r) {
         if (ec) return h(ec, {});
         if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3 || (r->elements - 3) % 3 != 0) {
           spdlog::error("redis history: unexpected reply {}", r ? std::string(text(*r)) : "");
           return h(make_error_code(engine_errc::bad_reply), {});
         }
         history_result res;
         res.top = {static_cast<std::uint64_t>(r->element[0]->integer),
                    std::string(text(*r->element[1]))};
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
  if (stopped_) return h(make_error_code(engine_errc::unavailable), {});
  net::post(ioc_, [this, ch = std::string(channel), h = std::move(h)]() mutable {
    eval(ch, presence_lua, sha(presence_lua), {key(ch, "p"), key(ch, "pz")},
         {std::to_string(now_ms())}, [h = std::move(h)](std::error_code ec, reply_ptr r) {
           if (ec) return h(ec, {});
           if (!r || r->type != REDIS_REPLY_ARRAY)
             return h(make_error_code(engine_errc::bad_reply), {});
           std::vector<client_info> out;
           for (std::size_t i = 0; i + 1 < r->elements; i += 2)
             out.push_back(
                 {std::string(text(*r->element[i])), std::string(text(*r->element[i + 1]))});
           std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.client < b.client; });
           h({}, std::move(out));
         });
  });
}

void redis_engine::presence_join(std::string_view channel, const client_info& who) {
  if (stopped_) return;  // sessions released at shutdown must not post to a dying loop
  net::post(ioc_, [this, ch = std::string(channel), who] {
    local_presence_[ch][who.client] = who.name;
    // Published once this node listens, so the first local subscriber hears its own join too.
    after_subscribed(ch, [this, ch, who] {
      if (stopped_) return;
      auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.presence_ttl);
      eval(ch, join_lua, sha(join_lua), {key(ch, "p"), key(ch, "pz")},
           {who.client, who.name, std::to_string(now_ms() + ttl.count()), ms(ttl * 4),
            pubsub_name(ch), protocol::encode_presence_event(true, ch, who.client, who.name),
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
    eval(ch, leave_lua, sha(leave_lua), {key(ch, "p"), key(ch, "pz")},
         {who.client, pubsub_name(ch),
          protocol::encode_presence_event(false, ch, who.client, who.name), publish_command()},
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
    for (auto& [client, name] : clients)
      conn->command(format_command({"HSET", key(ch, "p"), client, name}),
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
  for (auto& [index, chans] : subs) {
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
  auto name = text(*r.element[1]);
  if (!name.starts_with(opts_.prefix) || name.size() < opts_.prefix.size() + 2) return;
  auto channel = name.substr(opts_.prefix.size() + 1, name.size() - opts_.prefix.size() - 2);
  auto notice = subscription_notice(r);
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
  auto payload = text(*r.element[r.elements - 1]);
  auto colon = payload.find(':');
  if (colon == std::string_view::npos || !sink_) return;
  channel_event ev;
  if (payload.substr(0, colon) == "p") {
    ev.presence = true;
  } else {
    ev.offset = std::strtoull(std::string(payload.substr(0, colon)).c_str(), nullptr, 10);
    if (ev.offset == 0) return;
    // The script wrote the frame: its epoch is the first "epoch" field.
    auto e = payload.find("\"epoch\":\"", colon);
    if (e != std::string_view::npos) {
      auto start = e + 9, end = payload.find('"', start);
      if (end != std::string_view::npos) ev.epoch = std::string(payload.substr(start, end - start));
    }
  }
  ev.frame = std::make_shared<const std::string>(payload.substr(colon + 1));
  sink_->on_event(channel, ev);
}

void redis_engine::read_docs(std::string_view channel, std::vector<std::string> keys,
                             docs_handler h) {
  if (stopped_) return h(make_error_code(engine_errc::unavailable), {});
  net::post(ioc_, [this, ch = std::string(channel), keys = std::move(keys),
                   h = std::move(h)]() mutable {
    auto args = keys;
    eval(ch, read_docs_lua, sha(read_docs_lua), {key(ch, "d"), key(ch, "dv")}, std::move(args),
         [keys = std::move(keys), h = std::move(h)](std::error_code ec, reply_ptr r) mutable {
           if (ec) return h(ec, {});
           bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 * keys.size();
           for (std::size_t i = 0; ok && i < keys.size(); ++i)
             ok = r->element[2 * i]->type == REDIS_REPLY_STRING && is_int(*r->element[2 * i + 1]);
           if (!ok) {
             spdlog::error("redis read_docs: unexpected reply {}", describe(r));
             return h(make_error_code(engine_errc::bad_reply), {});
           }
           std::vector<doc> out;
           out.reserve(keys.size());
           for (std::size_t i = 0; i < keys.size(); ++i)
             out.push_back({std::move(keys[i]), std::string(text(*r->element[2 * i])),
                            static_cast<std::uint64_t>(r->element[2 * i + 1]->integer)});
           h({}, std::move(out));
         });
  });
}

void redis_engine::list_docs(std::string_view channel, std::string prefix, docs_handler h) {
  if (stopped_) return h(make_error_code(engine_errc::unavailable), {});
  net::post(ioc_, [this, ch = std::string(channel), prefix = std::move(prefix),
                   h = std::move(h)]() mutable {
    eval(
        ch, list_docs_lua, sha(list_docs_lua), {key(ch, "d"), key(ch, "dv")}, {std::move(prefix)},
        [h = std::move(h)](std::error_code ec, reply_ptr r) {
          if (ec) return h(ec, {});
          bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements % 3 == 0;
          for (std::size_t i = 0; ok && i < r->elements; i += 3)
            ok = r->element[i]->type == REDIS_REPLY_STRING &&
                 r->element[i + 1]->type == REDIS_REPLY_STRING && is_int(*r->element[i + 2]);
          if (!ok) {
            spdlog::error("redis list_docs: unexpected reply {}", describe(r));
            return h(make_error_code(engine_errc::bad_reply), {});
          }
          std::vector<doc> out;
          out.reserve(r->elements / 3);
          for (std::size_t i = 0; i < r->elements; i += 3)
            out.push_back({std::string(text(*r->element[i])), std::string(text(*r->element[i + 1])),
                           static_cast<std::uint64_t>(r->element[i + 2]->integer)});
          // A hash has no order; the contract is key order.
          std::sort(out.begin(), out.end(),
                    [](const doc& a, const doc& b) { return a.key < b.key; });
          h({}, std::move(out));
        });
  });
}

void redis_engine::commit(std::string_view channel, std::vector<doc_write> writes,
                          std::vector<event_spec> events, std::optional<retention> keep,
                          commit_handler h) {
  if (stopped_) return h(make_error_code(engine_errc::unavailable), {});
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
                                   frame_middle};
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
    auto [head, tail] = frame_parts(channel, e.event, e.data, e.by, now);
    args.push_back(std::move(head));
    args.push_back(std::move(tail));
  }
  net::post(ioc_, [this, ch = std::string(channel), args = std::move(args),
                   written = std::move(written), nevents = events.size(),
                   h = std::move(h)]() mutable {
    eval(ch, commit_lua, sha(commit_lua), {key(ch, "m"), key(ch, "s"), key(ch, "d"), key(ch, "dv")},
         std::move(args),
         [written = std::move(written), nevents, h = std::move(h)](std::error_code ec,
                                                                   reply_ptr r) mutable {
           if (ec) return h(ec, {});
           auto bad = [&] {
             spdlog::error("redis commit: unexpected reply {}", describe(r));
             h(make_error_code(engine_errc::bad_reply), {});
           };
           if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || !is_int(*r->element[0]))
             return bad();
           commit_result res;
           auto* e = r->element;
           if (e[0]->integer == 0) {
             if (r->elements != 1 + 2 * written.size()) return bad();
             for (std::size_t i = 0; i < written.size(); ++i) {
               if (e[1 + 2 * i]->type != REDIS_REPLY_STRING || !is_int(*e[2 + 2 * i])) return bad();
               res.current.push_back({std::move(written[i]), std::string(text(*e[1 + 2 * i])),
                                      static_cast<std::uint64_t>(e[2 + 2 * i]->integer)});
             }
             return h({}, std::move(res));
           }
           if (r->elements != 3 + written.size() + nevents || e[1]->type != REDIS_REPLY_STRING ||
               !is_int(*e[2]) || static_cast<std::size_t>(e[2]->integer) != written.size())
             return bad();
           for (std::size_t i = 3; i < r->elements; ++i)
             if (!is_int(*e[i])) return bad();
           res.applied = true;
           res.epoch = std::string(text(*e[1]));
           for (std::size_t i = 0; i < written.size(); ++i)
             res.versions.push_back(static_cast<std::uint64_t>(e[3 + i]->integer));
           for (std::size_t i = 3 + written.size(); i < r->elements; ++i)
             res.offsets.push_back(static_cast<std::uint64_t>(e[i]->integer));
           h({}, std::move(res));
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
    eval(ch, index_put_lua, sha(index_put_lua), {key(ch, "z")},
         {std::to_string(score), std::move(member)},
         [h = std::move(h)](std::error_code ec, reply_ptr r) {
           if (ec) return h(ec);
           if (!r || !is_int(*r)) {
             spdlog::error("redis index_put: unexpected reply {}", describe(r));
             return h(make_error_code(engine_errc::bad_reply));
           }
           h({});
         });
  });
}

void redis_engine::index_remove(std::string index, std::string member, done_handler h) {
  if (stopped_) return h(make_error_code(engine_errc::unavailable));
  net::post(ioc_, [this, index = std::move(index), member = std::move(member),
                   h = std::move(h)]() mutable {
    auto ch = "idx:" + index;
    eval(ch, index_remove_lua, sha(index_remove_lua), {key(ch, "z")}, {std::move(member)},
         [h = std::move(h)](std::error_code ec, reply_ptr r) {
           if (ec) return h(ec);
           if (!r || !is_int(*r)) {
             spdlog::error("redis index_remove: unexpected reply {}", describe(r));
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
    eval(ch, index_range_lua, sha(index_range_lua), {key(ch, "z")},
         {std::to_string(max_score), std::to_string(count)},
         [h = std::move(h)](std::error_code ec, reply_ptr r) {
           if (ec) return h(ec, {});
           bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements % 2 == 0;
           for (std::size_t i = 0; ok && i < r->elements; ++i)
             ok = r->element[i]->type == REDIS_REPLY_STRING;
           if (!ok) {
             spdlog::error("redis index_range: unexpected reply {}", describe(r));
             return h(make_error_code(engine_errc::bad_reply), {});
           }
           std::vector<std::pair<std::string, std::int64_t>> out;
           out.reserve(r->elements / 2);
           for (std::size_t i = 0; i < r->elements; i += 2) {
             // Scores are doubles in Redis ("1e+17" is possible): parse as one.
             auto score = std::strtod(std::string(text(*r->element[i + 1])).c_str(), nullptr);
             out.emplace_back(std::string(text(*r->element[i])), static_cast<std::int64_t>(score));
           }
           h({}, std::move(out));
         });
  });
}

}  // namespace muster::server::redis
