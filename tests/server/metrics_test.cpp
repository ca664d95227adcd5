#include "server/metrics.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace muster::server;
namespace protocol = muster::protocol;

namespace {

struct sample {
  std::string name;    // without labels
  std::string labels;  // "{...}" or empty
  std::string value;
};

struct parsed_exposition {
  std::map<std::string, std::string> help;
  std::map<std::string, std::string> type;
  std::vector<sample> samples;
  std::vector<std::string> problems;
};

// A strict-enough reader of the Prometheus text format 0.0.4 as musterd writes it.
parsed_exposition parse(const std::string& text) {
  parsed_exposition out;
  if (text.empty() || text.back() != '\n') out.problems.push_back("does not end with a newline");
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    auto where = "line " + std::to_string(n) + " '" + line + "': ";
    if (line.empty()) {
      out.problems.push_back(where + "empty line");
    } else if (line.rfind("# HELP ", 0) == 0) {
      auto rest = line.substr(7);
      auto sp = rest.find(' ');
      if (sp == std::string::npos || sp + 1 == rest.size())
        out.problems.push_back(where + "HELP without text");
      auto name = rest.substr(0, sp);
      if (!out.help.emplace(name, rest.substr(sp + 1)).second)
        out.problems.push_back(where + "second HELP");
    } else if (line.rfind("# TYPE ", 0) == 0) {
      auto rest = line.substr(7);
      auto sp = rest.find(' ');
      auto name = rest.substr(0, sp);
      auto type = sp == std::string::npos ? "" : rest.substr(sp + 1);
      if (type != "counter" && type != "gauge") out.problems.push_back(where + "unexpected type");
      if (!out.type.emplace(name, type).second) out.problems.push_back(where + "second TYPE");
    } else if (line[0] == '#') {
      out.problems.push_back(where + "unexpected comment");
    } else {
      sample s;
      auto sp = line.rfind(' ');
      if (sp == std::string::npos) {
        out.problems.push_back(where + "no value");
        continue;
      }
      s.value = line.substr(sp + 1);
      auto series = line.substr(0, sp);
      auto brace = series.find('{');
      s.name = series.substr(0, brace);
      if (brace != std::string::npos) {
        s.labels = series.substr(brace);
        if (s.labels.back() != '}') out.problems.push_back(where + "unterminated labels");
      }
      for (char c : s.name)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':'))
          out.problems.push_back(where + "bad metric name");
      if (!out.type.count(s.name)) out.problems.push_back(where + "sample before its TYPE");
      if (!out.help.count(s.name)) out.problems.push_back(where + "sample before its HELP");
      if (s.value.empty() || s.value.find_first_not_of("-0123456789") != std::string::npos)
        out.problems.push_back(where + "value is not an integer");
      out.samples.push_back(std::move(s));
    }
  }
  return out;
}

std::string value_of(const parsed_exposition& p, const std::string& name,
                     const std::string& labels = "") {
  for (const auto& s : p.samples)
    if (s.name == name && s.labels == labels) return s.value;
  return "<missing>";
}

const std::vector<std::pair<counter, std::string>> counter_names = {
    {counter::connections_accepted, "muster_connections_accepted_total"},
    {counter::connections_rejected, "muster_connections_rejected_total"},
    {counter::messages_in, "muster_messages_in_total"},
    {counter::messages_out, "muster_messages_out_total"},
    {counter::publications, "muster_publications_total"},
    {counter::bytes_in, "muster_bytes_in_total"},
    {counter::bytes_out, "muster_bytes_out_total"},
    {counter::writes, "muster_writes_total"},
    {counter::slow_consumer_disconnects, "muster_slow_consumer_disconnects_total"},
    {counter::recovery_buffer_overflows, "muster_recovery_buffer_overflows_total"},
    {counter::idle_disconnects, "muster_idle_disconnects_total"},
    {counter::protocol_errors, "muster_protocol_errors_total"},
    {counter::resyncs, "muster_resyncs_total"},
    {counter::alerts_new, "muster_alerts_new_total"},
    {counter::alerts_deduplicated, "muster_alerts_deduplicated_total"},
    {counter::alert_transitions, "muster_alert_transitions_total"},
    {counter::escalations, "muster_escalations_total"},
    {counter::claims_expired, "muster_claims_expired_total"},
    {counter::guidance_posted, "muster_guidance_posted_total"},
    {counter::guidance_reminders, "muster_guidance_reminders_total"},
    {counter::guidance_overdue, "muster_guidance_overdue_total"},
    {counter::crisis_conflicts, "muster_crisis_conflicts_total"},
    {counter::crisis_mirror_failures, "muster_crisis_mirror_failures_total"},
    {counter::auth_failures, "muster_auth_failures_total"},
    {counter::spikes, "muster_spikes_total"},
    {counter::spike_arrivals_dropped, "muster_spike_arrivals_dropped_total"},
    {counter::drill_alerts, "muster_drill_alerts_total"},
    {counter::approvals_overdue, "muster_approvals_overdue_total"},
    {counter::origin_refusals, "muster_origin_refusals_total"},
    {counter::accept_errors, "muster_accept_errors_total"},
    {counter::tls_handshake_errors, "muster_tls_handshake_errors_total"},
    {counter::jwks_fetches, "muster_jwks_fetches_total"},
    {counter::jwks_fetch_failures, "muster_jwks_fetch_failures_total"},
};

}  // namespace

