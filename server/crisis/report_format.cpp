#include <algorithm>
#include <chrono>
#include <cstdio>

#include "server/crisis/report.hpp"

namespace muster::server::crisis {

std::optional<report_format> parse_report_format(std::string_view s) {
  if (s.empty() || s == "json") return report_format::json;
  if (s == "html") return report_format::html;
  if (s == "csv") return report_format::csv;
  return std::nullopt;
}

std::string_view content_type(report_format f) {
  switch (f) {
    case report_format::html:
      return "text/html; charset=utf-8";
    case report_format::csv:
      return "text/csv; charset=utf-8";
    case report_format::json:
      break;
  }
  return "application/json";
}

std::string render(const report& r, report_format f) {
  switch (f) {
    case report_format::html:
      return render_html(r);
    case report_format::csv:
      return render_csv(r);
    case report_format::json:
      break;
  }
  return render_json(r);
}

std::string rfc3339(std::int64_t ms) {
  using namespace std::chrono;
  if (ms <= 0) return {};
  // Times come from stored events: keep hostile ones inside four-digit years.
  ms = std::min<std::int64_t>(ms, 253402300799999);
  sys_time<milliseconds> t{milliseconds(ms)};
  auto day = floor<days>(t);
  year_month_day ymd{day};
  hh_mm_ss hms{t - day};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                int(hms.minutes().count()), int(hms.seconds().count()),
                int(hms.subseconds().count()));
  return buf;
}

}  // namespace muster::server::crisis
