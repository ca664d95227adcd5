#include "server/engine/redis/redis_connection.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

#include "server/engine/engine.hpp"

namespace muster::server::redis {

namespace net = boost::asio;
using tcp = net::ip::tcp;

std::shared_ptr<redis_connection> redis_connection::create(net::io_context& ioc, options opts) {
  return std::shared_ptr<redis_connection>(new redis_connection(ioc, std::move(opts)));
}

redis_connection::redis_connection(net::io_context& ioc, options opts)
    : ioc_(ioc),
      opts_(std::move(opts)),
      socket_(ioc),
      connect_timer_(ioc),
      timeout_timer_(ioc),
      retry_timer_(ioc) {}

void redis_connection::start() {
  stopped_ = false;
  connect();
}

void redis_connection::stop() {
  stopped_ = true;
  ++generation_;
  boost::system::error_code ignored;
  socket_.close(ignored);
  connect_timer_.cancel();
  timeout_timer_.cancel();
  retry_timer_.cancel();
  bool was_up = up_;
  up_ = socket_ready_ = writing_ = false;
  out_.clear();
  fail_all(make_error_code(engine_errc::unavailable));
  if (was_up && on_state_) on_state_(false);
}

void redis_connection::connect() {
  if (stopped_) return;
  auto gen = ++generation_;
  boost::system::error_code ec;
  auto address = net::ip::make_address(opts_.host, ec);
  if (ec) {
    // A host name: resolving is a blocking call, so it is not done on the I/O thread.
    spdlog::error("{}: host must be an IP address, got \"{}\"", opts_.name, opts_.host);
    return schedule_reconnect();
  }
  socket_ = tcp::socket(ioc_);
  reader_ = reply_reader();
  connect_timer_.expires_after(opts_.connect_timeout);
  connect_timer_.async_wait([self = shared_from_this(), gen](boost::system::error_code e) {
    if (e || gen != self->generation_ || self->socket_ready_) return;
    self->reset(make_error_code(engine_errc::timeout), "connect timed out");
  });
  socket_.async_connect(tcp::endpoint(address, opts_.port), [self = shared_from_this(),
                                                             gen](boost::system::error_code e) {
    if (gen != self->generation_) return;
    self->connect_timer_.cancel();
    if (e) return self->reset(make_error_code(engine_errc::unavailable), "connect failed");
    self->on_connected();
  });
}

void redis_connection::on_connected() {
  socket_ready_ = true;
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  do_read();
  auto become_up = [this] {
    up_ = true;
    if (ever_up_) reconnects_.fetch_add(1, std::memory_order_relaxed);
    ever_up_ = true;
    backoff_ = std::chrono::milliseconds(0);
    spdlog::info("{}: connected to {}:{}", opts_.name, opts_.host, opts_.port);
    if (on_state_) on_state_(true);
  };
  if (opts_.password.empty()) return become_up();
  // AUTH goes first through the same FIFO; nothing else is accepted until it succeeds.
  auto gen = generation_;
  pending_.push_back({[self = shared_from_this(), gen, become_up](std::error_code ec, reply_ptr r) {
                        if (gen != self->generation_) return;
                        if (ec || !r || r->type == REDIS_REPLY_ERROR) {
                          spdlog::error("{}: AUTH failed: {}", self->opts_.name,
                                        r ? std::string(text(*r)) : ec.message());
                          return self->reset(make_error_code(engine_errc::unavailable),
                                             "auth failed");
                        }
                        become_up();
                      },
                      1,
                      std::chrono::steady_clock::now() + opts_.command_timeout,
                      std::chrono::steady_clock::now(),
                      {}});
  out_ += format_command({"AUTH", opts_.password});
  ++unsent_;
  do_write();
  arm_timeout();
}

namespace {
// The notice kind answering a formatted (un)subscribe command, from its first argument.
std::string_view notice_kind_of(std::string_view formatted) {
  // "*<n>\r\n$<len>\r\n<NAME>\r\n..."
  auto p = formatted.find("\r\n$");
  if (p == std::string_view::npos) return {};
  auto q = formatted.find("\r\n", p + 3);
  if (q == std::string_view::npos) return {};
  auto end = formatted.find("\r\n", q + 2);
  if (end == std::string_view::npos) return {};
  std::string name(formatted.substr(q + 2, end - q - 2));
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view k :
       {"subscribe", "unsubscribe", "ssubscribe", "sunsubscribe", "psubscribe", "punsubscribe"})
    if (name == k) return k;
  return {};
}
}  // namespace

void redis_connection::command(std::string formatted, reply_handler h, std::size_t replies,
                               std::string_view reply_kind) {
  if (!up_) {
    // Never queued silently while down: the caller learns at once and can report it.
    auto ec = make_error_code(engine_errc::unavailable);
    net::post(ioc_, [h = std::move(h), ec] { h(ec, nullptr); });
    return;
  }
  if (reply_kind.empty()) reply_kind = notice_kind_of(formatted);
  auto now = std::chrono::steady_clock::now();
  pending_.push_back({std::move(h), replies, now + opts_.command_timeout, now, reply_kind});
  out_ += formatted;
  ++unsent_;
  if (!writing_) do_write();
  if (pending_.size() == 1) arm_timeout();
}

