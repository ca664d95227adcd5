#include "clients/cli/bench.hpp"

#include <sys/resource.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <type_traits>

#include "clients/cli/ca_file_option.hpp"
#include "clients/lib/blocking_client.hpp"
#include "clients/lib/tls_context.hpp"

namespace muster::cli {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;

void add_bench_options(CLI::App& app, bench_options& o) {
  add_ca_file_option(app, o.tls);
  app.add_option("--subscribers,-n", o.subscribers, "Subscriber connections")
      ->capture_default_str();
  app.add_option("--messages,-m", o.messages, "Messages to publish")->capture_default_str();
  app.add_option("--rate,-r", o.rate, "Publish rate in messages/s (0 = flat out)")
      ->capture_default_str();
  app.add_option("--size", o.size, "Data bytes per message")->capture_default_str();
  app.add_option("--window", o.window, "Unacknowledged publishes when flat out")
      ->capture_default_str();
  app.add_option("--channel", o.channel, "Channel")->capture_default_str();
  app.add_option("--channels", o.channels,
                 "Spread the messages over this many channels, <channel>-0 ... (needs -n 0)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}))
      ->capture_default_str();
  app.add_option("--token", o.token, "Access token for every connection (env MUSTER_TOKEN)");
  app.add_option("--also-url", o.also_urls,
                 "Another node's URL; subscribers are spread over all (repeatable)");
  app.add_option("--server-pid", o.server_pid, "musterd PID, for RSS and CPU per connection");
  app.add_option("--threads", o.threads, "Subscriber I/O threads")->capture_default_str();
  app.add_option("--idle", o.idle_seconds,
                 "Idle mode: connect, subscribe, report memory, hold this many seconds");
  app.add_option("--drain-timeout", o.drain_timeout, "Seconds to wait for deliveries")
      ->capture_default_str();
  app.add_option("--connect-batch", o.connect_batch, "Concurrent connection attempts")
      ->capture_default_str();
  app.add_option("--source-addresses", o.source_addresses, "Bind clients to 127.0.0.1..127.0.0.N")
      ->capture_default_str();
}

namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch())
      .count();
}

