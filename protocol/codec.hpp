#pragma once
// Protocol v1 wire format: decoding client commands (simdjson on-demand) and encoding
// replies and events. No I/O. See PROTOCOL.md.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/error.hpp"

namespace muster::protocol {

inline constexpr std::string_view subprotocol = "muster.v1";
inline constexpr std::size_t max_channel_length = 128;
inline constexpr std::size_t max_name_length = 64;
inline constexpr std::uint32_t default_history_limit = 100;
inline constexpr std::uint32_t max_history_limit = 1000;

enum class op { connect, subscribe, unsubscribe, publish, history, presence, ping, crisis };
std::string_view op_name(op o) noexcept;

/// A point in a channel's stream: the last offset seen within an epoch.
struct stream_position {
  std::uint64_t offset = 0;
  std::string epoch;
  friend bool operator==(const stream_position&, const stream_position&) = default;
};

/// One decoded client command; fields not used by `kind` stay empty.
struct command {
  op kind = op::ping;
  std::uint64_t id = 0;
  std::string channel;
  std::string name;
  std::string token;
  std::string data;  // minified JSON text, safe to embed verbatim
  std::optional<stream_position> recover;
  bool join_leave = false;  // subscribe: also deliver join/leave events
  std::optional<std::uint64_t> since;
  std::uint32_t limit = default_history_limit;
  // op::crisis: the crisis command's name ("alert.claim", ...) and the whole frame, whose
  // fields the crisis decoder reads (see protocol/crisis.hpp).
  std::string crisis_op;
  std::string frame;
};

/// True when `name` is a crisis workflow command (channel.*, alert.*, guidance.*, ...).
bool is_crisis_op(std::string_view name) noexcept;

struct decode_failure {
  errc code = errc::bad_json;
  std::string message;
  std::optional<std::uint64_t> id;  // echoed in the error reply when it could be read
};

/// A published message as stored in history and delivered to subscribers.
struct publication {
  std::uint64_t offset = 0;
  std::string epoch;
  std::int64_t ts_ms = 0;  // server time of publish, milliseconds since the Unix epoch
  std::string sender_client;
  std::string sender_name;
  std::string data;               // minified JSON
  std::string event = "message";  // crisis events use their own names ("alert.claimed", ...)
};

/// True when `name` is a valid channel name (see PROTOCOL.md "Channel names").
bool valid_channel_name(std::string_view name) noexcept;

/// Decodes client frames. Not thread-safe: one decoder per thread or session owner.
class decoder {
 public:
  explicit decoder(std::size_t max_data_bytes = 65536);
  ~decoder();
  decoder(const decoder&) = delete;
  decoder& operator=(const decoder&) = delete;

  /// Fills `out` and returns true, or fills `failure` and returns false.
  bool decode(std::string_view frame, command& out, decode_failure& failure);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Appends `s` as a JSON string literal (quoted, escaped) to `out`.
void append_json_string(std::string& out, std::string_view s);

/// `{"id":N,"result":<result_json>}`
std::string encode_reply(std::uint64_t id, std::string_view result_json);
/// `{"id":N,"error":{"code":"...","message":"..."}}`; the id is omitted when unknown.
/// `extra_fields`, when given, is spliced into the error object (e.g. `"holder":{...}`).
std::string encode_error(std::optional<std::uint64_t> id, errc code, std::string_view message,
                         std::string_view extra_fields = {});
/// Appends one publication object (without channel) to `out`.
void append_publication(std::string& out, const publication& p);
/// `{"event":"message","channel":...,...}` (or p.event): serialized once, shared by every
/// recipient.
std::string encode_message_event(std::string_view channel, const publication& p);
/// `{"event":"join"|"leave","channel":...,"client":...,"name":...}`
std::string encode_presence_event(bool join, std::string_view channel, std::string_view client,
                                  std::string_view name);

}  // namespace muster::protocol
