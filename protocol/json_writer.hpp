#pragma once
// The project's one JSON writer: appends objects, arrays and values to a string with the commas
// placed for the caller. Output is compact (no whitespace), strings are escaped so that the text
// never holds a raw control character (a newline never ends a JSON Lines record early).
// A plain value type; not thread-safe.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace muster::protocol {

/// Appends `s` as a JSON string literal (quoted, escaped) to `out`.
void append_json_string(std::string& out, std::string_view s);

class json_writer {
 public:
  json_writer() = default;
  /// Writes into `out` (appending): for building around a prefix the caller wrote.
  explicit json_writer(std::string& out) : out_(&out) {}
  json_writer(const json_writer&) = delete;
  json_writer& operator=(const json_writer&) = delete;

  json_writer& begin_object();
  json_writer& end_object();
  json_writer& begin_array();
  json_writer& end_array();
  /// The next member's key (inside an object).
  json_writer& key(std::string_view k);

  json_writer& string(std::string_view v);
  json_writer& uint(std::uint64_t v);
  json_writer& int64(std::int64_t v);
  /// A finite number in its shortest round-trip form; NaN and infinities are written as null.
  json_writer& number(double v);
  json_writer& boolean(bool v);
  json_writer& null();
  /// Already-serialized JSON (a stored record, a minified `data`), inserted verbatim.
  json_writer& raw(std::string_view json);
  /// A string array.
  json_writer& strings(const std::vector<std::string>& v);

  // key + value in one call, for the common case.
  json_writer& field(std::string_view k, std::string_view v) { return key(k).string(v); }
  json_writer& field(std::string_view k, const char* v) { return key(k).string(v); }
  json_writer& field(std::string_view k, const std::string& v) { return key(k).string(v); }
  json_writer& field(std::string_view k, std::uint64_t v) { return key(k).uint(v); }
  json_writer& field(std::string_view k, std::int64_t v) { return key(k).int64(v); }
  json_writer& field(std::string_view k, int v) { return key(k).int64(v); }
  json_writer& field(std::string_view k, unsigned v) { return key(k).uint(v); }
  json_writer& field(std::string_view k, bool v) { return key(k).boolean(v); }
  json_writer& field(std::string_view k, double v) { return key(k).number(v); }
  json_writer& raw_field(std::string_view k, std::string_view json) { return key(k).raw(json); }

  const std::string& str() const { return *out_; }
  /// The text written so far (moves it out of a writer that owns its buffer).
  std::string take() { return std::move(*out_); }

 private:
  void before_value();
  std::string own_;
  std::string* out_ = &own_;
  // One flag per open container: true once it holds a member (the next one needs a comma).
  std::vector<bool> nonempty_;
  bool after_key_ = false;
};

}  // namespace muster::protocol
