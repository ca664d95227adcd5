#pragma once
// One Redis TCP connection owned by Asio on a caller's io_context: pipelined commands answered
// in order from our own FIFO, a deadline on every command, pub/sub pushes routed to a handler,
// reconnect with backoff and jitter. No thread of its own and no blocking call.
// All methods and callbacks run on the io_context's thread (post to it from elsewhere).
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <string>

#include "server/engine/redis/resp.hpp"

namespace muster::server::redis {

class redis_connection : public std::enable_shared_from_this<redis_connection> {
 public:
  struct options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    std::string password;
    std::string name = "redis";  // for logs
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds command_timeout{2000};
    std::chrono::milliseconds min_backoff{100};
    std::chrono::milliseconds max_backoff{5000};
  };
  /// Called once per command with its reply (an error reply is a reply, not an error_code),
  /// or with an error_code and no reply: `unavailable` (never sent), `timeout` or
  /// `outcome_unknown` (sent, then no reply: Redis may have run it).
  using reply_handler = std::function<void(std::error_code, reply_ptr)>;
  using push_handler = std::function<void(const redisReply&)>;
  using state_handler = std::function<void(bool up)>;

  static std::shared_ptr<redis_connection> create(boost::asio::io_context& ioc, options opts);

  void on_push(push_handler h) { on_push_ = std::move(h); }
  /// Up: connected (and authenticated); down: lost, commands fail until it is back.
  void on_state(state_handler h) { on_state_ = std::move(h); }
  void start();
  void stop();
  bool up() const { return up_; }

  /// Sends a formatted command (see format_command). `replies`: how many replies it produces
  /// (SUBSCRIBE with n channels: n); the handler gets the last one. `reply_kind`: for
  /// (un)subscribe commands, the notice kind that answers it ("ssubscribe", ...); the same kind
  /// arriving unasked (Redis moving a slot sends "sunsubscribe") goes to the push handler.
  void command(std::string formatted, reply_handler h, std::size_t replies = 1,
               std::string_view reply_kind = {});
  /// Reconnections so far (any thread).
  std::uint64_t reconnects() const { return reconnects_.load(std::memory_order_relaxed); }
  /// Round-trip latency of commands as a Prometheus histogram named `name` (any thread).
  void append_latency_histogram(std::string& out, const std::string& name,
                                const std::string& labels) const;
  static constexpr double latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                               0.05,   0.1,   0.25,   0.5,   1,    2.5};

 private:
  redis_connection(boost::asio::io_context& ioc, options opts);
  void connect();
  void on_connected();
  void do_read();
  void do_write();
  void arm_timeout();
  void reset(std::error_code ec, const char* why);
  void schedule_reconnect();
  void fail_all(std::error_code ec);

  struct pending {
    reply_handler handler;
    std::size_t remaining;
    std::chrono::steady_clock::time_point deadline;
    std::chrono::steady_clock::time_point sent;
    std::string_view reply_kind;  // static strings only
  };
  void record_latency(std::chrono::steady_clock::duration d);
  std::array<std::atomic<std::uint64_t>, std::size(latency_buckets) + 1> latency_counts_{};
  std::atomic<std::uint64_t> latency_sum_us_{0};

  boost::asio::io_context& ioc_;
  options opts_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer connect_timer_;
  boost::asio::steady_timer timeout_timer_;
  boost::asio::steady_timer retry_timer_;
  reply_reader reader_;
  std::array<char, 16384> read_buffer_{};
  std::deque<pending> pending_;
  std::string out_;         // commands not yet handed to the socket
  std::size_t unsent_ = 0;  // how many of the newest pending commands are still in out_
  std::string in_flight_;   // bytes being written
  bool writing_ = false;
  bool up_ = false;
  bool socket_ready_ = false;  // TCP connected (AUTH may still be pending)
  bool stopped_ = true;
  std::uint64_t generation_ = 0;  // bumped on every reset: stale callbacks see a mismatch
  std::chrono::milliseconds backoff_{0};
  std::atomic<std::uint64_t> reconnects_{0};
  bool ever_up_ = false;
  std::mt19937 rng_{std::random_device{}()};
  push_handler on_push_;
  state_handler on_state_;
};

}  // namespace muster::server::redis
