#include "clients/lib/ws_connection.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>

#include <type_traits>

#include "clients/lib/tls_context.hpp"

namespace muster::client {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

struct ws_connection::io : std::enable_shared_from_this<io> {
  virtual ~io() = default;
  virtual void open(std::chrono::milliseconds timeout, open_handler h) = 0;
  virtual void read(read_handler h) = 0;
  virtual void write(std::string_view message, bool binary, done_handler h) = 0;
  virtual void close(done_handler h) = 0;
  virtual void shutdown() = 0;

  std::string url() const { return (ep.tls ? "wss://" : "ws://") + authority() + ep.target; }
  std::string authority() const { return ep.host + ":" + std::to_string(ep.port); }

  endpoint ep;
  std::string subprotocol;
  bool closed_by_server = false;
  int close_code = 0;
};

// `Stream` is tcp::socket (ws://) or beast::ssl_stream<tcp::socket> (wss://).
template <class Stream>
struct ws_connection::io_on final : ws_connection::io {
  static constexpr bool tls = !std::is_same_v<Stream, tcp::socket>;

  explicit io_on(net::io_context& ioc) : ws(ioc), resolver(ioc), deadline(ioc) {}
  // The context lives as long as this connection (SSL objects hold a reference to it too).
  io_on(net::io_context& ioc, const tls_options& o)
      : context(make_client_tls_context(o)), ws(ioc, *context), resolver(ioc), deadline(ioc) {}

  std::shared_ptr<io_on> shared() { return std::static_pointer_cast<io_on>(shared_from_this()); }

  void open(std::chrono::milliseconds timeout, open_handler h) override {
    on_opened = std::move(h);
    auto self = shared();
    // One deadline for resolve, connect and both handshakes: its expiry closes the socket.
    deadline.expires_after(timeout);
    deadline.async_wait([self](error_code ec) {
      if (!ec && self->on_opened) self->on_deadline();
    });
    do_resolve();
  }

  void on_deadline() {
    timed_out = true;
    resolver.cancel();
    error_code ignored;
    beast::get_lowest_layer(ws).close(ignored);
  }

  void do_resolve() {
    auto self = shared();
    // The host as given: a name is resolved, an IP literal passes through.
    resolver.async_resolve(ep.host, std::to_string(ep.port),
                           [self](error_code ec, tcp::resolver::results_type r) {
                             self->on_resolve(ec, std::move(r));
                           });
  }

  void on_resolve(error_code ec, tcp::resolver::results_type results) {
    if (ec) return fail("cannot resolve " + authority(), ec);
    auto self = shared();
    // Each address in turn until one accepts.
    net::async_connect(beast::get_lowest_layer(ws), results,
                       [self](error_code ec2, const tcp::endpoint&) { self->on_connect(ec2); });
  }

  void on_connect(error_code ec) {
    if (ec) return fail("cannot connect to " + url(), ec);
    beast::get_lowest_layer(ws).set_option(tcp::no_delay(true));
    if constexpr (tls)
      do_tls_handshake();
    else
      do_ws_handshake();
  }

  void do_tls_handshake() {
    if constexpr (tls) {
      auto* native = ws.next_layer().native_handle();
      if (!expect_server_name(native, ep.host)) {
        open_failure f{"TLS with " + authority() + ": cannot check the name " + ep.host};
        return finish(&f);
      }
      auto self = shared();
      // Verifies the certificate (chain, dates, name) before a byte of the WebSocket goes out.
      ws.next_layer().async_handshake(ssl::stream_base::client,
                                      [self](error_code ec) { self->on_tls_handshake(ec); });
    }
  }

  void on_tls_handshake(error_code ec) {
    if constexpr (tls) {
      if (!ec) return do_ws_handshake();
      if (timed_out) return fail("TLS handshake with " + authority(), ec);
      open_failure f{"TLS handshake with " + authority() +
                         " failed: " + describe_tls_failure(ec, ws.next_layer().native_handle()),
                     is_certificate_refusal(ec)};
      finish(&f);
    }
  }

