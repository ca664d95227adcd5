#include "clients/lib/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <charconv>
#include <random>
#include <thread>
#include <type_traits>

#include "clients/lib/tls_context.hpp"

namespace muster::client {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

// One request and its response over `Stream` (beast::tcp_stream, or an ssl_stream on one for
// https://), all within the tcp_stream's one deadline; runs on the caller's io_context.
template <class Stream>
struct exchange {
  static constexpr bool tls = !std::is_same_v<Stream, beast::tcp_stream>;

  exchange(Stream& s, const http_url& url, http::request<http::string_body>& r)
      : stream(s), u(url), req(r), resolver(s.get_executor()) {
    parser.body_limit(16 * 1024 * 1024);
  }

  void do_resolve() {
    // The host as given: a name is resolved, an IP literal passes through.
    resolver.async_resolve(u.host, std::to_string(u.port),
                           [this](beast::error_code ec, tcp::resolver::results_type r) {
                             if (ec) return fail("resolve", ec);
                             do_connect(r);
                           });
  }

  void do_connect(const tcp::resolver::results_type& addresses) {
    // Each address in turn until one accepts.
    beast::get_lowest_layer(stream).async_connect(
        addresses, [this](beast::error_code ec, const tcp::endpoint&) {
          if (ec) return fail("connect", ec);
          if constexpr (tls)
            do_handshake();
          else
            do_write();
        });
  }

  void do_handshake() {
    if constexpr (tls) {
      if (!expect_server_name(stream.native_handle(), u.host))
        return fail("connect", boost::asio::error::invalid_argument);
      // Verifies the certificate (chain, dates, name) before the request goes out.
      stream.async_handshake(ssl::stream_base::client, [this](beast::error_code ec) {
        if (!ec) return do_write();
        certificate_refused = is_certificate_refusal(ec);
        why = "TLS handshake with " + u.host + ":" + std::to_string(u.port) + " failed: " +
              (ec == beast::error::timeout ? "timed out"
                                           : describe_tls_failure(ec, stream.native_handle()));
      });
    }
  }

  void do_write() {
    // The whole request, then the whole response.
    http::async_write(stream, req, [this](beast::error_code ec, std::size_t) {
      if (ec) return fail("send", ec);
      http::async_read(stream, buffer, parser, [this](beast::error_code rec, std::size_t) {
        if (rec) return fail("receive", rec);
        done = true;
      });
    });
  }

  void fail(const char* stage, beast::error_code ec) {
    why = std::string(stage) + " " + (tls ? "https://" : "http://") + u.host + ":" +
          std::to_string(u.port) + u.target + ": " + ec.message();
  }

  Stream& stream;
  const http_url& u;
  http::request<http::string_body>& req;
  tcp::resolver resolver;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  bool done = false;
  bool certificate_refused = false;
  std::string why;  // when it failed
};

http_response to_response(http::response<http::string_body>&& res) {
  http_response out;
  out.status = static_cast<int>(res.result_int());
  out.body = std::move(res.body());
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
  }
  return out;
}

template <class Stream>
http_response run_exchange(boost::asio::io_context& ioc, Stream& stream, const http_url& u,
                           http::request<http::string_body>& req, std::chrono::milliseconds timeout,
                           const std::string& url) {
  exchange<Stream> x(stream, u, req);
  beast::get_lowest_layer(stream).expires_after(timeout);
  x.do_resolve();
  ioc.run_for(timeout + std::chrono::seconds(1));
  if (x.certificate_refused) throw certificate_refused(x.why);
  if (!x.done) throw client_error(x.why.empty() ? "request " + url + ": timed out" : x.why);
  // Over TLS no close_notify is waited for: the response is complete by its length.
  beast::error_code ignored;
  beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
  return to_response(x.parser.release());
}

}  // namespace

http_client::http_client(std::chrono::milliseconds timeout, tls_options tls)
    : timeout_(timeout), tls_(std::move(tls)) {
  if (!tls_.ca_file.empty()) tls_context();  // a CA file it cannot read fails now, not per request
}

http_client::~http_client() = default;

ssl::context& http_client::tls_context() {
  if (!tls_context_) tls_context_ = make_client_tls_context(tls_);
  return *tls_context_;
}

http_response http_client::request(const std::string& method, const std::string& url,
                                   const std::string& body, const std::string& bearer,
                                   const std::string& content_type,
                                   const std::map<std::string, std::string>& headers) {
  auto u = parse_http_url(url);
  http::request<http::string_body> req{http::string_to_verb(method), u.target, 11};
  req.set(http::field::host, u.host + ":" + std::to_string(u.port));
  req.set(http::field::user_agent, "muster/" MUSTER_VERSION);
  if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
  if (!body.empty()) req.set(http::field::content_type, content_type);
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.prepare_payload();

  net::io_context ioc;
  if (!u.tls) {
    beast::tcp_stream stream(ioc);
    return run_exchange(ioc, stream, u, req, timeout_, url);
  }
  beast::ssl_stream<beast::tcp_stream> stream(ioc, tls_context());
  return run_exchange(ioc, stream, u, req, timeout_, url);
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
    } catch (const certificate_refused&) {
      throw;  // the same certificate will be refused again
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