void redis_connection::do_write() {
  if (writing_ || out_.empty() || !socket_ready_) return;
  writing_ = true;
  in_flight_.swap(out_);
  out_.clear();
  unsent_ = 0;  // from here on Redis may receive (and run) every pending command
  auto gen = generation_;
  net::async_write(socket_, net::buffer(in_flight_),
                   [self = shared_from_this(), gen](boost::system::error_code ec, std::size_t) {
                     if (gen != self->generation_) return;
                     self->writing_ = false;
                     self->in_flight_.clear();
                     if (ec)
                       return self->reset(make_error_code(engine_errc::unavailable),
                                          "write failed");
                     self->do_write();
                   });
}

void redis_connection::do_read() {
  auto gen = generation_;
  socket_.async_read_some(
      net::buffer(read_buffer_),
      [self = shared_from_this(), gen](boost::system::error_code ec, std::size_t n) {
        if (gen != self->generation_) return;
        if (ec) return self->reset(make_error_code(engine_errc::unavailable), "connection lost");
        self->reader_.feed(std::string_view(self->read_buffer_.data(), n));
        for (;;) {
          std::error_code perr;
          auto reply = self->reader_.next(perr);
          if (perr) return self->reset(perr, "malformed reply");
          if (!reply) break;
          auto notice = subscription_notice(*reply);
          bool unasked_notice = !notice.empty() && (self->pending_.empty() ||
                                                    self->pending_.front().reply_kind != notice);
          if (is_message_push(*reply) || unasked_notice) {
            if (self->on_push_) self->on_push_(*reply);
          } else if (self->pending_.empty()) {
            return self->reset(make_error_code(engine_errc::bad_reply), "reply without a command");
          } else if (--self->pending_.front().remaining == 0) {
            auto h = std::move(self->pending_.front().handler);
            self->record_latency(std::chrono::steady_clock::now() - self->pending_.front().sent);
            self->pending_.pop_front();
            self->arm_timeout();
            h({}, std::move(reply));
          }
          if (gen != self->generation_) return;  // a handler reset or stopped us
        }
        self->do_read();
      });
}

void redis_connection::arm_timeout() {
  if (pending_.empty()) {
    timeout_timer_.cancel();
    return;
  }
  auto gen = generation_;
  timeout_timer_.expires_at(pending_.front().deadline);
  timeout_timer_.async_wait([self = shared_from_this(), gen](boost::system::error_code ec) {
    if (ec || gen != self->generation_ || self->pending_.empty()) return;
    if (self->pending_.front().deadline > std::chrono::steady_clock::now())
      return self->arm_timeout();
    // Replies come in order: once one is late, every later one is suspect. Start afresh.
    self->reset(make_error_code(engine_errc::timeout), "command timed out");
  });
}

void redis_connection::fail_all(std::error_code ec) {
  auto failed = std::move(pending_);
  pending_.clear();
  // The oldest were handed to the socket: Redis may have run them. Only the rest were surely
  // never sent, and only they may be called `unavailable`.
  auto sent = failed.size() - std::min(unsent_, failed.size());
  unsent_ = 0;
  auto sent_ec = ec == make_error_code(engine_errc::timeout)
                     ? ec
                     : make_error_code(engine_errc::outcome_unknown);
  for (std::size_t i = 0; i < failed.size(); ++i)
    failed[i].handler(i < sent ? sent_ec : make_error_code(engine_errc::unavailable), nullptr);
}

void redis_connection::reset(std::error_code ec, const char* why) {
  if (stopped_) return;
  ++generation_;
  spdlog::warn("{}: {} ({}:{}); reconnecting", opts_.name, why, opts_.host, opts_.port);
  boost::system::error_code ignored;
  socket_.close(ignored);
  connect_timer_.cancel();
  timeout_timer_.cancel();
  bool was_up = up_;
  up_ = socket_ready_ = writing_ = false;
  out_.clear();
  in_flight_.clear();
  fail_all(ec);
  if (was_up && on_state_) on_state_(false);
  schedule_reconnect();
}

void redis_connection::schedule_reconnect() {
  if (stopped_) return;
  backoff_ = backoff_.count() == 0 ? opts_.min_backoff : std::min(backoff_ * 2, opts_.max_backoff);
  // Jitter, so that every node does not hit a recovering Redis in the same millisecond.
  std::uniform_int_distribution<long> d(backoff_.count() / 2, backoff_.count());
  retry_timer_.expires_after(std::chrono::milliseconds(d(rng_)));
  retry_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->connect();
  });
}

void redis_connection::record_latency(std::chrono::steady_clock::duration d) {
  double s = std::chrono::duration<double>(d).count();
  std::size_t i = 0;
  while (i < std::size(latency_buckets) && s > latency_buckets[i]) ++i;
  latency_counts_[i].fetch_add(1, std::memory_order_relaxed);
  latency_sum_us_.fetch_add(static_cast<std::uint64_t>(s * 1e6), std::memory_order_relaxed);
}

void redis_connection::append_latency_histogram(std::string& out, const std::string& name,
                                                const std::string& labels) const {
  std::uint64_t cumulative = 0;
  char buf[64];
  for (std::size_t i = 0; i <= std::size(latency_buckets); ++i) {
    cumulative += latency_counts_[i].load(std::memory_order_relaxed);
    if (i < std::size(latency_buckets))
      std::snprintf(buf, sizeof buf, "%g", latency_buckets[i]);
    else
      std::snprintf(buf, sizeof buf, "+Inf");
    out += name + "_bucket{" + labels + ",le=\"" + buf + "\"} " + std::to_string(cumulative) + "\n";
  }
  std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(latency_sum_us_.load()) / 1e6);
  out += name + "_sum{" + labels + "} " + buf + "\n";
  out += name + "_count{" + labels + "} " + std::to_string(cumulative) + "\n";
}

}  // namespace muster::server::redis
