#pragma once
// A stand-in web server for tests (an identity provider's key endpoint): answers every GET with
// the status and body it is told, over TLS with a test certificate, and counts the requests.
// Runs on a thread of its own; the setters may be called from any thread.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace muster::test {

class test_https_server {
 public:
  test_https_server(const std::string& cert_file, const std::string& key_file)
      : ctx_(boost::asio::ssl::context::tls_server),
        acceptor_(ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    ctx_.use_certificate_chain_file(cert_file);
    ctx_.use_private_key_file(key_file, boost::asio::ssl::context::pem);
    accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~test_https_server() {
    ioc_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void answer(int status, std::string body) {
    std::lock_guard lock(mutex_);
    status_ = status;
    body_ = std::move(body);
  }
  int requests() const { return requests_.load(); }

 private:
  using stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
  struct exchange {
    explicit exchange(stream&& s) : tls(std::move(s)) {}
    stream tls;
    boost::beast::flat_buffer buffer;
    boost::beast::http::request<boost::beast::http::string_body> req;
    boost::beast::http::response<boost::beast::http::string_body> res;
  };

  void accept() {
    acceptor_.async_accept(
        [this](boost::system::error_code ec, boost::asio::ip::tcp::socket socket) {
          if (ec) return;
          auto x = std::make_shared<exchange>(stream(std::move(socket), ctx_));
          boost::beast::get_lowest_layer(x->tls).expires_after(std::chrono::seconds(5));
          x->tls.async_handshake(boost::asio::ssl::stream_base::server,
                                 [this, x](boost::system::error_code e) {
                                   if (!e) read(x);
                                 });
          accept();
        });
  }
  void read(std::shared_ptr<exchange> x) {
    boost::beast::http::async_read(
        x->tls, x->buffer, x->req, [this, x](boost::system::error_code e, std::size_t) {
          if (e) return;
          ++requests_;
          {
            std::lock_guard lock(mutex_);
            x->res.result(static_cast<unsigned>(status_));
            x->res.body() = body_;
          }
          x->res.version(11);
          x->res.set(boost::beast::http::field::content_type, "application/json");
          x->res.keep_alive(false);
          x->res.prepare_payload();
          boost::beast::http::async_write(
              x->tls, x->res, [x](boost::system::error_code, std::size_t) {
                x->tls.async_shutdown([x](boost::system::error_code) {});
              });
        });
  }

  boost::asio::io_context ioc_;
  boost::asio::ssl::context ctx_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::mutex mutex_;
  int status_ = 200;  // guarded by mutex_
  std::string body_;  // guarded by mutex_
  std::atomic<int> requests_{0};
  std::thread thread_;
};

}  // namespace muster::test
