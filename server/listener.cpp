#include "server/listener.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/strand.hpp>

#include "server/http_session.hpp"
#include "server/node.hpp"

namespace muster::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

listener::listener(node& n, tcp::endpoint endpoint)
    : node_(n), acceptor_(n.thread(0).ioc), retry_timer_(n.thread(0).ioc) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
}

std::uint16_t listener::port() const {
  return acceptor_.local_endpoint().port();
}

void listener::run() {
  do_accept();
}

void listener::stop() {
  boost::system::error_code ec;
  acceptor_.close(ec);
  retry_timer_.cancel();
}

void listener::do_accept() {
  // The new socket belongs to the next thread's io_context: that pins the session there.
  std::size_t index = next_thread_++ % node_.thread_count();
  acceptor_.async_accept(
      node_.thread(index).ioc,
      [self = shared_from_this(), index](boost::system::error_code ec, tcp::socket socket) {
        self->on_accept(index, ec, std::move(socket));
      });
}

void listener::on_accept(std::size_t index, boost::system::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    // Typically EMFILE: say so, and back off briefly instead of spinning on the error.
    spdlog::warn("accept: {}", ec.message());
    retry_timer_.expires_after(std::chrono::milliseconds(100));
    retry_timer_.async_wait([self = shared_from_this()](boost::system::error_code e) {
      if (!e && self->acceptor_.is_open()) self->do_accept();
    });
    return;
  }
  socket.set_option(tcp::no_delay(true), ec);
  auto& t = node_.thread(index);
  net::post(t.ioc, [s = std::move(socket), &n = node_, &t]() mutable {
    std::make_shared<http_session>(std::move(s), n, t)->run();
  });
  do_accept();
}

}  // namespace muster::server
