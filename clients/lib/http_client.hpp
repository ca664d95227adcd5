#pragma once
// A small blocking HTTP/1.1 client (http:// or https://, the certificate verified) for
// musterd's /api/v1 and for the feeds the alert bot polls: one request per call, each with a
// deadline, and `post_with_retry` for pushes that must survive 429, 5xx and a server that is
// briefly away. Not thread-safe: one per thread.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "clients/lib/client_error.hpp"
#include "clients/lib/tls_options.hpp"
#include "clients/lib/url.hpp"

namespace boost::asio::ssl {
class context;
}

namespace muster::client {

struct http_response {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case
};

class http_client {
 public:
  /// `tls.ca_file`: a private CA for https:// (throws client_error when it cannot be read).
  explicit http_client(std::chrono::milliseconds timeout = std::chrono::seconds(10),
                       tls_options tls = {});
  ~http_client();
  /// Sends one request; throws certificate_refused when an https:// server's certificate is
  /// refused, client_error when the server cannot be reached or does not answer within the
  /// timeout. Any HTTP status is a response, not an error.
  http_response request(const std::string& method, const std::string& url,
                        const std::string& body = "", const std::string& bearer = "",
                        const std::string& content_type = "application/json",
                        const std::map<std::string, std::string>& headers = {});

 private:
  boost::asio::ssl::context& tls_context();

  std::chrono::milliseconds timeout_;
  tls_options tls_;
  std::shared_ptr<boost::asio::ssl::context> tls_context_;  // made for the first https://
};

/// How `post_with_retry` waits: exponential backoff with jitter between attempts, or the
/// server's Retry-After (seconds) when it gives one, capped at `max_delay`.
struct retry_policy {
  int max_attempts = 8;
  std::chrono::milliseconds initial_delay{200};
  std::chrono::milliseconds max_delay{10000};
};

/// POSTs `body`, retrying on 429, 5xx and connection failures; other answers (2xx, other 4xx)
/// are returned at once; a URL that is not http(s):// and a refused certificate
/// (certificate_refused) throw at once. `log` hears about each retry.
/// Throws client_error when the last attempt could not reach the server; returns the last response
/// otherwise. A non-empty `idempotency_key` goes with every attempt (Idempotency-Key): the server
/// acts once.
http_response post_with_retry(http_client& http, const std::string& url, const std::string& body,
                              const std::string& bearer, const retry_policy& policy,
                              const std::function<void(const std::string&)>& log = {},
                              const std::string& idempotency_key = "");

}  // namespace muster::client
