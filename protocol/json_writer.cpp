#include "protocol/json_writer.hpp"

#include <charconv>
#include <cmath>

namespace muster::protocol {

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 0xf]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

void json_writer::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!nonempty_.empty()) {
    if (nonempty_.back()) out_->push_back(',');
    nonempty_.back() = true;
  }
}

json_writer& json_writer::begin_object() {
  before_value();
  out_->push_back('{');
  nonempty_.push_back(false);
  return *this;
}

json_writer& json_writer::end_object() {
  out_->push_back('}');
  nonempty_.pop_back();
  return *this;
}

json_writer& json_writer::begin_array() {
  before_value();
  out_->push_back('[');
  nonempty_.push_back(false);
  return *this;
}

json_writer& json_writer::end_array() {
  out_->push_back(']');
  nonempty_.pop_back();
  return *this;
}

json_writer& json_writer::key(std::string_view k) {
  before_value();
  append_json_string(*out_, k);
  out_->push_back(':');
  after_key_ = true;
  return *this;
}

json_writer& json_writer::string(std::string_view v) {
  before_value();
  append_json_string(*out_, v);
  return *this;
}

json_writer& json_writer::uint(std::uint64_t v) {
  before_value();
  char tmp[24];
  auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
  out_->append(tmp, r.ptr);
  return *this;
}

json_writer& json_writer::number(double v) {
  if (!std::isfinite(v)) return null();
  before_value();
  char tmp[32];
  auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
  out_->append(tmp, r.ptr);
  return *this;
}

json_writer& json_writer::int64(std::int64_t v) {
  before_value();
  char tmp[24];
  auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
  out_->append(tmp, r.ptr);
  return *this;
}

json_writer& json_writer::boolean(bool v) {
  before_value();
  *out_ += v ? "true" : "false";
  return *this;
}

json_writer& json_writer::null() {
  before_value();
  *out_ += "null";
  return *this;
}

json_writer& json_writer::raw(std::string_view json) {
  before_value();
  *out_ += json;
  return *this;
}

json_writer& json_writer::strings(const std::vector<std::string>& v) {
  begin_array();
  for (const auto& s : v) string(s);
  return end_array();
}

}  // namespace muster::protocol
