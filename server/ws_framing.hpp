#pragma once
// RFC 6455 framing for the server side, with no I/O: a parser fed with whatever bytes a read
// delivered (client frames: masked, possibly fragmented, interleaved with control frames), and
// builders for unmasked server frames. One parser per connection, used on its thread only.
#include <cstdint>
#include <string>
#include <string_view>

namespace muster::server::ws {

enum class opcode : std::uint8_t {
  continuation = 0,
  text = 1,
  binary = 2,
  close = 8,
  ping = 9,
  pong = 10
};

/// Close codes (RFC 6455 section 7.4.1) this layer produces.
inline constexpr std::uint16_t close_protocol_error = 1002;
inline constexpr std::uint16_t close_invalid_payload = 1007;
inline constexpr std::uint16_t close_too_big = 1009;

/// What one call to parser::next() found.
struct event {
  enum kind_t { need_more, message, ping, pong, close, error } kind = need_more;
  bool text = true;          // message: text or binary
  std::string_view payload;  // message/ping/pong/close reason; valid until the next call
  std::uint16_t code = 0;    // close: the peer's code (1005 when absent); error: ours to send
  const char* what = "";     // error: why, for logs
};

class parser {
 public:
  explicit parser(std::size_t max_message_bytes) : max_(max_message_bytes) {}

  /// Appends received bytes. The parser keeps only an unfinished frame or message.
  void feed(std::string_view bytes);
  /// Returns the next complete message or control frame, need_more, or an error (after an
  /// error the connection must be closed with event::code).
  event next();
  /// Bytes held (partial frames, a message being assembled): memory the connection costs.
  std::size_t buffered() const { return in_.size() - pos_ + (in_message_ ? message_.size() : 0); }
  /// True once an error was returned: the stream cannot be resynchronised.
  bool failed() const { return failed_; }
  /// Gives memory back after a large message.
  void shrink();

 private:
  event fail(std::uint16_t code, const char* what);
  std::string in_;  // received, not yet parsed (from pos_)
  std::size_t pos_ = 0;
  std::string message_;  // fragments of a message in progress
  bool in_message_ = false;
  bool message_text_ = true;
  bool failed_ = false;
  std::size_t max_;
  std::string control_;  // unmasked payload of the last control frame
};

/// An unmasked server frame: header + payload (FIN set).
std::string frame(opcode op, std::string_view payload);
/// A close frame with a code and a reason (reason truncated to fit 125 bytes).
std::string close_frame(std::uint16_t code, std::string_view reason);
/// Length of a server frame's header, read from its first bytes.
std::size_t header_size(std::string_view framed) noexcept;
/// Sec-WebSocket-Accept for a Sec-WebSocket-Key.
std::string accept_key(std::string_view key);

}  // namespace muster::server::ws