long rss_kib(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

double cpu_seconds(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), {});
  auto close = s.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream is(s.substr(close + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && is >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double own_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

std::uint64_t number_after(std::string_view s, std::string_view key) {
  auto p = s.find(key);
  if (p == std::string_view::npos) return 0;
  std::uint64_t v = 0;
  auto b = s.data() + p + key.size();
  std::from_chars(b, s.data() + s.size(), v);
  return v;
}

void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// What one subscriber counts, whatever carries it (subscriber_on); lives on one bench thread.
// Parses only what it counts.
struct subscriber : std::enable_shared_from_this<subscriber> {
  subscriber(const client::endpoint& server_ep, std::string ch, tcp::endpoint from)
      : ep(server_ep), channel(std::move(ch)), local(from) {}
  virtual ~subscriber() = default;
  virtual void start(tcp::endpoint to) = 0;

  std::string token;
  const client::endpoint& ep;
  std::string channel;
  tcp::endpoint local;
  std::uint64_t last = 0;
  std::uint64_t received = 0, lost = 0, dups = 0, errors = 0;
  bool ready = false, failed = false;
  std::vector<std::uint32_t>* latencies = nullptr;  // microseconds, this thread's vector
  std::atomic<std::size_t>* ready_count = nullptr;
  std::atomic<std::uint64_t>* delivered = nullptr;
  std::atomic<std::int64_t>* last_delivery_ns = nullptr;
  std::function<void()> on_done;
  std::string out;
  std::string partial;  // an unfinished frame, if any
  tcp::endpoint server;
  std::vector<char>* scratch = nullptr;  // the thread's read buffer

  // `why`, when given, is said once for all subscribers (they all fail alike).
  void fail(const std::string& why = "") {
    static std::atomic<bool> told{false};
    if (!why.empty() && !failed && !told.exchange(true)) std::cerr << "subscriber: " << why << "\n";
    if (!failed && !ready) {
      failed = true;
      if (on_done) on_done();
    }
    failed = true;
  }

  // Counts the frames in `data`; an unfinished one is kept for the next read.
  void take(std::string_view data) {
    if (!partial.empty()) {
      partial.append(data);
      data = partial;
    }
    std::size_t used = consume_frames(data);
    if (partial.empty())
      partial.assign(data.substr(used));
    else
      partial.erase(0, used);
  }

  // Parses complete server frames in `data` (unmasked); returns the bytes used.
  std::size_t consume_frames(std::string_view data) {
    std::size_t pos = 0;
    auto now = now_ns();
    std::uint64_t n = 0;
    while (data.size() - pos >= 2) {
      auto b1 = static_cast<std::uint8_t>(data[pos + 1]) & 0x7f;
      std::size_t hdr = b1 < 126 ? 2 : b1 == 126 ? 4 : 10;
      if (data.size() - pos < hdr) break;
      std::uint64_t len = b1;
      if (b1 == 126)
        len = (std::uint64_t(std::uint8_t(data[pos + 2])) << 8) | std::uint8_t(data[pos + 3]);
      if (b1 == 127) {
        len = 0;
        for (std::size_t i = 2; i < 10; ++i) len = (len << 8) | std::uint8_t(data[pos + i]);
      }
      if (data.size() - pos < hdr + len) break;
      auto opcode = static_cast<std::uint8_t>(data[pos]) & 0x0f;
      std::string_view payload = data.substr(pos + hdr, static_cast<std::size_t>(len));
      pos += hdr + static_cast<std::size_t>(len);
      if (opcode == 1)
        n += handle_payload(payload, now);
      else if (opcode == 8) {
        fail();  // closed by the server (e.g. 4001 for a missing token): stop waiting for it
        return pos;
      }
    }
    if (n) {
      delivered->fetch_add(n, std::memory_order_relaxed);
      last_delivery_ns->store(now, std::memory_order_relaxed);
    }
    return pos;
  }

  std::uint64_t handle_payload(std::string_view frame, std::int64_t now) {
    std::uint64_t n = 0;
    while (!frame.empty()) {
      auto nl = frame.find('\n');
      auto line = frame.substr(0, nl);
      frame = nl == std::string_view::npos ? std::string_view() : frame.substr(nl + 1);
      if (line.starts_with(R"({"event":"message")")) {
        auto off = number_after(line, "\"offset\":");
        if (off <= last)
          ++dups;
        else {
          if (last && off != last + 1) lost += off - last - 1;
          last = off;
        }
        ++received;
        ++n;
        auto t = static_cast<std::int64_t>(number_after(line, "\"t\":"));
        if (t)
          latencies->push_back(
              static_cast<std::uint32_t>(std::max<std::int64_t>(0, now - t) / 1000));
      } else if (line.starts_with(R"({"id":2,"result")")) {
        last = number_after(line, "\"offset\":");
        ready = true;
        ++*ready_count;
        if (on_done) on_done();
      } else if (line.find("\"error\"") != std::string_view::npos) {
        ++errors;
        if (!ready && (line.starts_with(R"({"id":1,)") || line.starts_with(R"({"id":2,)"))) {
          // Refused before subscribing: say why once, and count this subscriber as failed.
          static std::atomic<bool> told{false};
          if (!told.exchange(true)) std::cerr << "subscriber refused: " << line << "\n";
          fail();
        }
      }
    }
    return n;
  }
};

// The I/O of one subscriber over `Stream`: tcp::socket (ws://) or ssl_stream (wss://). Both
// read raw frames after the handshake and count them alike, so plain and TLS figures compare.
template <class Stream>
struct subscriber_on final : subscriber {
  static constexpr bool tls = !std::is_same_v<Stream, tcp::socket>;

  template <class... TlsContext>
  subscriber_on(net::io_context& ioc, const client::endpoint& server_ep, std::string ch,
                tcp::endpoint from, TlsContext&... ctx)
      : subscriber(server_ep, std::move(ch), from), ws(ioc, ctx...) {}

  std::shared_ptr<subscriber_on> shared() {
    return std::static_pointer_cast<subscriber_on>(shared_from_this());
  }

  void start(tcp::endpoint to) override {
    auto& sock = beast::get_lowest_layer(ws);
    sock.open(tcp::v4());
    if (local.address() != net::ip::make_address("127.0.0.1")) {
      beast::error_code ec;
      sock.bind(local, ec);
    }
    auto self = shared();
    // From the chosen source address (--source-addresses) straight to the node's address.
    sock.async_connect(to, [self](beast::error_code ec) {
      if (ec) return self->fail();
      beast::get_lowest_layer(self->ws).set_option(tcp::no_delay(true));
      if constexpr (tls)
        self->do_tls_handshake();
      else
        self->do_ws_handshake();
    });
  }

  void do_tls_handshake() {
    if constexpr (tls) {
      if (!client::expect_server_name(ws.next_layer().native_handle(), ep.host)) return fail();
      auto self = shared();
      // The certificate is checked as every client checks it: a bench is no reason to skip it.
      ws.next_layer().async_handshake(ssl::stream_base::client, [self](beast::error_code ec) {
        if (!ec) return self->do_ws_handshake();
        self->fail(
            "TLS handshake with " + self->ep.host + ":" + std::to_string(self->ep.port) +
            " failed: " + client::describe_tls_failure(ec, self->ws.next_layer().native_handle()));
      });
    }
  }

  void do_ws_handshake() {
    ws.set_option(websocket::stream_base::decorator([](websocket::request_type& r) {
      r.set(beast::http::field::sec_websocket_protocol, "muster.v1");
    }));
    auto self = shared();
    // Then connect and subscribe, and from there on raw frames are read.
    ws.async_handshake(ep.host, ep.target, [self](beast::error_code ec) {
      if (ec) return self->fail();
      self->out = R"({"id":1,"op":"connect","name":"bench","token":")" + self->token + "\"}";
      self->ws.async_write(net::buffer(self->out), [self](beast::error_code ec2, std::size_t) {
        if (ec2) return self->fail();
        self->out = R"({"id":2,"op":"subscribe","channel":")" + self->channel + "\"}";
        self->ws.async_write(net::buffer(self->out), [self](beast::error_code ec3, std::size_t) {
          if (ec3) return self->fail();
        });
        self->read();
      });
    });
  }

  void read() {
    if constexpr (tls) {
      read_decrypted();
    } else {
      beast::error_code nb;
      ws.next_layer().non_blocking(true, nb);
      read_raw();
    }
  }

  // ws://: wait for readability, then one non-blocking read into the thread's shared buffer;
  // only an unfinished frame is kept per connection.
  void read_raw() {
    auto self = shared();
    ws.next_layer().async_wait(tcp::socket::wait_read, [self](beast::error_code ec) {
      if (ec) return self->fail();
      char* buf = self->scratch->data();
      std::size_t n = self->ws.next_layer().read_some(net::buffer(buf, self->scratch->size()), ec);
      if (ec == net::error::would_block) return self->read_raw();
      if (ec) return self->fail();
      self->take(std::string_view(buf, n));
      self->read_raw();
    });
  }

  // wss://: OpenSSL may hold decrypted bytes the socket no longer signals, so each connection
  // reads through its TLS stream into a buffer of its own.
  void read_decrypted() {
    auto self = shared();
    ws.next_layer().async_read_some(net::buffer(inbox),
                                    [self](beast::error_code ec, std::size_t n) {
                                      if (ec) return self->fail();
                                      self->take(std::string_view(self->inbox.data(), n));
                                      self->read_decrypted();
                                    });
  }

  websocket::stream<Stream> ws;
  std::array<char, tls ? 16 * 1024 : 1> inbox{};  // wss:// only
};

