#include "server/auth/jwks_fetcher.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <stdexcept>
#include <variant>

#include "server/metrics.hpp"

namespace muster::server::auth {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr auto missing_key_gap = std::chrono::seconds(5);
constexpr auto retry_after_failure = std::chrono::seconds(10);
constexpr std::size_t max_body = 1024 * 1024;

// Runs one asynchronous step on `ioc` to completion (each step is bounded by the stream's
// timeout); throws "<what>: <why>".
template <class Start>
void step(net::io_context& ioc, const char* what, Start start, SSL* ssl = nullptr) {
  beast::error_code result = net::error::would_block;
  start([&](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  if (!result) return;
  std::string why = result.message();
  if (ssl && SSL_get_verify_result(ssl) != X509_V_OK)
    why += std::string(" (") + X509_verify_cert_error_string(SSL_get_verify_result(ssl)) + ")";
  throw std::runtime_error(std::string(what) + ": " + why);
}

template <class Stream>
std::string exchange(net::io_context& ioc, Stream& stream, const http_location& where, SSL* ssl) {
  http::request<http::empty_body> req{http::verb::get, where.target, 11};
  req.set(http::field::host, host_header(where));
  req.set(http::field::user_agent, "musterd/" MUSTER_VERSION);
  req.set(http::field::accept, "application/json");
  req.keep_alive(false);
  step(
      ioc, "request", [&](auto h) { http::async_write(stream, req, h); }, ssl);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_body);
  step(
      ioc, "reply", [&](auto h) { http::async_read(stream, buffer, parser, h); }, ssl);
  auto& res = parser.get();
  if (res.result() != http::status::ok)
    throw std::runtime_error("HTTP " + std::to_string(res.result_int()));
  return std::move(res.body());
}

}  // namespace

jwks_fetcher::jwks_fetcher(options o, sink on_keys, metrics& m)
    : opts_(std::move(o)), on_keys_(std::move(on_keys)), metrics_(m) {
  auto parsed = parse_jwks_url(opts_.url);
  if (auto* why = std::get_if<std::string>(&parsed))
    throw std::runtime_error("auth.jwks_url " + opts_.url + ": " + *why);
  where_ = std::get<http_location>(parsed);
}

jwks_fetcher::~jwks_fetcher() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void jwks_fetcher::start() {
  thread_ = std::thread([this] { loop(); });
}

void jwks_fetcher::key_missing() {
  {
    std::lock_guard lock(mutex_);
    if (missing_) return;
    missing_ = true;
  }
  wake_.notify_all();
}

void jwks_fetcher::loop() {
  bool ok = true;
  std::unique_lock lock(mutex_);
  while (!stop_) {
    missing_ = false;  // a request made during the fetch below is kept for the next one
    lock.unlock();
    last_fetch_ = std::chrono::steady_clock::now();
    try {
      fetch_once();
      ok = true;
    } catch (const std::exception& e) {
      ok = false;
      metrics_.add(counter::jwks_fetch_failures);
      spdlog::error("auth.jwks_url {}: {}; {}", opts_.url, e.what(),
                    loaded_ ? "the keys fetched before stay" : "no provider token is accepted yet");
    }
    lock.lock();
    auto next = last_fetch_ + (ok ? opts_.refresh
                                  : std::min<std::chrono::steady_clock::duration>(
                                        opts_.refresh, retry_after_failure));
    // Until the next refresh; sooner for an unknown key id, but not within a few seconds of
    // the last fetch (tokens with made-up key ids must not hammer the provider).
    while (!stop_) {
      auto now = std::chrono::steady_clock::now();
      auto soonest = last_fetch_ + missing_key_gap;
      if (now >= next || (missing_ && now >= soonest)) break;
      wake_.wait_until(lock, missing_ ? std::min(next, soonest) : next);
    }
  }
}

void jwks_fetcher::fetch_once() {
  auto body = fetch(where_, opts_);
  auto parsed = key_set::parse(body);
  if (auto* why = std::get_if<std::string>(&parsed))
    throw std::runtime_error("not a usable key set: " + *why);
  auto keys = std::make_shared<const key_set>(std::move(std::get<key_set>(parsed)));
  metrics_.add(counter::jwks_fetches);
  if (!loaded_) spdlog::info("auth: {} keys from {}", keys->size(), opts_.url);
  spdlog::debug("auth: {} keys from {}", keys->size(), opts_.url);
  on_keys_(std::move(keys));
  loaded_ = true;
}

std::string jwks_fetcher::fetch(const http_location& where, const options& o) {
  net::io_context ioc;
  net::ip::tcp::resolver resolver(ioc);
  net::ip::tcp::resolver::results_type endpoints;
  step(ioc, "resolve", [&](auto h) {
    resolver.async_resolve(where.host, std::to_string(where.port),
                           [&, h](beast::error_code ec, net::ip::tcp::resolver::results_type r) {
                             endpoints = std::move(r);
                             h(ec);
                           });
  });
  if (!where.tls) {
    beast::tcp_stream stream(ioc);
    stream.expires_after(o.timeout);
    step(ioc, "connect", [&](auto h) { stream.async_connect(endpoints, h); });
    stream.expires_after(o.timeout);
    return exchange(ioc, stream, where, nullptr);
  }
  net::ssl::context ctx(net::ssl::context::tls_client);
  ctx.set_verify_mode(net::ssl::verify_peer);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  try {
    if (o.ca_file.empty())
      ctx.set_default_verify_paths();
    else
      ctx.load_verify_file(o.ca_file);
  } catch (const std::exception& e) {
    throw std::runtime_error("auth.jwks_ca_file " + o.ca_file + ": not a readable PEM file (" +
                             e.what() + ")");
  }
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  stream.set_verify_callback(net::ssl::host_name_verification(where.host));
  beast::error_code not_ip;
  net::ip::make_address(where.host, not_ip);
  if (not_ip) SSL_set_tlsext_host_name(stream.native_handle(), where.host.c_str());  // names only
  auto& tcp = beast::get_lowest_layer(stream);
  tcp.expires_after(o.timeout);
  step(ioc, "connect", [&](auto h) { tcp.async_connect(endpoints, h); });
  tcp.expires_after(o.timeout);
  step(
      ioc, "TLS handshake",
      [&](auto h) { stream.async_handshake(net::ssl::stream_base::client, h); },
      stream.native_handle());
  tcp.expires_after(o.timeout);
  return exchange(ioc, stream, where, stream.native_handle());
}

}  // namespace muster::server::auth
