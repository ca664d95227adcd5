#include "clients/lib/frame.hpp"

#include <simdjson.h>

namespace muster::client {

struct frame_parser::impl {
  simdjson::dom::parser parser;
};

frame_parser::frame_parser() : impl_(std::make_unique<impl>()) {}
frame_parser::~frame_parser() = default;

std::vector<server_message> frame_parser::parse(std::string_view frame) {
  std::vector<server_message> out;
  std::size_t start = 0;
  while (start <= frame.size()) {
    auto nl = frame.find('\n', start);
    auto line =
        frame.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    start = nl == std::string_view::npos ? frame.size() + 1 : nl + 1;
    if (line.empty()) continue;
    server_message m;
    m.raw.assign(line);
    simdjson::dom::element doc;
    if (impl_->parser.parse(line.data(), line.size(), true).get(doc)) {
      m.is_error = true;
      m.error_code = "client_bad_frame";
      m.error_message = "server sent invalid JSON";
      out.push_back(std::move(m));
      continue;
    }
    std::uint64_t id;
    if (!doc["id"].get(id)) m.id = id;
    simdjson::dom::element err;
    if (!doc["error"].get(err)) {
      m.is_error = true;
      std::string_view s;
      if (!err["code"].get(s)) m.error_code = s;
      if (!err["message"].get(s)) m.error_message = s;
    }
    simdjson::dom::element res;
    if (!doc["result"].get(res)) m.result = simdjson::minify(res);
    std::string_view s;
    if (!doc["event"].get(s)) m.event = s;
    if (!doc["channel"].get(s)) m.channel = s;
    if (!doc["epoch"].get(s)) m.epoch = s;
    std::uint64_t u;
    if (!doc["offset"].get(u)) m.offset = u;
    std::int64_t ts;
    if (!doc["ts"].get(ts)) m.ts_ms = ts;
    if (!doc["sender"]["name"].get(s)) m.sender_name = s;
    simdjson::dom::element data;
    if (!doc["data"].get(data)) m.data = simdjson::minify(data);
    out.push_back(std::move(m));
  }
  return out;
}

namespace {
thread_local simdjson::dom::parser field_parser;
}

std::optional<std::uint64_t> json_uint(std::string_view json, std::string_view key) {
  simdjson::dom::element doc;
  std::uint64_t v;
  if (field_parser.parse(json.data(), json.size(), true).get(doc) || doc[key].get(v))
    return std::nullopt;
  return v;
}

std::optional<std::string> json_string(std::string_view json, std::string_view key) {
  simdjson::dom::element doc;
  std::string_view v;
  if (field_parser.parse(json.data(), json.size(), true).get(doc) || doc[key].get(v))
    return std::nullopt;
  return std::string(v);
}

std::optional<bool> json_bool(std::string_view json, std::string_view key) {
  simdjson::dom::element doc;
  bool v;
  if (field_parser.parse(json.data(), json.size(), true).get(doc) || doc[key].get(v))
    return std::nullopt;
  return v;
}

}  // namespace muster::client