std::string pad_data(std::size_t size, std::uint64_t seq) {
  std::string d =
      "{\"t\":" + std::to_string(now_ns()) + ",\"seq\":" + std::to_string(seq) + ",\"pad\":\"";
  if (d.size() + 2 < size) d.append(size - d.size() - 2, 'x');
  d += "\"}";
  return d;
}

}  // namespace

int run_bench(const bench_options& o) {
  raise_fd_limit();
  if (o.channels > 1 && o.subscribers > 0) {
    std::cerr << "muster bench: --channels above 1 only publishes: give -n 0\n";
    return 2;
  }
  client::endpoint ep;
  try {
    ep = client::parse_url(o.url);
  } catch (const std::exception& e) {
    std::cerr << "muster bench: " << e.what() << "\n";
    return 2;
  }
  // Subscribers are spread round-robin over the main URL and any --also-url (other nodes).
  std::vector<client::endpoint> eps = {ep};
  try {
    for (auto& u : o.also_urls) eps.push_back(client::parse_url(u));
  } catch (const std::exception& e) {
    std::cerr << "muster bench: " << e.what() << "\n";
    return 2;
  }
  // One TLS context for every wss:// subscriber (OpenSSL shares it across threads).
  std::shared_ptr<ssl::context> tls_context;
  try {
    if (std::any_of(eps.begin(), eps.end(), [](auto& e) { return e.tls; }))
      tls_context = client::make_client_tls_context(o.tls);
  } catch (const std::exception& e) {
    std::cerr << "muster bench: " << e.what() << "\n";
    return 2;
  }
  auto to_tcp = [](const client::endpoint& e) {
    return tcp::endpoint(net::ip::make_address(e.host == "localhost" ? "127.0.0.1" : e.host),
                         e.port);
  };
  unsigned nthreads = std::max(1u, o.threads);
  std::vector<std::unique_ptr<net::io_context>> iocs;
  std::vector<std::vector<std::uint32_t>> lat(nthreads);
  std::vector<std::vector<char>> scratch(nthreads, std::vector<char>(256 * 1024));
  for (unsigned i = 0; i < nthreads; ++i) {
    iocs.push_back(std::make_unique<net::io_context>(1));
    lat[i].reserve(std::min<std::size_t>(o.subscribers * o.messages / nthreads + 1, 50'000'000));
  }
  std::atomic<std::size_t> ready{0}, finished_connecting{0};
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::int64_t> last_delivery{0};
  long rss_before = o.server_pid ? rss_kib(o.server_pid) : -1;

  std::vector<std::shared_ptr<subscriber>> subs;
  subs.reserve(o.subscribers);
  std::vector<std::vector<std::shared_ptr<subscriber>>> per_thread(nthreads);
  for (std::size_t i = 0; i < o.subscribers; ++i) {
    unsigned t = static_cast<unsigned>(i % nthreads);
    auto addr = net::ip::address_v4(
        0x7f000001u + static_cast<unsigned>(i % std::max<std::size_t>(1, o.source_addresses)));
    auto& target = eps[i % eps.size()];
    std::shared_ptr<subscriber> s;
    if (target.tls)
      s = std::make_shared<subscriber_on<beast::ssl_stream<tcp::socket>>>(
          *iocs[t], target, o.channel, tcp::endpoint(addr, 0), *tls_context);
    else
      s = std::make_shared<subscriber_on<tcp::socket>>(*iocs[t], target, o.channel,
                                                       tcp::endpoint(addr, 0));
    s->token = o.token;
    s->server = to_tcp(target);
    s->latencies = &lat[t];
    s->scratch = &scratch[t];
    s->ready_count = &ready;
    s->delivered = &delivered;
    s->last_delivery_ns = &last_delivery;
    subs.push_back(s);
    per_thread[t].push_back(s);
  }
  // Connections are opened in waves so the server's accept backlog is never overrun. The
  // launchers are held here and only weakly by themselves and the sessions (no cycle, no leak).
  std::vector<std::shared_ptr<std::function<void()>>> launchers;
  for (unsigned t = 0; t < nthreads; ++t) {
    auto& list = per_thread[t];
    auto next = std::make_shared<std::size_t>(0);
    auto batch = std::max<std::size_t>(1, o.connect_batch / nthreads);
    auto launch = std::make_shared<std::function<void()>>();
    launchers.push_back(launch);
    std::weak_ptr<std::function<void()>> weak = launch;
    *launch = [&list, next, weak, &finished_connecting] {
      if (*next >= list.size()) return;
      auto s = list[(*next)++];
      s->on_done = [weak, &finished_connecting] {
        ++finished_connecting;
        if (auto again = weak.lock()) (*again)();
      };
      s->start(s->server);
    };
    net::post(*iocs[t], [launch, batch] {
      for (std::size_t k = 0; k < batch; ++k) (*launch)();
    });
  }
  std::vector<std::thread> threads;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  for (auto& ioc : iocs) guards.emplace_back(ioc->get_executor());
  for (auto& ioc : iocs) threads.emplace_back([&ioc] { ioc->run(); });

  auto connect_start = steady::now();
  while (finished_connecting.load() < o.subscribers &&
         steady::now() - connect_start < std::chrono::seconds(120))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  double connect_s = std::chrono::duration<double>(steady::now() - connect_start).count();
  std::size_t ok = ready.load();
  std::cout << "subscribers: " << ok << "/" << o.subscribers << " subscribed in " << connect_s
            << " s\n";
  // Let the server settle (buffers shrink, handshake leftovers freed) before measuring memory.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  long rss_after = o.server_pid ? rss_kib(o.server_pid) : -1;
  if (o.server_pid && ok)
    std::cout << "server RSS: " << rss_before << " KiB before, " << rss_after << " KiB with " << ok
              << " connections = "
              << static_cast<double>(rss_after - rss_before) * 1024.0 / static_cast<double>(ok)
              << " bytes/connection\n";

  int rc = ok == o.subscribers ? 0 : 1;
  if (ok == 0 && o.subscribers > 0) {
    // Nothing to measure (refused, e.g. a missing token): stop here rather than publish.
    std::cerr << "muster bench: no subscriber could subscribe\n";
    for (auto& ioc : iocs) ioc->stop();
    for (auto& t : threads) t.join();
    return 1;
  }
  if (o.idle_seconds >= 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(o.idle_seconds));
  } else {
    // The publisher: its own connection and thread, paced by a rate or by an ack window.
    client::blocking_client pub(ep, o.tls);
    try {
      pub.connect("bench-publisher", o.token);
    } catch (const client::client_error& e) {
      std::cerr << "muster bench: publisher: " << e.what() << "\n";
      for (auto& ioc : iocs) ioc->stop();
      for (auto& t : threads) t.join();
      return 1;
    }
    std::vector<std::string> prefixes;
    for (std::size_t i = 0; i < o.channels; ++i)
      prefixes.push_back("\"channel\":\"" + o.channel +
                         (o.channels > 1 ? "-" + std::to_string(i) : "") + "\",\"data\":");
    double server_cpu0 = o.server_pid ? cpu_seconds(o.server_pid) : 0, own_cpu0 = own_cpu_seconds();
    auto t0 = steady::now();
    std::int64_t t0_ns = now_ns();
    std::deque<std::uint64_t> outstanding;
    std::size_t acked = 0, pub_errors = 0;
    std::string first_error;
    auto record = [&](const client::server_message& r) {
      if (r.is_error) {
        if (first_error.empty()) first_error = r.error_code + ": " + r.error_message;
        ++pub_errors;
      } else {
        ++acked;
      }
    };
    auto ack_one = [&] {
      record(pub.wait_reply(outstanding.front(), std::chrono::seconds(30)));
      outstanding.pop_front();
    };
    for (std::size_t k = 0; k < o.messages; ++k) {
      if (o.rate > 0) {
        // Publish on schedule whatever the acks do; collect acks while waiting for the slot.
        auto due = t0 + std::chrono::duration_cast<steady::duration>(
                            std::chrono::duration<double>(static_cast<double>(k) / o.rate));
        while (steady::now() < due) {
          auto left = std::chrono::duration_cast<std::chrono::microseconds>(due - steady::now());
          if (outstanding.empty()) {
            std::this_thread::sleep_until(due);
          } else if (auto r = pub.poll_reply(outstanding.front(),
                                             std::max(left, std::chrono::microseconds(1000)))) {
            record(*r);
            outstanding.pop_front();
          }
        }
      }
      while (outstanding.size() >= o.window) ack_one();
      outstanding.push_back(
          pub.send_command("publish", prefixes[k % o.channels] + pad_data(o.size, k)));
    }
    while (!outstanding.empty()) ack_one();
    double publish_s = std::chrono::duration<double>(steady::now() - t0).count();
    std::uint64_t expected = static_cast<std::uint64_t>(ok) * acked;
    auto drain_deadline = steady::now() + std::chrono::duration_cast<steady::duration>(
                                              std::chrono::duration<double>(o.drain_timeout));
    while (delivered.load() < expected && steady::now() < drain_deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    double span_s = static_cast<double>(last_delivery.load() - t0_ns) / 1e9;
    double server_cpu = o.server_pid ? cpu_seconds(o.server_pid) - server_cpu0 : 0;
    double own_cpu = own_cpu_seconds() - own_cpu0;
    for (auto& g : guards) g.reset();
    for (auto& ioc : iocs) ioc->stop();
    for (auto& t : threads) t.join();
    threads.clear();

    std::uint64_t received = 0, lost = 0, dups = 0, errs = 0;
    for (auto& s : subs) {
      if (!s->ready) continue;
      received += s->received;
      dups += s->dups;
      errs += s->errors;
      lost += acked > s->received - s->dups ? acked - (s->received - s->dups) : 0;
    }
    std::vector<std::uint32_t> all;
    for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
    auto pct = [&](double p) -> double {
      if (all.empty()) return 0;
      auto idx = static_cast<std::size_t>(p * static_cast<double>(all.size() - 1));
      std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(idx), all.end());
      return all[idx] / 1000.0;
    };
    double p50 = pct(0.50), p99 = pct(0.99),
           mx = all.empty() ? 0 : *std::max_element(all.begin(), all.end()) / 1000.0;
    std::cout << "published: " << acked << " acknowledged, " << pub_errors << " errors"
              << (first_error.empty() ? "" : " (first: " + first_error + ")") << " in " << publish_s
              << " s = " << static_cast<double>(acked) / publish_s << " msg/s\n";
    if (o.subscribers > 0) {
      std::cout << "deliveries: " << received << "/" << expected << " in " << span_s
                << " s = " << static_cast<double>(received) / span_s << " deliveries/s\n";
      std::cout << "lost: " << lost << ", duplicates: " << dups << ", subscriber errors: " << errs
                << "\n";
      std::cout << "latency ms: p50 " << p50 << ", p99 " << p99 << ", max " << mx << "\n";
    }
    std::cout << "cpu s: bench " << own_cpu;
    if (o.server_pid) std::cout << ", server " << server_cpu;
    std::cout << "\n";
    if (lost || dups || pub_errors || received < expected) rc = 1;
    return rc;
  }
  for (auto& g : guards) g.reset();
  for (auto& ioc : iocs) ioc->stop();
  for (auto& t : threads) t.join();
  return rc;
}

}  // namespace muster::cli
