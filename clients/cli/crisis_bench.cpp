#include "clients/cli/crisis_bench.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "clients/cli/ca_file_option.hpp"
#include "clients/lib/blocking_client.hpp"
#include "server/auth/jwt.hpp"

namespace muster::cli {

namespace {

using clock_type = std::chrono::steady_clock;

std::string token_for(const crisis_bench_options& o, const std::string& sub,
                      server::auth::role role) {
  if (o.secret.empty()) return {};
  server::auth::identity who;
  who.subject = sub;
  who.name = sub;
  who.role = role;
  return server::auth::mint(who, o.secret, std::chrono::hours(1));
}

std::unique_ptr<client::blocking_client> open(const crisis_bench_options& o, const std::string& url,
                                              const std::string& name, const std::string& token) {
  auto c = std::make_unique<client::blocking_client>(client::parse_url(url), o.tls);
  c->connect(name, token);
  return c;
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  return v[i];
}

// Sends `commands` with at most `window` in flight; returns each reply and its latency (ms).
struct pipelined_result {
  std::vector<client::server_message> replies;
  std::vector<double> latency_ms;
};
pipelined_result pipeline(client::blocking_client& c, std::string_view op,
                          const std::vector<std::string>& fields, std::size_t window) {
  pipelined_result out;
  out.replies.resize(fields.size());
  out.latency_ms.resize(fields.size());
  std::deque<std::tuple<std::size_t, std::uint64_t, clock_type::time_point>> in_flight;
  std::size_t next = 0;
  while (next < fields.size() || !in_flight.empty()) {
    while (next < fields.size() && in_flight.size() < window) {
      in_flight.emplace_back(next, c.send_command(op, fields[next]), clock_type::now());
      ++next;
    }
    auto [i, id, sent] = in_flight.front();
    in_flight.pop_front();
    out.replies[i] = c.wait_reply(id, std::chrono::seconds(30));
    out.latency_ms[i] = std::chrono::duration<double, std::milli>(clock_type::now() - sent).count();
  }
  return out;
}

// 3. Each winner resolves what it won; returns the number of errors.
std::size_t resolve_won(std::vector<std::unique_ptr<client::blocking_client>>& amb,
                        const std::vector<pipelined_result>& claims,
                        const std::vector<std::vector<std::string>>& order,
                        const std::map<std::string, std::string>& home_of, std::size_t window) {
  std::size_t errors = 0, resolved = 0;
  std::vector<double> latency;
  auto t0 = clock_type::now();
  for (std::size_t a = 0; a < amb.size(); ++a) {
    std::vector<std::string> fields;
    for (std::size_t i = 0; i < claims[a].replies.size(); ++i)
      if (!claims[a].replies[i].is_error)
        fields.push_back("\"channel\":\"" + home_of.at(order[a][i]) + "\",\"alert\":\"" +
                         order[a][i] + "\"");
    auto done = pipeline(*amb[a], "alert.resolve", fields, window);
    for (auto& r : done.replies) (r.is_error ? errors : resolved) += 1;
    latency.insert(latency.end(), done.latency_ms.begin(), done.latency_ms.end());
  }
  double s = std::chrono::duration<double>(clock_type::now() - t0).count();
  std::printf("resolved: %zu in %.3f s = %.0f resolves/s (errors %zu), latency p50 %.1f ms\n",
              resolved, s, static_cast<double>(resolved) / s, errors, percentile(latency, 0.5));
  return errors;
}

}  // namespace

void add_crisis_bench_options(CLI::App& app, crisis_bench_options& o) {
  app.add_option("--url", o.urls, "Node WebSocket URL(s); ambassadors are spread over them")
      ->required();
  add_ca_file_option(app, o.tls);
  app.add_option("--alerts,-n", o.alerts, "Alerts to push")->capture_default_str();
  app.add_option("--ambassadors,-k", o.ambassadors, "Ambassadors racing to claim")
      ->capture_default_str();
  app.add_option("--window", o.window, "Unacknowledged commands per connection")
      ->capture_default_str();
  app.add_option("--channel", o.channel,
                 "Crisis channel (alerts are routed by the server's "
                 "rules; use one that routes here)")
      ->capture_default_str();
  app.add_flag("--resolve", o.resolve,
               "Then each winner resolves the alerts it won (closed alerts stay on the server)");
  app.add_option("--secret", o.secret,
                 "The server's auth.secret (env MUSTER_AUTH_SECRET); empty: server runs without "
                 "auth");
}

int run_crisis_bench(const crisis_bench_options& o) {
  try {
    auto lead =
        open(o, o.urls[0], "bench-lead", token_for(o, "bench-lead", server::auth::role::lead));
    auto created = lead->call("channel.create",
                              "\"channel\":\"" + o.channel + "\",\"title\":\"crisis bench\"");
    if (created.is_error && created.error_code != "already_exists")
      throw client::client_error("channel.create: " + created.error_message);

    // 1. Ingestion: unique posts, pushed by one bot.
    auto bot = open(o, o.urls[0], "bench-bot", token_for(o, "bench-bot", server::auth::role::bot));
    auto run_id = std::to_string(std::random_device{}());
    std::vector<std::string> pushes;
    for (std::size_t i = 0; i < o.alerts; ++i)
      pushes.push_back(R"("source":"x","url":"https://x.com/bench/)" + run_id + "/" +
                       std::to_string(i) + R"(","text":"post )" + std::to_string(i) +
                       R"(","severity":"sev4")");
    auto t0 = clock_type::now();
    auto pushed = pipeline(*bot, "alert.push", pushes, o.window);
    double push_s = std::chrono::duration<double>(clock_type::now() - t0).count();
    std::map<std::string, std::string> home_of;  // alert id -> channel
    std::size_t push_errors = 0;
    for (auto& r : pushed.replies) {
      if (r.is_error) {
        ++push_errors;
        continue;
      }
      auto at = r.result.find("\"id\":\"");
      auto ch = r.result.find("\"channel\":\"");
      if (at == std::string::npos || ch == std::string::npos) continue;
      auto id = r.result.substr(at + 6, r.result.find('"', at + 6) - at - 6);
      home_of[id] = r.result.substr(ch + 11, r.result.find('"', ch + 11) - ch - 11);
    }

    // 2. The race: every ambassador claims every alert, in its own order.
    std::vector<std::unique_ptr<client::blocking_client>> amb;
    for (std::size_t a = 0; a < o.ambassadors; ++a) {
      auto name = "bench-amb" + std::to_string(a);
      amb.push_back(open(o, o.urls[a % o.urls.size()], name,
                         token_for(o, name, server::auth::role::ambassador)));
    }
    std::vector<pipelined_result> claims(o.ambassadors);
    std::vector<std::vector<std::string>> order(o.ambassadors);
    std::atomic<int> failures{0};
    t0 = clock_type::now();
    std::vector<std::thread> racers;
    for (std::size_t a = 0; a < o.ambassadors; ++a)
      racers.emplace_back([&, a] {
        try {
          std::vector<std::string> fields;
          for (auto& [id, ch] : home_of) order[a].push_back(id);
          std::shuffle(order[a].begin(), order[a].end(), std::mt19937(static_cast<unsigned>(a)));
          for (auto& id : order[a])
            fields.push_back("\"channel\":\"" + home_of[id] + "\",\"alert\":\"" + id + "\"");
          claims[a] = pipeline(*amb[a], "alert.claim", fields, o.window);
        } catch (const std::exception& e) {
          std::cerr << "ambassador " << a << ": " << e.what() << "\n";
          ++failures;
        }
      });
    for (auto& t : racers) t.join();
    double claim_s = std::chrono::duration<double>(clock_type::now() - t0).count();
    if (failures) return 1;

    std::map<std::string, int> wins;
    std::size_t attempts = 0, lost = 0, capped = 0, other_errors = 0;
    std::vector<double> claim_latency;
    for (std::size_t a = 0; a < o.ambassadors; ++a)
      for (std::size_t i = 0; i < claims[a].replies.size(); ++i) {
        ++attempts;
        claim_latency.push_back(claims[a].latency_ms[i]);
        auto& r = claims[a].replies[i];
        if (!r.is_error)
          ++wins[order[a][i]];
        else if (r.error_code == "already_claimed")
          ++lost;
        else if (r.error_code == "claim_limit")
          ++capped;
        else
          ++other_errors;
      }
    std::size_t won_once = 0, won_twice = 0;
    for (auto& [id, n] : wins) (n == 1 ? won_once : won_twice) += 1;

    auto push_latency = pushed.latency_ms;
    std::printf(
        "alerts pushed: %zu in %.3f s = %.0f alerts/s (errors %zu), latency p50 %.1f ms p99 %.1f "
        "ms\n",
        o.alerts, push_s, static_cast<double>(o.alerts) / push_s, push_errors,
        percentile(push_latency, 0.5), percentile(push_latency, 0.99));
    std::printf(
        "claims: %zu attempts by %zu ambassadors in %.3f s = %.0f claims/s, latency p50 %.1f ms "
        "p99 %.1f ms\n",
        attempts, o.ambassadors, claim_s, static_cast<double>(attempts) / claim_s,
        percentile(claim_latency, 0.5), percentile(claim_latency, 0.99));
    std::printf(
        "outcome: %zu alerts won exactly once, %zu won more than once, %zu unclaimed, %zu "
        "already_claimed, %zu other errors\n",
        won_once, won_twice, home_of.size() - wins.size(), lost, other_errors);
    if (capped)
      std::printf(
          "%zu claims refused with claim_limit: the server caps an ambassador's unanswered claims; "
          "run it with --set crisis.claim_limit=0 for this race\n",
          capped);
    if (o.resolve) other_errors += resolve_won(amb, claims, order, home_of, o.window);
    return won_twice == 0 && won_once == home_of.size() && other_errors == 0 && capped == 0 &&
                   push_errors == 0
               ? 0
               : 1;
  } catch (const std::exception& e) {
    std::cerr << "muster crisis-bench: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace muster::cli
