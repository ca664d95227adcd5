#pragma once
// Log lines as JSON objects, one per line, for log collectors (log.format = "json"):
// {"ts":"2026-12-01T22:30:00.123Z","level":"warning","thread":123,"msg":"..."}. spdlog calls it
// on the logging thread; it keeps no state.
#include <spdlog/formatter.h>

#include <memory>

namespace muster::server {

class json_log_formatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

/// Makes every logger write JSON lines instead of text.
void use_json_logs();

}  // namespace muster::server
