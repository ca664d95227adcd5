#pragma once
// What the decoder needs to know about one command: the wire-level half of a command table
// row (server/command_table.hpp holds the table itself). Plain constants.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace muster::protocol {

/// How a command names its channel (PROTOCOL.md sections 3 and 13.1).
enum class channel_use {
  none,             // takes no channel (v1 ops: a given one is ignored)
  crisis_unused,    // crisis ops without a channel: a given one must still be a valid name
  required,         // v1 ops: required and checked by the decoder (`channel is required`)
  crisis,           // crisis ops: required, checked after the role (`channel is required`)
  crisis_optional,  // crisis ops that may name one channel or none (stats)
  crisis_or_all,    // a channel or "*" for every open crisis channel (guidance.post)
};

struct uint_range {
  std::uint64_t min = 1;
  std::uint64_t max = 1000;
};

struct op_spec {
  std::string_view name;
  channel_use channel = channel_use::none;
  uint_range limit = {};     // the allowed values of `limit`, when given
  bool needs_data = false;   // `data` is required (publish)
  std::size_t max_name = 0;  // `name` at most this many bytes (0: not checked)
  bool keeps_frame = false;  // the handler reads further fields from the whole frame
};

/// Finds a command by name; null when there is none.
using op_lookup = const op_spec* (*)(std::string_view name);

}  // namespace muster::protocol
