#include "server/log_format.hpp"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <string>

#include "protocol/codec.hpp"

namespace muster::server {

void json_log_formatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(msg.time.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&secs, &utc);
  char stamp[40];
  auto n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  std::string line = "{\"ts\":\"";
  line.append(stamp, n);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms % 1000));
  line += frac;
  line += "\",\"level\":";
  auto level = spdlog::level::to_string_view(msg.level);
  protocol::append_json_string(line, std::string_view(level.data(), level.size()));
  line += ",\"thread\":" + std::to_string(msg.thread_id) + ",\"msg\":";
  std::string_view text(msg.payload.data(), msg.payload.size());
  if (simdjson::validate_utf8(text.data(), text.size())) {
    protocol::append_json_string(line, text);
  } else {
    // Still one valid JSON line: bytes that are not UTF-8 become '?'.
    std::string clean(text);
    for (auto& c : clean)
      if (static_cast<unsigned char>(c) >= 0x80) c = '?';
    protocol::append_json_string(line, clean);
  }
  line += "}\n";
  dest.append(line.data(), line.data() + line.size());
}

std::unique_ptr<spdlog::formatter> json_log_formatter::clone() const {
  return std::make_unique<json_log_formatter>();
}

void use_json_logs() {
  spdlog::set_formatter(std::make_unique<json_log_formatter>());
}

}  // namespace muster::server
