#pragma once
// Accepts TCP connections on one port and hands each to an http_session on the next I/O
// thread, round-robin. Runs on I/O thread 0.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>

namespace muster::server {

class node;

class listener : public std::enable_shared_from_this<listener> {
 public:
  listener(node& n, boost::asio::ip::tcp::endpoint endpoint);  // throws on bind failure
  void run();
  void stop();
  std::uint16_t port() const;

 private:
  void do_accept();
  void on_accept(std::size_t index, boost::system::error_code ec,
                 boost::asio::ip::tcp::socket socket);

  node& node_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  std::size_t next_thread_ = 0;
};

}  // namespace muster::server