  void do_ws_handshake() {
    if (!subprotocol.empty())
      ws.set_option(
          websocket::stream_base::decorator([p = subprotocol](websocket::request_type& r) {
            r.set(beast::http::field::sec_websocket_protocol, p);
          }));
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    ws.read_message_max(64 * 1024 * 1024);
    auto self = shared();
    // The upgrade request, with the subprotocol the server insists on.
    ws.async_handshake(ep.host, ep.target, [self](error_code ec) {
      if (ec) return self->fail("cannot connect to " + self->url(), ec);
      self->finish(nullptr);
    });
  }

  void fail(const std::string& what, error_code ec) {
    open_failure f{timed_out ? "timed out connecting to " + url() : what + ": " + ec.message()};
    finish(&f);
  }

  void finish(const open_failure* f) {
    deadline.cancel();
    auto h = std::move(on_opened);
    on_opened = nullptr;
    h(f);
  }

  void read(read_handler h) override {
    buffer.consume(buffer.size());  // the previous message's handler has returned
    auto self = shared();
    ws.async_read(buffer, [self, h = std::move(h)](error_code ec, std::size_t) {
      if (ec) {
        self->note_close(ec);
        return h(ec, {});
      }
      auto d = self->buffer.cdata();
      h(ec, std::string_view(static_cast<const char*>(d.data()), d.size()));
    });
  }

  void note_close(error_code ec) {
    close_code = ws.reason().code;
    // Over TLS the close frame may be followed by a bare TCP close: still a clean close.
    bool truncated_after_close = tls && ec == ssl::error::stream_truncated &&
                                 ws.reason().code != websocket::close_code::none;
    closed_by_server = ec == websocket::error::closed || truncated_after_close;
  }

  void write(std::string_view message, bool binary, done_handler h) override {
    ws.text(!binary);
    auto self = shared();
    ws.async_write(net::buffer(message.data(), message.size()),
                   [self, h = std::move(h)](error_code ec, std::size_t) { h(ec); });
  }

  void close(done_handler h) override {
    auto self = shared();
    ws.async_close(websocket::close_code::normal, [self, h = std::move(h)](error_code ec) {
      h(tls && ec == ssl::error::stream_truncated ? error_code{} : ec);
    });
  }

  void shutdown() override {
    resolver.cancel();
    deadline.cancel();
    error_code ignored;
    beast::get_lowest_layer(ws).close(ignored);
  }

  std::shared_ptr<ssl::context> context;  // wss:// only
  websocket::stream<Stream> ws;
  tcp::resolver resolver;
  net::steady_timer deadline;
  beast::flat_buffer buffer;
  open_handler on_opened;
  bool timed_out = false;
};

ws_connection::ws_connection(net::io_context& ioc, endpoint ep, const tls_options& tls,
                             std::string subprotocol) {
  if (ep.tls)
    io_ = std::make_shared<io_on<beast::ssl_stream<tcp::socket>>>(ioc, tls);
  else
    io_ = std::make_shared<io_on<tcp::socket>>(ioc);
  io_->ep = std::move(ep);
  io_->subprotocol = std::move(subprotocol);
}

ws_connection::~ws_connection() {
  io_->shutdown();
}

void ws_connection::async_open(std::chrono::milliseconds timeout, open_handler h) {
  io_->open(timeout, std::move(h));
}
void ws_connection::async_read(read_handler h) {
  io_->read(std::move(h));
}
void ws_connection::async_write(std::string_view message, bool binary, done_handler h) {
  io_->write(message, binary, std::move(h));
}
void ws_connection::async_close(done_handler h) {
  io_->close(std::move(h));
}
void ws_connection::shutdown() {
  io_->shutdown();
}
bool ws_connection::closed_by_server() const {
  return io_->closed_by_server;
}
int ws_connection::close_code() const {
  return io_->close_code;
}
std::string ws_connection::url() const {
  return io_->url();
}

}  // namespace muster::client
