#pragma once
// Protocol v1 wire format: decoding client commands and encoding replies and events. No I/O.
// See PROTOCOL.md. Which commands exist is the server's command table; the decoder asks it.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/error.hpp"
#include "protocol/json_writer.hpp"
#include "protocol/op_spec.hpp"

namespace muster::protocol {

inline constexpr std::string_view subprotocol = "muster.v1";
inline constexpr std::size_t max_channel_length = 128;
inline constexpr std::size_t max_name_length = 64;
inline constexpr std::uint32_t default_history_limit = 100;
inline constexpr std::size_t max_idempotency_key_length = 128;

/// A point in a channel's stream: the last offset seen within an epoch.
struct stream_position {
  std::uint64_t offset = 0;
  std::string epoch;
  friend bool operator==(const stream_position&, const stream_position&) = default;
};

/// One decoded client command; fields the command does not use stay empty.
struct command {
  const op_spec* spec = nullptr;
  std::uint64_t id = 0;
  std::string channel;
  bool has_channel = false;  // `channel` was given (possibly "")
  std::string name;
  std::string token;
  std::string data;             // minified JSON text, safe to embed verbatim
  std::string idempotency_key;  // publish, alert.push: a retry with it is answered, not redone
  std::optional<stream_position> recover;
  bool join_leave = false;
  std::optional<std::uint64_t> since;
  std::optional<std::uint64_t> limit;  // within spec->limit when given
  std::string frame;                   // the whole frame, when spec->keeps_frame
  std::string_view op() const { return spec ? spec->name : std::string_view(); }
};

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

/// Decodes client frames: the whole frame must be well-formed JSON (every value, also those of
/// fields nobody reads), then the fields are checked in the order of PROTOCOL.md section 3.
/// Not thread-safe: one decoder per thread.
class decoder {
 public:
  decoder(op_lookup lookup, std::size_t max_data_bytes = 65536);
  ~decoder();
  decoder(const decoder&) = delete;
  decoder& operator=(const decoder&) = delete;

  /// Fills `out` and returns true, or fills `failure` and returns false.
  bool decode(std::string_view frame, command& out, decode_failure& failure);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// `{"id":N,"result":<result_json>}`
std::string encode_reply(std::uint64_t id, std::string_view result_json);
/// `{"id":N,"error":{"code":"...","message":"..."}}`; the id is omitted when unknown.
/// `extra_fields`, when given, is spliced into the error object (e.g. `"holder":{...}`).
std::string encode_error(std::optional<std::uint64_t> id, errc code, std::string_view message,
                         std::string_view extra_fields = {});
/// `{"event":"message","channel":...,...}` (or p.event): serialized once, shared by every
/// recipient.
std::string encode_message_event(std::string_view channel, const publication& p);
/// An event outside the stream (no offset, epoch; not in history), e.g. alert.activity:
/// {"event":..,"channel":..,"ts":..,"sender":{"client":..,"name":..},"data":<data>}.
std::string encode_ephemeral_event(std::string_view channel, std::string_view event,
                                   std::int64_t ts_ms, std::string_view sender_client,
                                   std::string_view sender_name, std::string_view data);
/// `{"event":"join"|"leave","channel":...,"client":...,"name":...,"user":...}`
std::string encode_presence_event(bool join, std::string_view channel, std::string_view client,
                                  std::string_view name, std::string_view user = {});
/// `{"event":"unsubscribed","channel":...,"reason":...}`
std::string encode_unsubscribed_event(std::string_view channel, std::string_view reason);

}  // namespace muster::protocol
