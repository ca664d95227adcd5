#pragma once
// One WebSocket connection after the HTTP upgrade: RFC 6455 framing (ws::parser) on a plain
// TCP socket or over TLS, the read loop, the write loop (one write in flight, from the outbound
// queue) and the closing handshake. What the client says goes to its client_session. Lives on
// one I/O thread; others reach it via net::post.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "server/session/client_session.hpp"
#include "server/session/outbound_queue.hpp"
#include "server/ws_framing.hpp"

namespace muster::server {

class node;
struct io_thread;
struct tls_transport;

class websocket_session : public std::enable_shared_from_this<websocket_session>,
                          public client_link {
 public:
  websocket_session(boost::asio::ip::tcp::socket&& socket, node& n, io_thread& t);
  websocket_session(std::unique_ptr<tls_transport> tls, node& n, io_thread& t);
  ~websocket_session() override;

  /// Starts reading; `leftover` holds bytes the client sent right after its upgrade request.
  /// `who`: the identity from a `?token=` already verified at the upgrade, if any.
  void run(std::string_view leftover, std::optional<auth::identity> who = std::nullopt);
  /// Server shutdown: flush what is queued, then close with 1001.
  void go_away();
  /// Keepalive, from the thread's sweep: ping a quiet client, drop a silent one.
  void check_idle(std::chrono::steady_clock::time_point now);
  /// A revocation came in: close now if it concerns this connection's token (4001).
  void check_token() { client_.check_expiry(); }
  /// Called by the thread's flush: writes what is queued unless a write is in flight.
  void start_write();

  // client_link
  void send(std::shared_ptr<const std::string> framed, bool owed) override;
  void close(std::uint16_t code, std::string_view reason, bool flush) override;
  std::shared_ptr<void> hold() override { return shared_from_this(); }
  bool open() const override { return open_; }

  // Intrusive list of the thread's sessions (for shutdown and keepalive); its thread only.
  websocket_session* prev_ = nullptr;
  websocket_session* next_ = nullptr;

 private:
  void do_wait_read();
  void on_readable(boost::system::error_code ec);
  void on_tls_read(boost::system::error_code ec, std::size_t n);
  /// What came in (plain or decrypted): parsed and handed on, then the next read;
  /// `more_buffered`: more TLS records are already here, so processing waits for them.
  void on_bytes(const char* data, std::size_t n, bool more_buffered = false);
  /// Hands complete messages to the client, until the parser needs more or reading pauses.
  void process();
  void on_close_frame(std::uint16_t code);
  void on_framing_error(const ws::event& e);
  void schedule_write();
  void do_write();
  void on_write(boost::system::error_code ec, std::size_t bytes);
  /// The closing handshake is complete: over TLS, close_notify first; then terminate.
  void finish();
  /// Closes the TCP connection now and releases everything the session holds.
  void terminate(const char* why);
  void cleanup();

  boost::asio::ip::tcp::socket socket_;  // plain connections (closed and unused over TLS)
  std::unique_ptr<tls_transport> tls_;   // TLS connections
  ws::parser parser_;
  node& node_;
  io_thread& thread_;
  client_session client_;
  session::outbound_queue out_;

  bool open_ = false;              // running and not yet cleaned up
  bool closing_ = false;           // close frame queued: no more commands or events
  bool close_sent_ = false;        // our close frame is on the wire
  bool close_received_ = false;    // the client's close frame arrived (or cannot be recognised)
  bool peer_close_frame_ = false;  // it did arrive: nothing more is read
  bool close_queued_ = false;      // the close frame is in the queue or being written
  bool tls_closing_ = false;       // close_notify under way
  bool reading_ = false;
  bool read_paused_ = false;    // owed output over the bound: commands wait
  bool flush_pending_ = false;  // registered with the thread's flush
  bool ping_outstanding_ = false;
  std::chrono::steady_clock::time_point last_rx_;
  std::unique_ptr<boost::asio::steady_timer> close_timer_;  // only while closing
};

}  // namespace muster::server