TEST(metrics, fresh_metrics_render_every_series_at_zero) {
  metrics m(2);
  auto p = parse(m.render());
  EXPECT_TRUE(p.problems.empty()) << ::testing::PrintToString(p.problems);
  EXPECT_EQ(value_of(p, "muster_connections"), "0");
  EXPECT_EQ(value_of(p, "muster_channels"), "0");
  EXPECT_EQ(p.type["muster_connections"], "gauge");
  EXPECT_EQ(p.type["muster_channels"], "gauge");
  ASSERT_EQ(counter_names.size(), static_cast<std::size_t>(counter::count_));
  for (const auto& [c, name] : counter_names) {
    EXPECT_EQ(value_of(p, name), "0") << name;
    EXPECT_EQ(p.type[name], "counter") << name;
    EXPECT_EQ(m.total(c), 0u) << name;
  }
  for (auto e : protocol::all_errors) {
    auto labels = "{code=\"" + std::string(protocol::wire_name(e)) + "\"}";
    EXPECT_EQ(value_of(p, "muster_errors_total", labels), "0") << labels;
  }
  EXPECT_EQ(p.type["muster_errors_total"], "counter");
}

TEST(metrics, every_series_appears_exactly_once) {
  metrics m(1);
  auto p = parse(m.render());
  std::set<std::string> seen;
  for (const auto& s : p.samples)
    EXPECT_TRUE(seen.insert(s.name + s.labels).second) << s.name << s.labels;
  EXPECT_EQ(p.samples.size(), 2 + counter_names.size() + std::size(protocol::all_errors));
}

TEST(metrics, counters_are_totalled_and_rendered) {
  metrics m(2);
  m.add(counter::publications);
  m.add(counter::publications);
  m.add(counter::bytes_in, 1234);
  m.add(counter::bytes_out, 10'000'000'000ULL);
  EXPECT_EQ(m.total(counter::publications), 2u);
  EXPECT_EQ(m.total(counter::bytes_in), 1234u);
  EXPECT_EQ(m.total(counter::writes), 0u);
  auto p = parse(m.render());
  EXPECT_TRUE(p.problems.empty()) << ::testing::PrintToString(p.problems);
  EXPECT_EQ(value_of(p, "muster_publications_total"), "2");
  EXPECT_EQ(value_of(p, "muster_bytes_in_total"), "1234");
  EXPECT_EQ(value_of(p, "muster_bytes_out_total"), "10000000000");
  EXPECT_EQ(value_of(p, "muster_writes_total"), "0");
}

TEST(metrics, gauges_are_rendered_including_negative_values) {
  metrics m(1);
  m.connections = 17;
  m.channels.fetch_add(3);
  auto p = parse(m.render());
  EXPECT_EQ(value_of(p, "muster_connections"), "17");
  EXPECT_EQ(value_of(p, "muster_channels"), "3");
  m.connections = -1;  // a miscount must still render as a valid sample
  p = parse(m.render());
  EXPECT_TRUE(p.problems.empty()) << ::testing::PrintToString(p.problems);
  EXPECT_EQ(value_of(p, "muster_connections"), "-1");
}

TEST(metrics, errors_are_counted_by_code) {
  metrics m(1);
  m.error(protocol::errc::rate_limited);
  m.error(protocol::errc::rate_limited);
  m.error(protocol::errc::bad_json);
  EXPECT_EQ(m.errors(protocol::errc::rate_limited), 2u);
  EXPECT_EQ(m.errors(protocol::errc::bad_json), 1u);
  EXPECT_EQ(m.errors(protocol::errc::internal), 0u);
  auto p = parse(m.render());
  EXPECT_EQ(value_of(p, "muster_errors_total", R"({code="rate_limited"})"), "2");
  EXPECT_EQ(value_of(p, "muster_errors_total", R"({code="bad_json"})"), "1");
  EXPECT_EQ(value_of(p, "muster_errors_total", R"({code="internal"})"), "0");
}

TEST(metrics, increments_from_bound_threads_are_summed) {
  constexpr std::size_t io_threads = 3;
  constexpr int per_thread = 10'000;
  metrics m(io_threads);
  std::vector<std::thread> workers;
  // One more thread than shards, bound past the end: it must fall back, not be lost.
  for (std::size_t t = 0; t <= io_threads; ++t) {
    workers.emplace_back([&m, t] {
      m.bind_thread(t);
      for (int i = 0; i < per_thread; ++i) {
        m.add(counter::messages_in);
        m.error(protocol::errc::bad_request);
      }
      m.add(counter::bytes_in, 5);
    });
  }
  // And one thread that never binds.
  workers.emplace_back([&m] { m.add(counter::messages_in, 7); });
  for (auto& w : workers) w.join();
  EXPECT_EQ(m.total(counter::messages_in), (io_threads + 1) * per_thread + 7);
  EXPECT_EQ(m.errors(protocol::errc::bad_request), (io_threads + 1) * per_thread);
  EXPECT_EQ(m.total(counter::bytes_in), (io_threads + 1) * 5);
  auto p = parse(m.render());
  EXPECT_EQ(value_of(p, "muster_messages_in_total"),
            std::to_string((io_threads + 1) * per_thread + 7));
}

TEST(metrics, help_texts_are_single_line) {
  metrics m(1);
  auto p = parse(m.render());
  EXPECT_TRUE(p.problems.empty()) << ::testing::PrintToString(p.problems);
  for (const auto& [name, help] : p.help) {
    EXPECT_FALSE(help.empty()) << name;
    EXPECT_EQ(help.find('\\'), std::string::npos) << name;
  }
}
