#pragma once
// The durable single-node engine: SQLite (WAL) holds every channel's epoch, offsets and
// retained stream, the crisis documents and the global indexes, so a restart or a crash loses
// nothing that was acknowledged. One writer thread owns the write connection and commits what
// was asked in groups (one transaction per wake-up, bounded); only then do events reach the
// sink and handlers run — so nothing anyone saw can vanish in a crash. What is visible in
// memory (positions, recent events, documents, indexes) is always durable; history older than
// the in-memory window is read on a reader thread with its own connection. Presence is kept in
// process. Methods may be called from any thread; no call waits on disk; handlers run on the
// writer or reader thread, or inline for what memory answers.
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "server/engine/embedded/cold_keys.hpp"
#include "server/engine/engine.hpp"
#include "server/engine/ephemeral_table.hpp"
#include "server/engine/memory_engine.hpp"
#include "server/engine/presence_table.hpp"

namespace muster::server::embedded {

class database;

class embedded_engine final : public engine {
 public:
  using clock_fn = std::function<std::chrono::system_clock::time_point()>;
  struct options {
    std::string path;               // the database file (created if absent)
    bool synchronous_full = false;  // fsync every commit (power loss), not only the WAL order
    std::size_t history_size = 1000;
    std::chrono::seconds history_ttl{86400};
    std::size_t window = 1024;                     // newest events per channel kept in memory
    std::size_t cache_mb = 8;                      // the writer's page cache (SQLite's own)
    std::chrono::seconds idempotency_window{600};  // how long a publish's key is remembered
    std::size_t max_batch = 4096;                  // requests committed in one transaction at most
    std::chrono::milliseconds busy_timeout{5000};  // waiting for a lock held by another process
    /// Where the handlers of committed changes run (in commit order), so that what they do next
    /// (a crisis command's next step) does not load the writer thread. None: on the writer.
    std::function<void(std::function<void()>)> complete;
  };
  /// Opens (or creates, or migrates) the database and loads its state. Throws
  /// embedded::sqlite_error (naming the file) when the file cannot be used.
  explicit embedded_engine(options opts, clock_fn clock = &std::chrono::system_clock::now);
  ~embedded_engine() override;

  void start(engine_sink& sink) override;
  void stop() override;
  bool ready() const override { return healthy_.load(); }
  using stream_store::publish;
  void publish(std::string_view channel, std::string data, const client_info& sender,
               std::string_view idempotency_key, publish_handler h) override;
  void history(std::string_view channel, history_query q, history_handler h) override;
  void subscribe(std::string_view) override {}
  void unsubscribe(std::string_view) override {}
  void presence(std::string_view channel, presence_handler h) override;
  void presence_join(std::string_view channel, const client_info& who) override;
  void presence_leave(std::string_view channel, const client_info& who) override;
  void ephemeral_set(std::string_view channel, std::string key, std::string value,
                     std::chrono::milliseconds ttl, std::string event, set_handler h) override;
  void ephemeral_list(std::string_view channel, std::string prefix, entries_handler h) override;
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
  /// Expires history past its TTL (in memory now, on disk through the writer, bounded).
  void sweep() override;
  void append_metrics(std::string& out) const override;

  /// The schema version this build writes (PRAGMA user_version).
  /// 1: channels, events, docs, indexes; 2: + idempotency keys; 3: + docs.cold. Older files
  /// are migrated.
  static constexpr int schema_version = 3;

  // What the writer works on; public for the writer's translation unit only.
  // Documents by key: version and value (an empty value in a batch is a deletion).
  using doc_map = std::map<std::string, std::pair<std::uint64_t, std::string>, std::less<>>;
  struct channel_state {
    std::int64_t id = 0;  // its row in `channels` (0: not stored yet)
    std::string epoch;
    std::uint64_t top = 0;
    std::uint64_t first = 1;  // oldest offset still retained (top + 1 when none)
    std::optional<retention> keep;
    std::deque<stored_publication> window;  // the newest events, contiguous up to `top`
    doc_map docs;
    // Which documents are kept on disk only (written `cold`: closed alerts): read from the file.
    cold_keys cold;
    // Idempotency keys of recent publishes: the offset they got, and until when.
    std::map<std::string, std::pair<std::uint64_t, std::int64_t>, std::less<>> keys;
    std::int64_t touched_ms = 0;
  };
  /// One queued change (writer thread once queued).
  struct request {
    enum kind_t {
      publish,
      commit,
      index_put,
      index_remove,
      index_put_earlier,
      index_replace,
      expire
    } kind = publish;
    std::string channel;               // publish, commit
    std::string data;                  // publish: minified JSON
    std::string key;                   // publish: its idempotency key (empty: none)
    client_info sender;                // publish
    std::vector<doc_write> writes;     // commit
    std::vector<event_spec> events;    // commit
    std::vector<index_write> indexes;  // commit: changed in the same transaction
    std::optional<retention> keep;     // commit
    std::string index, member;         // index ops
    std::int64_t score = 0;            // index_put, index_put_earlier
    std::int64_t expect = 0;           // index_replace: the score it must still have
    std::optional<std::int64_t> to;    // index_replace: the new score (none: remove)
    publish_handler on_publish;
    commit_handler on_commit;
    done_handler on_done;
    // The outcome, filled in by the writer and handed over once the transaction committed.
    protocol::stream_position position;
    commit_result result;
  };

