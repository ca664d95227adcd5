#pragma once
// A small TLS client for the server's TLS tests, independent of the client library: a WebSocket
// over TLS and one-shot HTTPS requests, verifying the server against a given CA file, every
// step bounded in time. One thread.
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

namespace muster::test {

namespace tls_net = boost::asio;
namespace tls_beast = boost::beast;

/// Thrown when a step fails; `what()` says which and why ("certificate has expired").
struct tls_client_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct tls_client_options {
  std::string ca_file;             // trusted (empty: the system's CAs)
  std::string host = "localhost";  // SNI and the name checked in the certificate
  int max_version = 0;             // e.g. TLS1_2_VERSION to offer at most TLS 1.2 (0: any)
  std::chrono::milliseconds timeout = std::chrono::seconds(5);
};

class tls_connection {
 public:
  using ssl_stream = tls_beast::ssl_stream<tls_beast::tcp_stream>;
  using ws_stream = tls_beast::websocket::stream<ssl_stream>;

  tls_connection(std::uint16_t port, tls_client_options o)
      : opts_(std::move(o)), ctx_(tls_net::ssl::context::tls_client) {
    ctx_.set_verify_mode(tls_net::ssl::verify_peer);
    if (opts_.ca_file.empty())
      ctx_.set_default_verify_paths();
    else
      ctx_.load_verify_file(opts_.ca_file);
    if (opts_.max_version) SSL_CTX_set_max_proto_version(ctx_.native_handle(), opts_.max_version);
    ws_.emplace(ioc_, ctx_);
    stream().set_verify_callback(tls_net::ssl::host_name_verification(opts_.host));
    if (opts_.host.find_first_not_of("0123456789.") != std::string::npos)
      SSL_set_tlsext_host_name(stream().native_handle(), opts_.host.c_str());
    tls_net::ip::tcp::endpoint to(tls_net::ip::make_address("127.0.0.1"), port);
    run("connect", [&](auto h) { tls_beast::get_lowest_layer(stream()).async_connect(to, h); });
    run("TLS handshake",
        [&](auto h) { stream().async_handshake(tls_net::ssl::stream_base::client, h); });
  }

  ssl_stream& stream() { return ws_->next_layer(); }
  ws_stream& ws() { return *ws_; }
  /// The negotiated protocol ("TLSv1.3").
  std::string version() { return SSL_get_version(stream().native_handle()); }
  /// The serial number of the certificate the server presented.
  long peer_serial() {
    X509* c = SSL_get1_peer_certificate(stream().native_handle());
    long serial = c ? ASN1_INTEGER_get(X509_get0_serialNumber(c)) : -1;
    X509_free(c);
    return serial;
  }

  /// Runs one asynchronous step to completion within the timeout; throws saying why it failed.
  template <class Start>
  void run(const char* what, Start start) {
    if (broken_) throw tls_client_error(std::string(what) + ": connection already failed");
    bool done = false;
    tls_beast::error_code result;
    start([&](tls_beast::error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    ioc_.restart();
    ioc_.run_for(opts_.timeout);
    if (!done) {
      broken_ = true;
      tls_beast::get_lowest_layer(stream()).close();
      throw tls_client_error(std::string(what) + ": timed out");
    }
    if (result) {
      broken_ = true;
      std::string why = result.message();
      long verify = SSL_get_verify_result(stream().native_handle());
      if (verify != X509_V_OK)
        why += " (" + std::string(X509_verify_cert_error_string(verify)) + ")";
      throw tls_client_error(std::string(what) + ": " + why);
    }
  }

 private:
  tls_client_options opts_;
  tls_net::io_context ioc_;
  tls_net::ssl::context ctx_;
  std::optional<ws_stream> ws_;  // its next layer is the TLS stream (plain HTTPS uses only that)
  bool broken_ = false;
};

/// A WebSocket to /ws over TLS.
class tls_websocket {
 public:
  tls_websocket(std::uint16_t port, tls_client_options o) : conn_(port, o), ws_(conn_.ws()) {
    std::string host = o.host + ":" + std::to_string(port);
    conn_.run("WebSocket upgrade", [&](auto h) { ws_.async_handshake(host, "/ws", h); });
  }
  tls_connection& connection() { return conn_; }
  void send(const std::string& text) {
    conn_.run("write", [&](auto h) { ws_.async_write(tls_net::buffer(text), h); });
  }
  /// The next text frame.
  std::string read() {
    tls_beast::flat_buffer b;
    conn_.run("read", [&](auto h) { ws_.async_read(b, h); });
    return tls_beast::buffers_to_string(b.data());
  }
  /// Reads frames until one contains `needle` (at most `max_frames`); returns it.
  std::string read_until(const std::string& needle, int max_frames = 100) {
    for (int i = 0; i < max_frames; ++i) {
      auto f = read();
      if (f.find(needle) != std::string::npos) return f;
    }
    throw tls_client_error("no frame with " + needle);
  }
  /// Sends a command and returns its reply (events before it are skipped).
  std::string call(int id, const std::string& op, const std::string& fields = "") {
    send("{\"id\":" + std::to_string(id) + ",\"op\":\"" + op + "\"" +
         (fields.empty() ? "" : "," + fields) + "}");
    return read_until("{\"id\":" + std::to_string(id) + ",");
  }
  void close() {
    conn_.run("close",
              [&](auto h) { ws_.async_close(tls_beast::websocket::close_code::normal, h); });
  }

 private:
  tls_connection conn_;
  tls_connection::ws_stream& ws_;
};

struct https_reply {
  int status = 0;
  std::string body;
};

/// One HTTPS GET.
inline https_reply https_get(std::uint16_t port, const std::string& target, tls_client_options o) {
  tls_connection c(port, o);
  tls_beast::http::request<tls_beast::http::empty_body> req{tls_beast::http::verb::get, target, 11};
  req.set(tls_beast::http::field::host, o.host + ":" + std::to_string(port));
  c.run("write", [&](auto h) { tls_beast::http::async_write(c.stream(), req, h); });
  tls_beast::flat_buffer b;
  tls_beast::http::response<tls_beast::http::string_body> res;
  c.run("read", [&](auto h) { tls_beast::http::async_read(c.stream(), b, res, h); });
  return {static_cast<int>(res.result_int()), res.body()};
}

}  // namespace muster::test
