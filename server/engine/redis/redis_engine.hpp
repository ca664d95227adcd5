#pragma once
// The multi-node engine: channels live in Redis (offsets and epoch in a hash, history in a
// stream, presence in a hash + sorted set of deadlines), one Lua script per atomic step, and
// fan-out through Redis pub/sub: a node subscribes to a channel only while it has local
// subscribers. Redis I/O runs on one I/O thread's io_context; methods may be called from any
// thread (they post there) and handlers run on that thread.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <map>
#include <set>
#include <unordered_map>

#include "server/engine/engine.hpp"
#include "server/engine/redis/redis_connection.hpp"

namespace muster::server::redis {

/// A Lua script and its SHA-1 (sent by EVALSHA first).
struct lua_script {
  std::string text;
  std::string sha;
};

class redis_engine final : public engine {
 public:
  struct options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    std::string password;
    std::string prefix = "muster:";
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds command_timeout{2000};
    std::size_t history_size = 1000;
    std::chrono::seconds history_ttl{86400};
    std::chrono::seconds presence_ttl{30};
    std::chrono::seconds idempotency_window{600};  // how long a publish's key is remembered
    /// Redis Cluster: `host:port` is a seed; keys are routed by slot and fan-out uses sharded
    /// pub/sub (SPUBLISH/SSUBSCRIBE on the node owning the channel's slot).
    bool cluster = false;
  };
  redis_engine(boost::asio::io_context& ioc, options opts);
  ~redis_engine() override;

  void start(engine_sink& sink) override;
  void stop() override;
  bool ready() const override { return ready_.load(); }
  using stream_store::publish;
  void publish(std::string_view channel, std::string data, const client_info& sender,
               std::string_view idempotency_key, publish_handler h) override;
  void history(std::string_view channel, history_query q, history_handler h) override;
  void presence(std::string_view channel, presence_handler h) override;
  void subscribe(std::string_view channel) override;
  void unsubscribe(std::string_view channel) override;
  void presence_join(std::string_view channel, const client_info& who) override;
  void presence_leave(std::string_view channel, const client_info& who) override;
  void ephemeral_set(std::string_view channel, std::string entry, std::string value,
                     std::chrono::milliseconds ttl, std::string event, set_handler h) override;
  void ephemeral_list(std::string_view channel, std::string prefix, entries_handler h) override;
  void sweep() override {}
  void read_docs(std::string_view channel, std::vector<std::string> keys, docs_handler h) override;
  void list_docs(std::string_view channel, std::string prefix, docs_handler h) override;
  void commit(std::string_view channel, std::vector<doc_write> writes,
              std::vector<event_spec> events, std::optional<retention> keep,
              commit_handler h) override;
  void index_put(std::string index, std::string member, std::int64_t score,
                 done_handler h) override;
  void index_put_earlier(std::string index, std::string member, std::int64_t score,
                         done_handler h) override;
  void index_replace(std::string index, std::string member, std::int64_t expect,
                     std::optional<std::int64_t> score, done_handler h) override;
  void index_remove(std::string index, std::string member, done_handler h) override;
  void index_range(std::string index, std::int64_t max_score, std::size_t limit,
                   index_handler h) override;
  void append_metrics(std::string& out) const override;

  std::uint64_t reconnects() const;

 private:
  /// One Redis node (the only one, or one cluster master): commands and subscriptions.
  struct shard {
    std::string host;
    std::uint16_t port = 0;
    std::shared_ptr<redis_connection> cmd;
    std::shared_ptr<redis_connection> sub;
    std::set<std::string> confirmed;  // channels whose SUBSCRIBE this connection acknowledged
  };
  std::string key(std::string_view channel, std::string_view suffix) const;
  std::string pubsub_name(std::string_view channel) const;
  /// One script over a global index's sorted set whose reply is an integer.
  void index_script(std::string index, const lua_script& script, std::vector<std::string> args,
                    const char* what, done_handler h);
  void eval(const std::string& channel, const lua_script& script, std::vector<std::string> keys,
            std::vector<std::string> args, redis_connection::reply_handler h, int redirects = 0);
  void on_push(std::size_t shard, const redisReply& r);
  void flush_subscriptions();
  std::size_t add_shard(const std::string& host, std::uint16_t port);
  std::size_t shard_for(std::string_view channel) const;
  void refresh_slots();
  void update_ready();
  bool confirmed(const std::string& channel) const;
  std::string publish_command() const { return opts_.cluster ? "SPUBLISH" : "PUBLISH"; }
  void do_history(std::string channel, history_query q, history_handler h);
  /// Runs `fn` once this node's Redis subscription to `channel` is confirmed (at once when it is,
  /// or when the node does not want it; bounded by the command timeout). Redis thread only.
  void after_subscribed(const std::string& channel, std::function<void()> fn);
  void heartbeat();

  boost::asio::io_context& ioc_;
  options opts_;
  engine_sink* sink_ = nullptr;
  std::atomic<bool> ready_{false};
  std::atomic<std::uint64_t> reconnects_total_{0};
  std::shared_ptr<redis_connection> seed_cmd_;  // for the latency histogram (set once)
  // Released by stop(), while the loop they belong to still exists.
  std::unique_ptr<boost::asio::steady_timer> heartbeat_timer_;
  std::unique_ptr<boost::asio::steady_timer> refresh_timer_;

  // All below: the Redis thread only (metrics read the connections' atomics).
  std::vector<std::unique_ptr<shard>> shards_;  // [0]: the configured address (seed)
  std::vector<std::uint16_t> slot_owner_;       // cluster: slot -> shard index
  bool slots_known_ = false;
  bool refreshing_ = false;
  std::set<std::string> wanted_;  // channels with local subscribers
  std::set<std::string> to_subscribe_, to_unsubscribe_;
  bool flush_posted_ = false;
  std::unordered_map<std::string, std::vector<std::function<void()>>>
      waiting_;  // reads after SUBSCRIBE
  std::map<std::string, std::map<std::string, std::string>>
      local_presence_;                // channel -> client -> stored entry (name, user)
  std::atomic<bool> stopped_{false};  // after stop(): no more posts (the loop may be going away)
};

}  // namespace muster::server::redis
