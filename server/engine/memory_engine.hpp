#pragma once
// The embedded single-node engine: per-channel epoch, offsets and bounded history in memory.
// Thread-safe: channels are spread over mutex-guarded shards; handlers run inline.
#include <array>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "server/engine/engine.hpp"
#include "server/engine/ephemeral_table.hpp"
#include "server/engine/presence_table.hpp"

namespace muster::server {

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

class memory_engine final : public engine {
 public:
  using clock_fn = std::function<std::chrono::system_clock::time_point()>;
  struct options {
    std::size_t history_size = 1000;
    std::chrono::seconds history_ttl{86400};
    std::chrono::seconds idempotency_window{600};  // how long a publish's key is remembered
  };
  explicit memory_engine(options opts, clock_fn clock = &std::chrono::system_clock::now);

  void start(engine_sink& sink) override;
  void stop() override;
  bool ready() const override { return true; }
  using stream_store::publish;
  void publish(std::string_view channel, std::string data, const client_info& sender,
               std::string_view idempotency_key, publish_handler h) override;
  void history(std::string_view channel, history_query q, history_handler h) override;
  void presence(std::string_view channel, presence_handler h) override;
  void subscribe(std::string_view) override {}
  void unsubscribe(std::string_view) override {}
  void presence_join(std::string_view channel, const client_info& who) override;
  void presence_leave(std::string_view channel, const client_info& who) override;
  void ephemeral_set(std::string_view channel, std::string key, std::string value,
                     std::chrono::milliseconds ttl, std::string event, set_handler h) override;
  void ephemeral_list(std::string_view channel, std::string prefix, entries_handler h) override;
  /// Expires history past its TTL, and forgets channels nobody uses: no history, no presence,
  /// untouched for the TTL (or for a minute if nothing was ever published), so that reads of
  /// random channel names cannot grow memory for ever.
  void sweep() override;
  void read_docs(std::string_view channel, std::vector<std::string> keys, docs_handler h) override;
  void list_docs(std::string_view channel, std::string prefix, docs_handler h) override;
  void commit(std::string_view channel, std::vector<doc_write> writes,
              std::vector<event_spec> events, std::optional<retention> keep,
              commit_handler h) override;
  void commit_with_indexes(std::string_view channel, std::vector<doc_write> writes,
                           std::vector<event_spec> events, std::optional<retention> keep,
                           std::vector<index_write> indexes, commit_handler h) override;
  bool linked_writes() const override { return true; }
  void index_put(std::string index, std::string member, std::int64_t score,
                 done_handler h) override;
  void index_put_earlier(std::string index, std::string member, std::int64_t score,
                         done_handler h) override;
  void index_replace(std::string index, std::string member, std::int64_t expect,
                     std::optional<std::int64_t> score, done_handler h) override;
  void index_remove(std::string index, std::string member, done_handler h) override;
  void index_range(std::string index, std::int64_t max_score, std::size_t limit,
                   index_handler h) override;
  std::size_t channel_count();

 private:
  struct channel_state {
    std::string epoch;
    std::uint64_t top = 0;
    std::deque<stored_publication> history;
    std::int64_t touched_ms = 0;  // last publish, read or presence change
    std::map<std::string, std::pair<std::uint64_t, std::string>, std::less<>>
        docs;                       // version, value
    std::optional<retention> keep;  // overrides the configured history bounds
    // Idempotency keys of recent publishes: the offset they got, and until when.
    std::map<std::string, std::pair<std::uint64_t, std::int64_t>, std::less<>> keys;
  };
  struct shard {
    std::mutex mutex;
    std::unordered_map<std::string, channel_state, string_hash, std::equal_to<>> channels;
  };
  shard& shard_for(std::string_view channel);
  channel_state& state(shard& s, std::string_view channel);  // under s.mutex
  void trim(channel_state& st, std::int64_t now_ms);         // under the shard's mutex
  /// Appends one event to the stream and hands it to the sink (under the shard's mutex).
  protocol::stream_position append(channel_state& st, std::string_view channel, std::string event,
                                   std::string data, const client_info& by);
  std::int64_t now_ms() const;

  options opts_;
  clock_fn clock_;
  engine_sink* sink_ = nullptr;
  presence_table presence_;
  ephemeral_table ephemeral_{clock_};
  std::array<shard, 16> shards_;
  std::mutex index_mutex_;
  std::map<std::string, std::map<std::string, std::int64_t>> indexes_;  // under index_mutex_
};

}  // namespace muster::server
