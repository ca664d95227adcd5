#include "clients/lib/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <charconv>
#include <random>
#include <thread>
#include <tuple>

namespace muster::client {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

http_url parse_http_url(const std::string& url) {
  std::string_view s(url);
  if (!s.starts_with("http://"))
    throw client_error("unsupported URL \"" + url + "\" (use http://host:port/path)");
  s.remove_prefix(7);
  http_url out;
  auto slash = s.find('/');
  if (slash != std::string_view::npos) out.target = std::string(s.substr(slash));
  std::tie(out.host, out.port) = parse_host_port(s.substr(0, slash), out.port, url);
  return out;
}

http_client::http_client(std::chrono::milliseconds timeout) : timeout_(timeout) {}

http_response http_client::request(const std::string& method, const std::string& url,
                                   const std::string& body, const std::string& bearer,
                                   const std::string& content_type,
                                   const std::map<std::string, std::string>& headers) {
  auto u = parse_http_url(url);
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(16 * 1024 * 1024);
  http::request<http::string_body> req{http::string_to_verb(method), u.target, 11};
  req.set(http::field::host, u.host + ":" + std::to_string(u.port));
  req.set(http::field::user_agent, "muster/" MUSTER_VERSION);
  if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
  if (!body.empty()) req.set(http::field::content_type, content_type);
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.prepare_payload();

  // Asynchronous operations with one deadline for the whole exchange (resolve included).
  beast::error_code failure;
  const char* stage = "connect";
  tcp::resolver resolver(ioc);
  stream.expires_after(timeout_);
  resolver.async_resolve(
      u.host, std::to_string(u.port), [&](beast::error_code ec, tcp::resolver::results_type r) {
        if (ec) {
          failure = ec;
          stage = "resolve";
          return;
        }
        stream.async_connect(r, [&](beast::error_code cec, const tcp::endpoint&) {
          if (cec) {
            failure = cec;
            return;
          }
          stage = "send";
          http::async_write(stream, req, [&](beast::error_code wec, std::size_t) {
            if (wec) {
              failure = wec;
              return;
            }
            stage = "receive";
            http::async_read(stream, buffer, parser, [&](beast::error_code rec, std::size_t) {
              if (rec) failure = rec;
              stage = "done";
            });
          });
        });
      });
  ioc.run_for(timeout_ + std::chrono::seconds(1));
  if (failure || std::string_view(stage) != "done")
    throw client_error(std::string(stage) + " " + url + ": " +
                       (failure ? failure.message() : std::string("timed out")));
  auto res = parser.release();
  http_response out;
  out.status = static_cast<int>(res.result_int());
  out.body = std::move(res.body());
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return out;
}

http_response post_with_retry(http_client& http, const std::string& url, const std::string& body,
                              const std::string& bearer, const retry_policy& policy,
                              const std::function<void(const std::string&)>& log,
                              const std::string& idempotency_key) {
  parse_http_url(url);  // throws at once: a URL it cannot use will not work on a retry either
  std::map<std::string, std::string> headers;
  if (!idempotency_key.empty()) headers["Idempotency-Key"] = idempotency_key;
  thread_local std::mt19937 rng{std::random_device{}()};
  auto delay = policy.initial_delay;
  for (int attempt = 1;; ++attempt) {
    std::string why;
    std::chrono::milliseconds retry_after{0};
    try {
      auto r = http.request("POST", url, body, bearer, "application/json", headers);
      if (r.status != 429 && r.status < 500) return r;
      if (attempt >= policy.max_attempts) return r;
      why = "HTTP " + std::to_string(r.status);
      auto ra = r.headers.find("retry-after");
      unsigned secs = 0;
      if (ra != r.headers.end() &&
          std::from_chars(ra->second.data(), ra->second.data() + ra->second.size(), secs).ec ==
              std::errc{})
        retry_after = std::chrono::seconds(secs);
    } catch (const client_error& e) {
      if (attempt >= policy.max_attempts) throw;
      why = e.what();
    }
    // Half fixed, half random, so retries from many bots do not arrive in step; never sooner
    // than the server asked.
    std::uniform_int_distribution<long long> jitter(0, delay.count() / 2);
    auto wait = std::chrono::milliseconds(delay.count() / 2 + jitter(rng));
    wait = std::min(policy.max_delay, std::max(wait, retry_after));
    if (log)
      log("attempt " + std::to_string(attempt) + " failed (" + why + "); retrying in " +
          std::to_string(wait.count()) + " ms");
    std::this_thread::sleep_for(wait);
    delay = std::min(policy.max_delay, delay * 2);
  }
}

}  // namespace muster::client
