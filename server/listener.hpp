#pragma once
// Accepts TCP connections on one port and hands each to an http_session on the next I/O
// thread, round-robin (with the listener's role); at the open-file limit, spare descriptors let it
// keep answering health checks. Runs on I/O thread 0.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>

#include "server/fd_reserve.hpp"
#include "server/log_throttle.hpp"

namespace muster::server {

class node;

/// What a listener is for: the main port (console, WebSocket, API; TLS when configured), or the
/// plain internal one for health checks and metrics (server.internal_listen).
enum class listener_role { main, internal };

class listener : public std::enable_shared_from_this<listener> {
 public:
  listener(node& n, boost::asio::ip::tcp::endpoint endpoint,
           listener_role role = listener_role::main);  // throws on bind failure
  void run();
  void stop();
  std::uint16_t port() const;

 private:
  /// `slot`: a spare descriptor given up for this accept (the session is limited to checks).
  void do_accept(std::shared_ptr<void> slot = {});
  void on_accept(std::size_t index, std::shared_ptr<void> slot, boost::system::error_code ec,
                 boost::asio::ip::tcp::socket socket);
  void on_accept_error(boost::system::error_code ec);

  node& node_;
  listener_role role_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  std::size_t next_thread_ = 0;
  std::shared_ptr<fd_reserve> reserve_;
  log_throttle errors_log_{std::chrono::seconds(10)};
};

}  // namespace muster::server
