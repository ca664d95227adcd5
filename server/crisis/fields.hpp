#pragma once
// Reads a crisis command's own fields out of its frame (already validated as JSON by the
// decoder), by name and in the order a handler asks for them; the first problem is kept, worded
// `<field> <problem>` (PROTOCOL.md section 13.1). A value type for one command on one thread.
#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/crisis/alert.hpp"

namespace muster::server::crisis {

/// Default bound of a string field.
inline constexpr std::size_t max_field = 2048;
/// Bound of free text (posts, replies).
inline constexpr std::size_t max_text = 8192;

class fields {
 public:
  /// Parses `json`; a text that is not an object leaves error() set.
  explicit fields(std::string_view json);
  /// Reads a nested object's fields (errors are prefixed with `prefix`, e.g. "metrics.").
  fields(simdjson::dom::object obj, std::string prefix);
  fields(const fields&) = delete;
  fields& operator=(const fields&) = delete;

  const std::optional<std::string>& error() const { return error_; }
  /// Records a problem with `key` unless an earlier one was found.
  void fail(std::string_view key, std::string_view what);

  /// Present and not null.
  bool has(std::string_view key);
  /// A string; "" when absent. `required`: absent or empty is an error.
  std::string str(std::string_view key, bool required, std::size_t max = max_field);
  std::optional<std::uint64_t> uint(std::string_view key);
  std::optional<bool> flag(std::string_view key);
  /// An array of non-empty strings of at most 128 bytes, at most `max_items` of them.
  std::vector<std::string> strs(std::string_view key, std::size_t max_items = 32);
  std::optional<simdjson::dom::object> object(std::string_view key);
  /// One of sev1..sev4.
  std::optional<severity> sev(std::string_view key, bool required);
  /// The raw element (absent or null: none), for fields with several accepted types.
  std::optional<simdjson::dom::element> element(std::string_view key);
  /// Copies the first problem of a nested reader.
  void take_error(const fields& nested);

 private:
  simdjson::dom::parser parser_;
  simdjson::dom::object obj_;
  std::string prefix_;
  std::optional<std::string> error_;
};

}  // namespace muster::server::crisis
