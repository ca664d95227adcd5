#include "server/http_session.hpp"

#include <spdlog/spdlog.h>

#include <boost/beast/websocket/rfc6455.hpp>

#include "server/node.hpp"
#include "server/websocket_session.hpp"
#include "server/ws_framing.hpp"

namespace muster::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {
constexpr std::size_t max_request_body = 1024 * 1024;

http::response<http::string_body> make_response(
    const http::request<http::string_body>& req, http::status status, std::string body,
    std::string_view content_type = "text/plain; charset=utf-8") {
  http::response<http::string_body> res{status, req.version()};
  res.set(http::field::server, "musterd/" MUSTER_VERSION);
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

bool offers_subprotocol(std::string_view header) {
  // Sec-WebSocket-Protocol is a comma-separated token list.
  while (!header.empty()) {
    auto comma = header.find(',');
    auto token = header.substr(0, comma);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    if (token == protocol::subprotocol) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}
}  // namespace

http_session::http_session(net::ip::tcp::socket&& socket, node& n, io_thread& t)
    : stream_(std::move(socket)), node_(n), thread_(t) {}

void http_session::run() {
  do_read();
}

void http_session::do_read() {
  // A fresh parser per request: Beast parsers are single-use.
  parser_.emplace();
  parser_->body_limit(max_request_body);
  parser_->header_limit(16 * 1024);
  stream_.expires_after(node_.cfg().handshake_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&http_session::on_read, shared_from_this()));
}

void http_session::on_read(beast::error_code ec, std::size_t) {
  if (ec == http::error::end_of_stream) {
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
    return;
  }
  if (ec) return fail(ec, "read");
  auto& req = parser_->get();
  std::string_view target(req.target().data(), req.target().size());
  std::string_view path = target.substr(0, target.find('?'));

  if (websocket::is_upgrade(req)) {
    if (path != "/ws") {
      response_ = nullptr;
      auto res = std::make_shared<http::response<http::string_body>>(
          make_response(req, http::status::not_found, "WebSocket endpoint is /ws\n"));
      res->keep_alive(false);
      response_ = res;
      return http::async_write(
          stream_, *res,
          beast::bind_front_handler(&http_session::on_write, shared_from_this(), false));
    }
    auto proto = req.find(http::field::sec_websocket_protocol);
    bool bad_proto = proto != req.end() && !offers_subprotocol(std::string_view(
                                               proto->value().data(), proto->value().size()));
    bool full = node_.stats().connections.load(std::memory_order_relaxed) >=
                static_cast<std::int64_t>(node_.cfg().max_connections);
    if (bad_proto || full || node_.stopping()) {
      node_.stats().add(counter::connections_rejected);
      auto status = bad_proto ? http::status::bad_request : http::status::service_unavailable;
      std::string why = bad_proto ? "unsupported subprotocol: offer muster.v1\n"
                        : full    ? "connection limit reached\n"
                                  : "server shutting down\n";
      auto res =
          std::make_shared<http::response<http::string_body>>(make_response(req, status, why));
      res->keep_alive(false);
      response_ = res;
      return http::async_write(
          stream_, *res,
          beast::bind_front_handler(&http_session::on_write, shared_from_this(), false));
    }
    return accept_websocket(req);
  }

  http::response<http::string_body> res;
  if (req.method() != http::verb::get) {
    res = make_response(req, http::status::method_not_allowed, "method not allowed\n");
    res.set(http::field::allow, "GET");
  } else if (path == "/healthz") {
    res = make_response(req, http::status::ok, "ok\n");
  } else if (path == "/readyz") {
    bool ready = node_.eng().ready() && !node_.stopping();
    res = make_response(req, ready ? http::status::ok : http::status::service_unavailable,
                        ready ? "ready\n" : "not ready\n");
  } else if (path == "/metrics") {
    auto body = node_.stats().render();
    node_.eng().append_metrics(body);
    body +=
        "# HELP muster_engine_ready Whether the engine can serve requests\n# TYPE "
        "muster_engine_ready gauge\n";
    body += node_.eng().ready() ? "muster_engine_ready 1\n" : "muster_engine_ready 0\n";
    res = make_response(req, http::status::ok, std::move(body),
                        "text/plain; version=0.0.4; charset=utf-8");
  } else {
    res = make_response(req, http::status::not_found, "not found\n");
  }
  bool keep_alive = res.keep_alive();
  auto sp = std::make_shared<http::response<http::string_body>>(std::move(res));
  response_ = sp;
  http::async_write(
      stream_, *sp,
      beast::bind_front_handler(&http_session::on_write, shared_from_this(), keep_alive));
}

void http_session::accept_websocket(const http::request<http::string_body>& req) {
  auto key = req[http::field::sec_websocket_key];
  auto version = req[http::field::sec_websocket_version];
  if (key.size() != 24 || version != "13") {
    node_.stats().add(counter::connections_rejected);
    auto res = std::make_shared<http::response<http::string_body>>(make_response(
        req, version != "13" ? http::status::upgrade_required : http::status::bad_request,
        version != "13" ? "WebSocket version 13 required\n"
                        : "missing or malformed Sec-WebSocket-Key\n"));
    res->set(http::field::sec_websocket_version, "13");
    res->keep_alive(false);
    response_ = res;
    return http::async_write(
        stream_, *res,
        beast::bind_front_handler(&http_session::on_write, shared_from_this(), false));
  }
  auto res = std::make_shared<http::response<http::empty_body>>(http::status::switching_protocols,
                                                                req.version());
  res->set(http::field::server, "musterd/" MUSTER_VERSION);
  res->set(http::field::upgrade, "websocket");
  res->set(http::field::connection, "Upgrade");
  res->set(http::field::sec_websocket_accept,
           ws::accept_key(std::string_view(key.data(), key.size())));
  // No extension is negotiated (permessage-deflate offers are declined by omission).
  if (req.find(http::field::sec_websocket_protocol) != req.end())
    res->set(http::field::sec_websocket_protocol, protocol::subprotocol);
  response_ = res;
  http::async_write(stream_, *res, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    self->response_.reset();
    if (ec) return self->fail(ec, "upgrade");
    self->stream_.expires_never();
    auto data = self->buffer_.cdata();
    std::string leftover(static_cast<const char*>(data.data()), data.size());
    std::make_shared<websocket_session>(self->stream_.release_socket(), self->node_, self->thread_)
        ->run(leftover);
  });
}

void http_session::on_write(bool keep_alive, beast::error_code ec, std::size_t) {
  response_.reset();
  if (ec) return fail(ec, "write");
  if (!keep_alive) {
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
    return;
  }
  do_read();
}

void http_session::fail(beast::error_code ec, const char* what) {
  if (ec == net::error::operation_aborted || ec == beast::error::timeout) return;
  spdlog::debug("http: {}: {}", what, ec.message());
}

}  // namespace muster::server
