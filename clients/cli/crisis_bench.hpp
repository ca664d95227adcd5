#pragma once
// `muster crisis-bench`: the crisis workflow under load. A bot pushes N alerts (pipelined), K
// ambassadors race to claim every one of them (pipelined, each in its own order, spread over
// the given node URLs); reports alerts/s, claim attempts/s, latency percentiles and checks that
// each alert was won exactly once; with --resolve the winners then resolve them.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "clients/lib/tls_options.hpp"

namespace muster::cli {

struct crisis_bench_options {
  std::vector<std::string> urls;  // ambassadors spread over these nodes
  client::tls_options tls;
  std::size_t alerts = 2000;
  std::size_t ambassadors = 5;
  std::size_t window = 500;  // unacknowledged commands per connection
  std::string channel = "bench.crisis";
  bool resolve = false;  // then the winners resolve what they won
  std::string secret;    // auth.secret, to mint one token per participant; empty: auth off
};

void add_crisis_bench_options(CLI::App& app, crisis_bench_options& o);
int run_crisis_bench(const crisis_bench_options& o);

}  // namespace muster::cli
