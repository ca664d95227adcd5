#include "tests/integration/tls_test_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>

#include <unistd.h>

#include <array>
#include <atomic>
#include <charconv>
#include <thread>

namespace muster::test {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

namespace {

struct counters {
  std::atomic<int> connections{0}, handshakes{0}, http_requests{0};
  std::string http_reply = "{}";
};

// One accepted connection: TLS handshake, one HTTP request, then HTTP or WebSocket.
class tls_peer : public std::enable_shared_from_this<tls_peer> {
 public:
  tls_peer(tcp::socket s, ssl::context& ctx, counters& c) : stream_(std::move(s), ctx), c_(c) {}

  void start() {
    auto self = shared_from_this();
    stream_.async_handshake(ssl::stream_base::server, [self](beast::error_code ec) {
      if (ec) return;  // the client refused our certificate, or never spoke TLS
      ++self->c_.handshakes;
      self->do_read_request();
    });
  }

 private:
  void do_read_request() {
    auto self = shared_from_this();
    http::async_read(stream_, buffer_, req_, [self](beast::error_code ec, std::size_t) {
      if (ec) return;
      if (websocket::is_upgrade(self->req_)) return self->do_accept();
      self->do_http_reply();
    });
  }

  void do_http_reply() {
    ++c_.http_requests;
    auto res = std::make_shared<http::response<http::string_body>>(http::status::created, 11);
    res->set(http::field::content_type, "application/json");
    res->body() = c_.http_reply;
    res->prepare_payload();
    auto self = shared_from_this();
    http::async_write(stream_, *res, [self, res](beast::error_code ec, std::size_t) {
      if (ec) return;
      self->req_ = {};
      self->do_read_request();
    });
  }

  void do_accept() {
    ws_ = std::make_unique<websocket::stream<beast::ssl_stream<tcp::socket>&>>(stream_);
    ws_->set_option(websocket::stream_base::decorator([](websocket::response_type& r) {
      r.set(http::field::sec_websocket_protocol, "muster.v1");
    }));
    auto self = shared_from_this();
    ws_->async_accept(req_, [self](beast::error_code ec) {
      if (!ec) self->do_read_message();
    });
  }

  void do_read_message() {
    auto self = shared_from_this();
    ws_->async_read(buffer_, [self](beast::error_code ec, std::size_t) {
      if (ec) return;
      auto command = beast::buffers_to_string(self->buffer_.data());
      self->buffer_.consume(self->buffer_.size());
      if (command.find("\"op\":\"bye\"") != std::string::npos) return self->close_abruptly();
      self->reply_ = "{\"id\":" + id_of(command) + ",\"result\":{}}";
      self->ws_->async_write(net::buffer(self->reply_), [self](beast::error_code ec2, std::size_t) {
        if (!ec2) self->do_read_message();
      });
    });
  }

  // A close frame (code 4000), then a TCP FIN without TLS close_notify: what a server that
  // ends connections quickly does, and what a client must still take for a clean close.
  void close_abruptly() {
    static constexpr unsigned char frame[] = {0x88, 0x02, 0x0f, 0xa0};
    auto self = shared_from_this();
    net::async_write(stream_, net::buffer(frame), [self](beast::error_code ec, std::size_t) {
      if (ec) return;
      beast::get_lowest_layer(self->stream_).shutdown(tcp::socket::shutdown_send, ec);
      self->drain();
    });
  }

  // Stays until the client has closed too (a closed socket would answer its close with RST).
  void drain() {
    auto self = shared_from_this();
    beast::get_lowest_layer(stream_).async_read_some(net::buffer(sink_),
                                                     [self](beast::error_code ec, std::size_t) {
                                                       if (!ec) self->drain();
                                                     });
  }

  static std::string id_of(const std::string& command) {
    auto p = command.find("\"id\":");
    std::uint64_t id = 0;
    if (p != std::string::npos)
      std::from_chars(command.data() + p + 5, command.data() + command.size(), id);
    return std::to_string(id);
  }

  beast::ssl_stream<tcp::socket> stream_;
  counters& c_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  std::unique_ptr<websocket::stream<beast::ssl_stream<tcp::socket>&>> ws_;
  std::string reply_;
  std::array<char, 4096> sink_{};
};

}  // namespace

std::filesystem::path tls_test_certs::fresh_dir() {
  static std::atomic<int> n{0};
  auto d = std::filesystem::temp_directory_path() /
           ("muster-tls-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
  std::filesystem::remove_all(d);
  return d;
}

struct tls_test_server::impl {
  ssl::context ctx{ssl::context::tls_server};  // outlives the peers the io_context still holds
  net::io_context ioc{1};
  tcp::acceptor acceptor{ioc, {net::ip::make_address("127.0.0.1"), 0}};
  counters c;
  std::thread thread;

  void do_accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket s) {
      if (ec) return;
      ++c.connections;
      std::make_shared<tls_peer>(std::move(s), ctx, c)->start();
      do_accept();
    });
  }
};

tls_test_server::tls_test_server(const std::string& cert_file, const std::string& key_file)
    : impl_(std::make_unique<impl>()) {
  impl_->ctx.use_certificate_chain_file(cert_file);
  impl_->ctx.use_private_key_file(key_file, ssl::context::pem);
  impl_->do_accept();
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

tls_test_server::~tls_test_server() {
  net::post(impl_->ioc, [this] { impl_->ioc.stop(); });
  impl_->thread.join();
}

std::uint16_t tls_test_server::port() const {
  return impl_->acceptor.local_endpoint().port();
}
void tls_test_server::set_http_reply(std::string body) {
  impl_->c.http_reply = std::move(body);
}
int tls_test_server::connections() const {
  return impl_->c.connections;
}
int tls_test_server::handshakes() const {
  return impl_->c.handshakes;
}
int tls_test_server::http_requests() const {
  return impl_->c.http_requests;
}

}  // namespace muster::test
