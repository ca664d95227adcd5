#pragma once
// One HTTP connection, plain or TLS (told apart by its first bytes on a TLS port): health,
// readiness and metrics endpoints, the console, the API, and the WebSocket upgrade at /ws, after
// which the stream moves to a websocket_session. Lives on one I/O thread.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <variant>

#include "server/auth/jwt.hpp"
#include "server/crisis/context.hpp"
#include "server/listener.hpp"
#include "server/tls_transport.hpp"

namespace muster::server {

class node;
struct io_thread;

class http_session : public std::enable_shared_from_this<http_session> {
 public:
  /// `spare`: accepted on a spare descriptor at the open-file limit (only /healthz, /readyz and
  /// /metrics are answered, once; the rest gets 503). Held until the session ends.
  http_session(boost::asio::ip::tcp::socket&& socket, node& n, io_thread& t, listener_role role,
               std::shared_ptr<void> spare = {});
  void run();

 private:
  /// A TLS port: the first bytes say whether the client speaks TLS.
  void detect_tls();
  void on_detect(boost::beast::error_code ec, bool speaks_tls);
  void on_handshake(boost::beast::error_code ec, std::size_t used);
  /// The TCP stream under TLS or not (timeouts, shutdown, the executor).
  boost::beast::tcp_stream& tcp();
  /// Runs `f` with the stream the session reads and writes (plain or TLS).
  template <class F>
  void with_stream(F&& f) {
    std::visit(std::forward<F>(f), stream_);
  }
  void do_read();
  void on_header(boost::beast::error_code ec, std::size_t bytes);
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  /// Answers a request that cannot be served on this connection, then closes it.
  void refuse_and_close(boost::beast::http::response<boost::beast::http::string_body> res);
  void on_write(bool keep_alive, boost::beast::error_code ec, std::size_t bytes);
  using request = boost::beast::http::request<boost::beast::http::string_body>;
  using response = boost::beast::http::response<boost::beast::http::string_body>;
  void on_read_error(boost::beast::error_code ec);
  /// /ws: the checks of PROTOCOL.md section 10, then the switch to a websocket_session.
  void handle_upgrade(const request& req, std::string_view target, std::string_view path);
  void accept_websocket(const request& req, std::optional<auth::identity> who);
  /// After the 101: the stream (and bytes read past the request) move to a websocket_session.
  void start_websocket(std::optional<auth::identity> who);
  /// Ends our side: close_notify over TLS, a TCP half-close otherwise.
  void end_output();
  /// Health, readiness, metrics and the console's files.
  response plain_response(const request& req, std::string_view path);
  /// Why this request's Origin may not use /ws or /api (counted), or none.
  std::optional<std::string> origin_refusal(const request& req);
  /// /api/v1/...: answered asynchronously (the crisis service may ask the engine).
  void handle_api(const request& req, std::string_view path);
  /// The request's identity; false after answering 401.
  bool api_identity(const request& req, crisis::actor& who);
  /// The method and the role matrix's row of the endpoint; false after answering 405 or 403.
  bool api_permit(const request& req, const crisis::actor& who, std::string_view endpoint_name,
                  boost::beast::http::verb method);
  /// GET /api/v1/channels/{channel}/...: api_permit, then the channel's name (400) and the
  /// allow-list (403); false after answering.
  bool api_channel_permit(const request& req, const crisis::actor& who,
                          std::string_view endpoint_name, const std::string& channel);
  /// What answers a crisis result on this connection (from any thread).
  std::function<void(crisis::result)> api_reply(const request& req,
                                                boost::beast::http::status ok_status,
                                                bool status_success);
  void api_alerts(const request& req, const crisis::actor& who);
  void api_listing(const request& req, std::string_view path, const crisis::actor& who);
  void api_timeline(const request& req, const std::string& channel, const crisis::actor& who);
  void api_report(const request& req, const std::string& channel, const crisis::actor& who);
  void send_json(const request& req, boost::beast::http::status status, std::string body);
  void send_response(boost::beast::http::response<boost::beast::http::string_body> res);
  void fail(boost::beast::error_code ec, const char* what);
  /// After refusing a request whose body is still arriving: read and drop the rest (bounded in
  /// bytes and time) so the client sees our answer instead of a reset, then close.
  void drain_and_close();
  std::size_t drained_ = 0;

  std::shared_ptr<void> spare_;  // before stream_: released after the socket is closed
  std::variant<boost::beast::tcp_stream, tls_stream> stream_;
  boost::beast::flat_buffer buffer_;
  node& node_;
  io_thread& thread_;
  listener_role role_;
  bool plain_on_tls_port_ = false;  // refused with 400 once its request is read
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::shared_ptr<void> response_;  // keeps the response alive while it is written
};

}  // namespace muster::server
