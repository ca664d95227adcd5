#include "server/crisis/fields.hpp"

namespace muster::server::crisis {

namespace dom = simdjson::dom;

fields::fields(std::string_view json) {
  if (parser_.parse(json.data(), json.size()).get_object().get(obj_))
    error_ = "the command must be a JSON object";
}

fields::fields(dom::object obj, std::string prefix) : obj_(obj), prefix_(std::move(prefix)) {}

void fields::fail(std::string_view key, std::string_view what) {
  if (!error_) error_ = prefix_ + std::string(key) + " " + std::string(what);
}

void fields::take_error(const fields& nested) {
  if (!error_ && nested.error_) error_ = nested.error_;
}

std::optional<dom::element> fields::element(std::string_view key) {
  dom::element e;
  if (obj_[key].get(e) || e.is_null()) return std::nullopt;
  return e;
}

bool fields::has(std::string_view key) {
  return element(key).has_value();
}

std::string fields::str(std::string_view key, bool required, std::size_t max) {
  auto e = element(key);
  if (!e) {
    if (required) fail(key, "is required");
    return {};
  }
  std::string_view s;
  if (e->get_string().get(s)) {
    fail(key, "must be a string");
    return {};
  }
  if (s.size() > max) {
    fail(key, "must be at most " + std::to_string(max) + " bytes");
    return {};
  }
  if (required && s.empty()) fail(key, "must not be empty");
  return std::string(s);
}

std::optional<std::uint64_t> fields::uint(std::string_view key) {
  auto e = element(key);
  if (!e) return std::nullopt;
  std::uint64_t v;
  if (e->get_uint64().get(v)) {
    fail(key, "must be a non-negative integer");
    return std::nullopt;
  }
  return v;
}

std::optional<bool> fields::flag(std::string_view key) {
  auto e = element(key);
  if (!e) return std::nullopt;
  bool v = false;
  if (e->get_bool().get(v)) {
    fail(key, "must be true or false");
    return std::nullopt;
  }
  return v;
}

std::vector<std::string> fields::strs(std::string_view key, std::size_t max_items) {
  std::vector<std::string> out;
  auto e = element(key);
  if (!e) return out;
  dom::array a;
  if (e->get_array().get(a)) {
    fail(key, "must be an array of strings");
    return out;
  }
  for (auto item : a) {
    std::string_view s;
    if (item.get_string().get(s) || s.empty() || s.size() > 128) {
      fail(key, "must be an array of non-empty strings (at most 128 bytes each)");
      return {};
    }
    out.emplace_back(s);
  }
  if (out.size() > max_items)
    fail(key, "must have at most " + std::to_string(max_items) + " items");
  return out;
}

std::optional<dom::object> fields::object(std::string_view key) {
  auto e = element(key);
  if (!e) return std::nullopt;
  dom::object o;
  if (e->get_object().get(o)) {
    fail(key, "must be an object");
    return std::nullopt;
  }
  return o;
}

std::optional<severity> fields::sev(std::string_view key, bool required) {
  auto s = str(key, required, 16);
  if (s.empty()) return std::nullopt;
  auto v = parse_severity(s);
  if (!v) fail(key, "must be one of sev1 sev2 sev3 sev4");
  return v;
}

}  // namespace muster::server::crisis
