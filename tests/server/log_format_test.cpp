#include "server/log_format.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>

using namespace muster::server;

namespace {

std::string formatted(std::string_view text, spdlog::level::level_enum level) {
  spdlog::details::log_msg msg("muster", level, spdlog::string_view_t(text.data(), text.size()));
  msg.time = std::chrono::system_clock::time_point{} + std::chrono::milliseconds(1764628200123);
  msg.thread_id = 42;
  spdlog::memory_buf_t out;
  json_log_formatter().format(msg, out);
  return std::string(out.data(), out.size());
}

}  // namespace

TEST(json_logs, one_object_per_line_with_the_message_escaped) {
  EXPECT_EQ(formatted("bind: \"x\"\nnext", spdlog::level::warn),
            "{\"ts\":\"2025-12-01T22:30:00.123Z\",\"level\":\"warning\",\"thread\":42,\"msg\":"
            "\"bind: \\\"x\\\"\\nnext\"}\n");
}

TEST(json_logs, bytes_that_are_not_utf8_still_make_valid_json) {
  auto line = formatted("name \xff\xfe end", spdlog::level::info);
  simdjson::dom::parser p;
  simdjson::dom::element e;
  ASSERT_FALSE(p.parse(line).get(e)) << line;
  std::string_view msg;
  ASSERT_FALSE(e["msg"].get(msg));
  EXPECT_EQ(msg, "name ?? end");
}
