#pragma once
// `muster bench`: N subscribers on one channel, one publisher; reports deliveries/s, latency
// percentiles, loss and duplicates, and the server's memory per connection. With -n 0 and
// --channels K it only publishes (fills K channels' history, e.g. to time a restart).
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "clients/lib/tls_options.hpp"

namespace muster::cli {

struct bench_options {
  std::string url;  // ws:// or wss:// (then every subscriber and the publisher use TLS)
  client::tls_options tls;
  std::vector<std::string> also_urls;  // more nodes: subscribers spread over all URLs
  std::size_t subscribers = 1000;
  std::size_t messages = 2000;
  double rate = 0;            // messages/s; 0 = flat out (bounded by `window`)
  std::size_t size = 120;     // bytes of each message's data
  std::size_t window = 1000;  // unacknowledged publishes allowed when flat out
  std::string channel = "bench";
  std::size_t channels = 1;   // > 1: messages round-robin over <channel>-0 ... (no subscribers)
  std::string token;          // sent in every connect (servers with auth on)
  int server_pid = 0;         // for RSS and CPU figures
  unsigned threads = 1;       // subscriber I/O threads
  double idle_seconds = -1;   // >= 0: idle mode, connect + subscribe, measure, hold, exit
  double drain_timeout = 30;  // seconds to wait for deliveries after the last publish
  std::size_t connect_batch = 500;
  std::size_t source_addresses = 1;  // spread connections over 127.0.0.1..127.0.0.N
};

void add_bench_options(CLI::App& app, bench_options& o);
int run_bench(const bench_options& o);

}  // namespace muster::cli
