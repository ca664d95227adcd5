#pragma once
// The engine interfaces, one per concern (streams, presence, documents, indexes), and `engine`,
// which has all four: what a node needs from its storage and cross-node fan-out backend.
// Implemented by memory_engine (embedded) and, for several nodes, by the Redis engine. All
// methods may be called from any thread.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "protocol/codec.hpp"

namespace muster::server {

enum class engine_errc {
  /// The backend cannot be reached or is not ready.
  unavailable = 1,
  /// The backend did not answer in time.
  timeout,
  /// The backend answered something we could not understand.
  bad_reply,
  /// The connection broke after the request was sent: it may or may not have been applied.
  outcome_unknown,
};
/// True when a failed write may nevertheless have been applied (timed out, or sent before the
/// connection broke): the caller must not report it as "not done".
bool outcome_unknown(std::error_code ec) noexcept;
const std::error_category& engine_category() noexcept;
inline std::error_code make_error_code(engine_errc e) noexcept {
  return {static_cast<int>(e), engine_category()};
}

/// One event for fan-out, serialized once; every recipient shares `frame`.
struct channel_event {
  std::uint64_t offset = 0;  // 0: outside the stream (join/leave)
  std::shared_ptr<const std::string> frame;
  bool presence = false;  // join/leave: only for subscribers that asked for them
  std::string epoch;      // the stream's epoch, for stream events
};

/// One history entry: its offset and its serialized "message" event.
struct stored_publication {
  std::uint64_t offset = 0;
  std::int64_t ts_ms = 0;
  std::shared_ptr<const std::string> frame;
};

struct history_query {
  std::optional<std::uint64_t> since;  // publications with offset > since; none: the latest `limit`
  std::size_t limit = 0;               // 0: only the stream position
};

struct history_result {
  protocol::stream_position top;   // last assigned offset (0: nothing yet) and the epoch
  std::uint64_t first_offset = 1;  // oldest offset still held; top.offset + 1 when empty
  std::vector<stored_publication> publications;
};

struct client_info {
  std::string client;
  std::string name;
  std::string user{};  // presence: the connection's user (sub), as in the directory of people
};
/// A presence entry as an engine that shares presence stores it: `{"name":..,"user":..}`.
std::string encode_presence_entry(const client_info& who);
/// Back from a stored entry of `client` (a bare name, as older nodes wrote, is the name).
client_info decode_presence_entry(std::string_view client, std::string_view stored);

/// A small JSON document kept beside a channel (crisis state: alerts, guidance, templates...),
/// versioned for compare-and-set. version 0: the document does not exist.
struct doc {
  std::string key;
  std::string value;
  std::uint64_t version = 0;
};

/// One conditional write in a commit: applied only if the document is at `expect`.
struct doc_write {
  /// `expect` value meaning "whatever the current version is".
  static constexpr std::uint64_t any = ~std::uint64_t{0};
  std::string key;
  std::uint64_t expect = 0;  // 0: must not exist yet
  std::string value;         // empty: delete the document
  /// Rarely read from now on (a closed alert): an engine may keep it on disk only.
  bool cold = false;
  /// Empty: a document of the commit's channel. Else one beside this channel, written in the
  /// same atomic commit (only on engines whose linked_writes() is true).
  std::string channel{};
};

/// A change to a global index made by a commit (linked_writes() engines): a member's score set,
/// or the member removed (no score).
struct index_write {
  std::string index;
  std::string member;
  std::optional<std::int64_t> score;
};

/// An event appended to the channel's stream by a commit, delivered like a message.
struct event_spec {
  std::string event;  // "alert.claimed", ...
  std::string data;   // JSON object text
  client_info by;
};

/// How much of a channel's stream is kept (crisis channels keep their whole timeline).
struct retention {
  std::size_t size = 0;
  std::chrono::seconds ttl{0};
};

struct commit_result {
  bool applied = false;
  std::vector<doc> current;  // not applied: the written keys' current values and versions
  std::vector<std::uint64_t> versions;  // applied: the new version of each write
  std::vector<std::uint64_t> offsets;   // applied: each event's offset
  std::string epoch;
};

/// Receives every event of the channels the node subscribed to, in offset order per channel.
class engine_sink {
 public:
  virtual ~engine_sink() = default;
  /// May be called from any thread, possibly under an engine lock: must not block or call back.
  virtual void on_event(std::string_view channel, const channel_event& ev) = 0;
};

/// A channel's stream: offsets, bounded history and cross-node fan-out of its events.
class stream_store {
 public:
  using publish_handler = std::function<void(std::error_code, protocol::stream_position)>;
  using history_handler = std::function<void(std::error_code, history_result)>;
  virtual ~stream_store() = default;
  // Handlers may run on any thread, possibly before the call returns.
  /// Appends a message. A non-empty `idempotency_key` seen on this channel within the engine's
  /// idempotency window gets the position of its first publish, and nothing is appended.
  virtual void publish(std::string_view channel, std::string data, const client_info& sender,
                       std::string_view idempotency_key, publish_handler h) = 0;
  void publish(std::string_view channel, std::string data, const client_info& sender,
               publish_handler h) {
    publish(channel, std::move(data), sender, {}, std::move(h));
  }
  virtual void history(std::string_view channel, history_query q, history_handler h) = 0;
  /// The node has its first local subscriber to `channel` / lost its last one.
  virtual void subscribe(std::string_view channel) = 0;
  virtual void unsubscribe(std::string_view channel) = 0;
};

/// Who is connected to a channel (join/leave events go to the sink, outside the stream).
class presence_store {
 public:
  using presence_handler = std::function<void(std::error_code, std::vector<client_info>)>;
  virtual ~presence_store() = default;
  virtual void presence(std::string_view channel, presence_handler h) = 0;
  virtual void presence_join(std::string_view channel, const client_info& who) = 0;
  virtual void presence_leave(std::string_view channel, const client_info& who) = 0;
};

/// Short-lived state beside a channel, shared by every node (who has an alert open, who is
/// typing a reply): entries that live until their deadline unless set again, never stored past
/// it. Every change is delivered, outside the stream, to the channel's subscribers on every node.
class ephemeral_store {
 public:
  using entries_handler =
      std::function<void(std::error_code, std::vector<std::pair<std::string, std::string>>)>;
  using set_handler = std::function<void(std::error_code)>;
  virtual ~ephemeral_store() = default;
  /// Sets `key` to `value` for `ttl` (an empty `value` removes it), then delivers `event` (an
  /// event frame outside the stream) to the channel's subscribers on every node.
  virtual void ephemeral_set(std::string_view channel, std::string key, std::string value,
                             std::chrono::milliseconds ttl, std::string event, set_handler h) = 0;
  /// The live entries of `channel` whose key starts with `prefix`, in key order.
  virtual void ephemeral_list(std::string_view channel, std::string prefix, entries_handler h) = 0;
};

/// Documents beside a channel, and atomic commits (every write's expectation holds, then all
/// writes apply and all events are appended and published) — what makes exactly one claim win
/// across nodes.
class document_store {
 public:
  using docs_handler = std::function<void(std::error_code, std::vector<doc>)>;
  using commit_handler = std::function<void(std::error_code, commit_result)>;
  virtual ~document_store() = default;
  /// The documents `keys` (absent ones with version 0), in the order asked.
  virtual void read_docs(std::string_view channel, std::vector<std::string> keys,
                         docs_handler h) = 0;
  /// Every document whose key starts with `prefix`, in key order.
  virtual void list_docs(std::string_view channel, std::string prefix, docs_handler h) = 0;
  /// `keep`: from now on the channel's stream keeps this much (set by channel.create).
  virtual void commit(std::string_view channel, std::vector<doc_write> writes,
                      std::vector<event_spec> events, std::optional<retention> keep,
                      commit_handler h) = 0;
  /// As commit(), and `indexes` changed in the same atomic step (linked_writes() engines; the
  /// others refuse a non-empty `indexes` whole).
  virtual void commit_with_indexes(std::string_view channel, std::vector<doc_write> writes,
                                   std::vector<event_spec> events, std::optional<retention> keep,
                                   std::vector<index_write> indexes, commit_handler h);
  /// Whether one commit may also write documents of other channels (doc_write::channel) and
  /// indexes: single-node engines can; Redis cannot (those keys live in other slots).
  virtual bool linked_writes() const { return false; }
};

/// Global sorted indexes shared by all nodes (crisis channels, escalation deadlines).
class index_store {
 public:
  using index_handler =
      std::function<void(std::error_code, std::vector<std::pair<std::string, std::int64_t>>)>;
  using done_handler = std::function<void(std::error_code)>;
  virtual ~index_store() = default;
  virtual void index_put(std::string index, std::string member, std::int64_t score,
                         done_handler h) = 0;
  virtual void index_remove(std::string index, std::string member, done_handler h) = 0;
  /// Sets a member's score unless it already has an earlier one (an absent member is added):
  /// what a command files before its commit where it cannot commit indexes with it. An early
  /// entry costs the scheduler one look; a late one would hide a deadline.
  virtual void index_put_earlier(std::string index, std::string member, std::int64_t score,
                                 done_handler h) = 0;
  /// Changes a member only while its score is still `expect`: to `score`, or (none) removed.
  /// The scheduler re-files what it found due without undoing a change made meanwhile.
  virtual void index_replace(std::string index, std::string member, std::int64_t expect,
                             std::optional<std::int64_t> score, done_handler h) = 0;
  /// Members with score <= max_score, lowest first, at most `limit`.
  virtual void index_range(std::string index, std::int64_t max_score, std::size_t limit,
                           index_handler h) = 0;
};

/// A whole engine: the five concerns and its lifecycle.
class engine : public stream_store,
               public presence_store,
               public ephemeral_store,
               public document_store,
               public index_store {
 public:
  ~engine() override = default;
  virtual void start(engine_sink& sink) = 0;
  virtual void stop() = 0;
  /// True while the engine can serve requests (for /readyz).
  virtual bool ready() const = 0;
  /// Housekeeping (expire history past its TTL); called periodically by the node.
  virtual void sweep() = 0;
  /// Appends engine-specific series in the Prometheus text format (any thread).
  virtual void append_metrics(std::string& out) const { (void)out; }
};

/// A fresh random epoch (8 hex digits): a stream that restarts gets one nobody held before.
std::string new_epoch();

/// True when `h` (read with since = from.offset) brings a client at `from` up to date with no gap.
bool can_recover(const protocol::stream_position& from, const history_result& h) noexcept;

}  // namespace muster::server

template <>
struct std::is_error_code_enum<muster::server::engine_errc> : std::true_type {};
