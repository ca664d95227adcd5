// The report's alerts as CSV (RFC 4180, CRLF line ends), one alert per row, safe to open in a
// spreadsheet: text that would start a formula is prefixed with an apostrophe.
#include "server/crisis/report.hpp"

namespace muster::server::crisis {

namespace {

constexpr std::string_view header =
    "id,first_seen,severity,status,source,url,author,reach,count,holder,claimed_at,"
    "responded_at,responder,reply_url,escalations,drill\r\n";

// A text cell: formula guard, then quoted when it holds a quote, comma or line break.
void text(std::string& out, std::string_view v) {
  bool formula = !v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@');
  std::string cell(formula ? 1 : 0, '\'');
  cell.append(v.data(), v.size());
  if (cell.find_first_of("\",\r\n") == std::string::npos) {
    out += cell;
    return;
  }
  out += '"';
  for (char c : cell) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

void row(std::string& out, const report_alert& a) {
  const std::string cells[] = {a.id,
                               rfc3339(a.first_seen),
                               std::string(severity_name(a.sev)),
                               std::string(status_name(a.status)),
                               a.source,
                               a.url,
                               a.author,
                               std::to_string(a.reach),
                               std::to_string(a.count),
                               a.holder.user,
                               rfc3339(a.claimed_at),
                               rfc3339(a.responded_at),
                               a.responder.user,
                               a.reply_url,
                               std::to_string(a.escalations),
                               a.drill ? "true" : "false"};
  for (std::size_t i = 0; i < std::size(cells); ++i) {
    if (i) out += ',';
    text(out, cells[i]);
  }
  out += "\r\n";
}

}  // namespace

std::string render_csv(const report& r) {
  std::string out(header);
  for (const auto& a : r.alerts) row(out, a);
  return out;
}

}  // namespace muster::server::crisis
