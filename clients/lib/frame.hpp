#pragma once
// Parsing of server frames for clients: splits coalesced frames and classifies each line.
// No I/O; not thread-safe (one parser per owner).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace muster::client {

/// One line of a server frame: a reply (has an id), or an event.
struct server_message {
  std::string raw;                  // the JSON text of this one message
  std::optional<std::uint64_t> id;  // set for replies (and errors to commands)
  bool is_error = false;
  std::string error_code;  // when is_error
  std::string error_message;
  std::string result;  // reply: the "result" JSON text
  std::string event;   // event: "message", "join", "leave", ...
  std::string channel;
  std::uint64_t offset = 0;
  std::string epoch;
  std::int64_t ts_ms = 0;
  std::string sender_name;
  std::string data;  // message: the "data" JSON text
};

class frame_parser {
 public:
  frame_parser();
  ~frame_parser();
  /// Splits `frame` at newlines and parses each message; malformed lines are reported as errors.
  std::vector<server_message> parse(std::string_view frame);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Reads an unsigned integer or string field of a JSON object text (for results).
std::optional<std::uint64_t> json_uint(std::string_view json, std::string_view key);
std::optional<std::string> json_string(std::string_view json, std::string_view key);
std::optional<bool> json_bool(std::string_view json, std::string_view key);

}  // namespace muster::client
