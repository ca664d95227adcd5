#pragma once
// RESP encoding and incremental decoding on top of hiredis' codec (redisFormatCommandArgv,
// redisReader), with RAII for every hiredis object. No I/O; one reader per connection.
#include <hiredis/hiredis.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace muster::server::redis {

struct reply_deleter {
  void operator()(redisReply* r) const noexcept {
    if (r) freeReplyObject(r);
  }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

/// One command in RESP, binary-safe (arguments may contain anything, NUL included).
std::string format_command(const std::vector<std::string_view>& args);
std::string format_command(std::initializer_list<std::string_view> args);

/// Incremental reply parser: feed whatever bytes a read delivered, take complete replies.
class reply_reader {
 public:
  reply_reader();
  /// Appends bytes; false if the reader is already in error.
  bool feed(std::string_view bytes);
  /// The next complete reply, or null when more bytes are needed. A malformed stream sets
  /// `ec` (the connection must then be reset).
  reply_ptr next(std::error_code& ec);

 private:
  struct deleter {
    void operator()(redisReader* r) const noexcept {
      if (r) redisReaderFree(r);
    }
  };
  std::unique_ptr<redisReader, deleter> reader_;
};

/// The reply's text for string, status and error replies (empty otherwise).
std::string_view text(const redisReply& r) noexcept;
/// A pub/sub push ("message", "smessage", "pmessage") rather than a command reply.
bool is_message_push(const redisReply& r) noexcept;
/// "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe", ... for a subscription notice;
/// empty for anything else.
std::string_view subscription_notice(const redisReply& r) noexcept;
/// What the engine's scripts publish on a channel: "<offset>:<epoch>:<frame>" for a stream
/// event, "p:<frame>" for a join or leave (offset 0, no epoch).
struct channel_payload {
  std::uint64_t offset = 0;  // 0: an event outside the stream
  bool presence = false;     // a join/leave (only for subscribers that asked for them)
  std::string_view epoch;
  std::string_view frame;
};
/// Reads a channel payload; none when it is not one.
std::optional<channel_payload> parse_channel_payload(std::string_view payload) noexcept;

/// Redis Cluster hash slot of a key (CRC16 of its {hash tag} if it has one).
std::uint16_t key_slot(std::string_view key) noexcept;

}  // namespace muster::server::redis
