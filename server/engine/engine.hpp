#pragma once
// The engine interface: what a node needs from its storage and cross-node fan-out backend
// (offset assignment, bounded history, presence). Implemented by memory_engine (embedded)
// and, for several nodes, by a Redis engine. All methods may be called from any thread.
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
};
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
};

/// Receives every event of the channels the node subscribed to, in offset order per channel.
class engine_sink {
 public:
  virtual ~engine_sink() = default;
  /// May be called from any thread, possibly under an engine lock: must not block or call back.
  virtual void on_event(std::string_view channel, const channel_event& ev) = 0;
};

class engine {
 public:
  using publish_handler = std::function<void(std::error_code, protocol::stream_position)>;
  using history_handler = std::function<void(std::error_code, history_result)>;
  using presence_handler = std::function<void(std::error_code, std::vector<client_info>)>;

  virtual ~engine() = default;
  virtual void start(engine_sink& sink) = 0;
  virtual void stop() = 0;
  /// True while the engine can serve requests (for /readyz).
  virtual bool ready() const = 0;

  // Handlers may run on any thread, possibly before the call returns.
  virtual void publish(std::string_view channel, std::string data, const client_info& sender,
                       publish_handler h) = 0;
  virtual void history(std::string_view channel, history_query q, history_handler h) = 0;
  virtual void presence(std::string_view channel, presence_handler h) = 0;

  /// The node has its first local subscriber to `channel` / lost its last one.
  virtual void subscribe(std::string_view channel) = 0;
  virtual void unsubscribe(std::string_view channel) = 0;
  virtual void presence_join(std::string_view channel, const client_info& who) = 0;
  virtual void presence_leave(std::string_view channel, const client_info& who) = 0;
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
