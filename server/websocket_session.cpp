#include "server/websocket_session.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/write.hpp>

#include "server/node.hpp"
#include "server/tls_transport.hpp"

namespace muster::server {

using tcp = net::ip::tcp;

namespace {
constexpr auto close_grace = std::chrono::seconds(2);
constexpr std::size_t gather_limit = 64 * 1024;  // TLS bytes held unprocessed while gathering
}  // namespace

websocket_session::websocket_session(tcp::socket&& socket, node& n, io_thread& t)
    : socket_(std::move(socket)),
      parser_(n.cfg().max_message_bytes),
      node_(n),
      thread_(t),
      client_(n, t, *this),
      out_(n.cfg().max_queue_bytes) {}

websocket_session::websocket_session(std::unique_ptr<tls_transport> tls, node& n, io_thread& t)
    : socket_(t.ioc),
      tls_(std::move(tls)),
      parser_(n.cfg().max_message_bytes),
      node_(n),
      thread_(t),
      client_(n, t, *this),
      out_(n.cfg().max_queue_bytes) {}

websocket_session::~websocket_session() {
  cleanup();
}

void websocket_session::run(std::string_view leftover, std::optional<auth::identity> who) {
  next_ = thread_.sessions;
  if (next_) next_->prev_ = this;
  thread_.sessions = this;
  open_ = true;
  last_rx_ = std::chrono::steady_clock::now();
  node_.stats().connections.fetch_add(1, std::memory_order_relaxed);
  node_.stats().add(counter::connections_accepted);
  client_.start(std::move(who));
  boost::system::error_code ec;
  if (!tls_) socket_.non_blocking(true, ec);
  if (ec) return terminate("non_blocking");
  if (!leftover.empty()) {
    parser_.feed(leftover);
    process();
  }
  if (open_ && node_.stopping()) go_away();
  do_wait_read();
}

void websocket_session::do_wait_read() {
  // After the peer's close frame nothing more is read (RFC 6455 1.4): the session ends.
  if (reading_ || !open_ || read_paused_ || peer_close_frame_) return;
  reading_ = true;
  if (tls_)
    return tls_->stream.async_read_some(
        net::buffer(tls_->buffer),
        [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
          self->on_tls_read(ec, n);
        });
  // Wait for readability rather than reading into a buffer of our own: an idle connection
  // then holds no read buffer at all (the bytes land in the thread's shared buffer).
  socket_.async_wait(
      tcp::socket::wait_read,
      [self = shared_from_this()](boost::system::error_code ec) { self->on_readable(ec); });
}

void websocket_session::on_readable(boost::system::error_code ec) {
  reading_ = false;
  if (!open_) return;
  if (ec) return terminate(ec == net::error::operation_aborted ? nullptr : "wait");
  auto& buf = thread_.read_buffer;
  std::size_t n = socket_.read_some(net::buffer(buf), ec);
  if (ec == net::error::would_block || ec == net::error::try_again) return do_wait_read();
  if (ec) return terminate(ec == net::error::eof ? nullptr : "read");
  on_bytes(buf.data(), n);
}

void websocket_session::on_tls_read(boost::system::error_code ec, std::size_t n) {
  reading_ = false;
  if (!open_) return;
  // A peer that hangs up without close_notify (stream_truncated) has only gone, as over TCP.
  bool gone = ec == net::error::eof || ec == net::ssl::error::stream_truncated ||
              ec == net::error::operation_aborted;
  if (ec) return terminate(gone ? nullptr : "TLS read");
  // OpenSSL hands over one record per read, and a client sends a record per command: while
  // more of the client's records are already here, gather them before processing, so a burst
  // is handled in one turn (and its fan-out batched) as over TCP, where one read holds many.
  // (A record that is only partly here holds back this client's own commands until its end.)
  bool more = SSL_has_pending(tls_->stream.native_handle()) == 1;
  on_bytes(tls_->buffer.data(), n, more);
}

void websocket_session::on_bytes(const char* data, std::size_t n, bool more_buffered) {
  last_rx_ = std::chrono::steady_clock::now();
  ping_outstanding_ = false;  // any traffic shows the peer is alive
  node_.stats().add(counter::bytes_in, n);
  ++thread_.activity;
  // After a framing error the stream cannot be parsed again: the rest is discarded.
  if (!parser_.failed()) {
    parser_.feed(std::string_view(data, n));
    if (more_buffered && parser_.buffered() < gather_limit) return do_wait_read();
    process();
  }
  if (!open_) return;
  if (parser_.buffered() == 0) parser_.shrink();
  do_wait_read();
}

void websocket_session::process() {
  while (open_) {
    // Backpressure on commands: while a client leaves what it asked for unread, its further
    // commands wait in the parser (and then in the socket); on_write resumes.
    if (out_.owed_bytes() > node_.cfg().max_queue_bytes) {
      read_paused_ = true;
      return;
    }
    auto e = parser_.next();
    switch (e.kind) {
      case ws::event::need_more:
        return;
      case ws::event::message:
        if (closing_) break;  // after our close frame, data is discarded (RFC 6455 5.5.1)
        if (e.text)
          client_.handle(e.payload);
        else
          client_.binary_message();
        break;
      case ws::event::ping:
        if (!close_queued_)
          send(std::make_shared<const std::string>(ws::frame(ws::opcode::pong, e.payload)), true);
        break;
      case ws::event::pong:
        break;
      case ws::event::close:
        return on_close_frame(e.code);
      case ws::event::error:
        return on_framing_error(e);
    }
  }
}

void websocket_session::on_close_frame(std::uint16_t code) {
  close_received_ = peer_close_frame_ = true;
  if (close_sent_) return finish();  // handshake complete
  // Echo the peer's code; the TCP close follows once our frame is written.
  close(code == 1005 ? 1000 : code, "", false);
}

void websocket_session::on_framing_error(const ws::event& e) {
  node_.stats().add(counter::protocol_errors);
  if (e.code == ws::close_too_big) {
    node_.stats().error(protocol::errc::message_too_large);
    spdlog::info("session {}: message over {} bytes, closing with 1009", client_.client_id(),
                 node_.cfg().max_message_bytes);
  } else {
    spdlog::info("session {}: protocol error ({}), closing with {}", client_.client_id(), e.what,
                 e.code);
  }
  close(e.code, e.what, false);
  // The peer's close frame could not be recognised any more: hang up once ours is out.
  close_received_ = true;
}

void websocket_session::check_idle(std::chrono::steady_clock::time_point now) {
  if (!open_) return;
  auto quiet = now - last_rx_;
  auto idle = node_.cfg().idle_timeout;
  if (quiet > idle) {
    spdlog::debug("session {}: no traffic for {} ms, dropping", client_.client_id(), idle.count());
    node_.stats().add(counter::idle_disconnects);
    return terminate(nullptr);
  }
  if (closing_) return;
  client_.check_expiry();
  if (quiet > idle / 2 && !ping_outstanding_ && !closing_) {
    ping_outstanding_ = true;
    send(std::make_shared<const std::string>(ws::frame(ws::opcode::ping, "")), true);
  }
}

void websocket_session::send(std::shared_ptr<const std::string> framed, bool owed) {
  if (closing_ || !open_) return;
  // Only live events count against the bound: replies and recovery replays were asked for,
  // and are bounded by the history and reply limits.
  if (!out_.push(std::move(framed), owed)) {
    // A reader this slow would make the server hold unbounded memory for it.
    node_.stats().add(counter::slow_consumer_disconnects);
    spdlog::info("session {}: outbound queue over {} bytes, closing as slow consumer",
                 client_.client_id(), node_.cfg().max_queue_bytes);
    return close(protocol::close_code::slow_consumer, "slow consumer", false);
  }
  node_.stats().add(counter::messages_out);
  schedule_write();
}

void websocket_session::schedule_write() {
  if (out_.writing() || flush_pending_) return;
  flush_pending_ = true;
  node::schedule_flush(thread_, shared_from_this());
}

void websocket_session::start_write() {
  flush_pending_ = false;
  if (!out_.writing() && !out_.empty() && open_) do_write();
}

void websocket_session::do_write() {
  auto bytes = out_.begin_write();
  auto done = [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
    self->on_write(ec, n);
  };
  if (tls_)
    net::async_write(tls_->stream, net::buffer(bytes.data(), bytes.size()), std::move(done));
  else
    net::async_write(socket_, net::buffer(bytes.data(), bytes.size()), std::move(done));
}

void websocket_session::on_write(boost::system::error_code ec, std::size_t bytes) {
  out_.end_write();
  if (!open_) return;
  if (ec) return terminate(ec == net::error::operation_aborted ? nullptr : "write");
  node_.stats().add(counter::bytes_out, bytes);
  node_.stats().add(counter::writes);
  if (read_paused_ && out_.owed_bytes() <= node_.cfg().max_queue_bytes) {
    read_paused_ = false;
    process();
    if (!open_) return;
    do_wait_read();
  }
  if (!out_.empty()) return do_write();
  out_.shrink();  // an idle connection keeps no batch memory
  if (close_queued_) {
    close_sent_ = true;
    if (close_received_) finish();
    // Otherwise keep reading until the client's close frame (or the grace timer) ends it.
  }
}

void websocket_session::go_away() {
  close(protocol::close_code::going_away, "server shutting down", true);
}

void websocket_session::close(std::uint16_t code, std::string_view reason, bool flush) {
  if (closing_ || !open_) return;
  closing_ = true;
  if (!flush) out_.clear();
  // Queued behind what is kept; `closing_` stops everything else from being added.
  out_.push(std::make_shared<const std::string>(ws::close_frame(code, reason)), true);
  close_queued_ = true;
  schedule_write();
  // A peer that never reads (or never answers) must not hold the connection: bound it.
  close_timer_ = std::make_unique<net::steady_timer>(thread_.ioc, close_grace);
  close_timer_->async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->terminate(nullptr);
  });
}

