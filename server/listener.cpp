#include "server/listener.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/strand.hpp>

#include <stdexcept>

#include "server/http_session.hpp"
#include "server/node.hpp"

namespace muster::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {
constexpr std::size_t spare_descriptors = 16;
}

listener::listener(node& n, tcp::endpoint endpoint, listener_role role)
    : node_(n),
      role_(role),
      acceptor_(n.thread(0).ioc),
      retry_timer_(n.thread(0).ioc),
      reserve_(std::make_shared<fd_reserve>(spare_descriptors)) {
  boost::system::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  // Said with the address: "cannot listen on 127.0.0.1:8080: Address already in use".
  if (ec)
    throw std::runtime_error("cannot listen on " + endpoint.address().to_string() + ":" +
                             std::to_string(endpoint.port()) + ": " + ec.message());
  reserve_->top_up();
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

void listener::do_accept(std::shared_ptr<void> slot) {
  // The new socket belongs to the next thread's io_context: that pins the session there.
  std::size_t index = next_thread_++ % node_.thread_count();
  acceptor_.async_accept(node_.thread(index).ioc,
                         [self = shared_from_this(), index, slot = std::move(slot)](
                             boost::system::error_code ec, tcp::socket socket) mutable {
                           self->on_accept(index, std::move(slot), ec, std::move(socket));
                         });
}

void listener::on_accept(std::size_t index, std::shared_ptr<void> slot,
                         boost::system::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) return on_accept_error(ec);
  if (!slot) reserve_->top_up();  // spares first, whenever descriptors come free
  socket.set_option(tcp::no_delay(true), ec);
  auto& t = node_.thread(index);
  net::post(t.ioc, [s = std::move(socket), &n = node_, &t, role = role_,
                    slot = std::move(slot)]() mutable {
    std::make_shared<http_session>(std::move(s), n, t, role, std::move(slot))->run();
  });
  do_accept();
}

void listener::on_accept_error(boost::system::error_code ec) {
  node_.stats().add(counter::accept_errors);
  bool out_of_files =
      ec == net::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system;
  auto held = errors_log_.allow(std::chrono::steady_clock::now());
  if (out_of_files) {
    if (auto slot = reserve_->take()) {
      if (held)
        spdlog::warn(
            "accept: {}: answering health checks and metrics only ({} spare descriptors "
            "left; {} more since the last line)",
            ec.message(), reserve_->held(), *held);
      return do_accept(std::move(slot));
    }
  }
  // Back off briefly instead of spinning on the error.
  if (held)
    spdlog::warn("accept: {}; retrying every 100 ms ({} more since the last line)", ec.message(),
                 *held);
  retry_timer_.expires_after(std::chrono::milliseconds(100));
  retry_timer_.async_wait([self = shared_from_this()](boost::system::error_code e) {
    if (!e && self->acceptor_.is_open()) self->do_accept();
  });
}

}  // namespace muster::server