  /// What one transaction changes.
  struct batch {
    /// One channel as this transaction leaves it.
    struct channel_change {
      std::int64_t id = 0;
      std::string epoch;
      std::uint64_t top = 0;
      std::uint64_t first = 1;
      std::optional<retention> keep;
      bool keep_changed = false;
      bool dirty = false;  // its row (top, retention) must be written
      std::vector<stored_publication> appended;
      // Written documents: version and value; an empty value is a deletion.
      doc_map docs;
      std::set<std::string, std::less<>> cold;      // which of them are written cold
      std::set<std::string, std::less<>> was_cold;  // which were on disk only before
      // Idempotency keys recorded by this transaction.
      std::map<std::string, std::pair<std::uint64_t, std::int64_t>, std::less<>> keys;
    };
    std::map<std::string, channel_change, std::less<>> channels;
    // Index members set (a score) or removed (none).
    std::map<std::pair<std::string, std::string>, std::optional<std::int64_t>> indexes;
    // Every appended event, in order, for the sink.
    std::vector<std::pair<std::string, channel_event>> events;
  };
  struct statements;  // the writer's prepared statements (writer.cpp)

 private:
  struct shard {
    std::mutex mutex;
    std::unordered_map<std::string, channel_state, string_hash, std::equal_to<>> channels;
  };
  shard& shard_for(std::string_view channel);
  channel_state& state(shard& s, std::string_view channel);  // under s.mutex
  std::int64_t now_ms() const;
  std::size_t keep_size(const channel_state& st) const;
  std::int64_t keep_ttl_ms(const channel_state& st) const;
  void trim_window(channel_state& st, std::int64_t now);  // under the shard's mutex
  void load();
  void enqueue(std::unique_ptr<request> r);
  void write_loop();
  void run_batch(std::vector<std::unique_ptr<request>>& todo);
  // Steps of a batch, inside its transaction (writer thread).
  batch::channel_change& change_for(batch& b, const std::string& channel);
  void store_channel(batch::channel_change& c, const std::string& channel);
  void append_event(batch& b, batch::channel_change& c, const std::string& channel,
                    std::string_view event, std::string_view data, const client_info& by,
                    std::int64_t now);
  std::pair<std::uint64_t, std::string> current_doc(batch::channel_change& c,
                                                    const std::string& channel,
                                                    const std::string& key);
  void run_publish(batch& b, request& r, std::int64_t now);
  void run_commit(batch& b, request& r, std::int64_t now);
  void write_index(batch& b, index_write i);
  /// Stores one write of an applied commit in `c`; returns `version`.
  std::uint64_t write_doc(batch::channel_change& c, std::uint64_t version, doc_write& w);
  void run_index(batch& b, request& r);
  void run_expire(batch& b, std::int64_t now);
  void finish_channels(batch& b);
  void apply(batch& b);  // makes a committed batch visible
  void apply_doc(channel_state& st, batch::channel_change& c, doc_map::node_type node);
  struct disk_read;
  void queue_read(disk_read r);
  void read_loop();
  void checkpoint();  // reader thread
  void read_from_disk(const std::string& channel, history_query q, history_handler& h);
  /// Documents of a channel that has cold ones, from the file (reader thread).
  void read_docs_from_disk(const std::string& channel, const std::vector<std::string>& keys,
                           const std::string& prefix, bool by_prefix, docs_handler& h);
  /// A document the writer needs that is not in memory (writer thread).
  std::pair<std::uint64_t, std::string> cold_doc(std::int64_t channel_id, const std::string& key);
  static void fail_all(std::vector<std::unique_ptr<request>>& todo, std::error_code ec);
  static void answer(std::vector<std::unique_ptr<request>>& todo);

  options opts_;
  clock_fn clock_;
  std::unique_ptr<database> db_;     // the writer's connection (writer thread only, after load)
  std::unique_ptr<database> read_;   // the reader's connection (reader thread only)
  std::shared_ptr<statements> sql_;  // writer thread only (shared_ptr: an incomplete type here)
  engine_sink* sink_ = nullptr;
  presence_table presence_;
  ephemeral_table ephemeral_{clock_};
  std::array<shard, 16> shards_;
  std::mutex index_mutex_;
  std::map<std::string, std::map<std::string, std::int64_t>, std::less<>> indexes_;

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::vector<std::unique_ptr<request>> queue_;  // guarded by queue_mutex_
  bool stopping_ = false;                        // guarded by queue_mutex_
  struct disk_read {
    std::string channel;
    history_query q;
    history_handler h;
    // Or documents: these keys, or every key under `prefix`.
    bool docs = false;
    bool by_prefix = false;
    std::vector<std::string> keys;
    std::string prefix;
    docs_handler on_docs;
  };
  std::mutex read_mutex_;
  std::condition_variable read_cv_;
  std::deque<disk_read> reads_;  // guarded by read_mutex_
  bool read_stopping_ = false;   // guarded by read_mutex_
  std::thread writer_, reader_;
  std::atomic<bool> healthy_{true};
  std::atomic<std::uint64_t> commits_{0}, failures_{0}, disk_reads_{0};
  std::atomic<std::int64_t> memory_docs_{0}, cold_docs_{0};  // for the metrics
};

}  // namespace muster::server::embedded