void websocket_session::finish() {
  // After a framing error reading goes on (what the client still sends is discarded), so no
  // close_notify then: it may not run alongside a read.
  if (!tls_ || reading_) return terminate(nullptr);
  if (tls_closing_ || !open_) return;
  tls_closing_ = true;
  // close_notify, so TLS clients see a clean end (no read or write is in flight now); the
  // close timer bounds a peer that never answers.
  tls_->stream.async_shutdown(
      [self = shared_from_this()](boost::system::error_code) { self->terminate(nullptr); });
}

void websocket_session::terminate(const char* why) {
  if (!open_) return;
  if (why) spdlog::debug("session {}: {} failed, closing", client_.client_id(), why);
  boost::system::error_code ignored;
  auto& s = tls_ ? boost::beast::get_lowest_layer(tls_->stream).socket() : socket_;
  s.shutdown(tcp::socket::shutdown_both, ignored);
  s.close(ignored);
  if (close_timer_) close_timer_->cancel();
  cleanup();
}

void websocket_session::cleanup() {
  if (!open_) return;
  open_ = false;
  closing_ = true;
  out_.clear();
  client_.release();
  if (prev_)
    prev_->next_ = next_;
  else
    thread_.sessions = next_;
  if (next_) next_->prev_ = prev_;
  prev_ = next_ = nullptr;
  node_.stats().connections.fetch_sub(1, std::memory_order_relaxed);
  node_.session_closed();
}

}  // namespace muster::server
