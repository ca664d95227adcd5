#pragma once
// A tiny TLS server on a free loopback port for the clients' TLS tests, beside musterd's own
// TLS because it counts connections (no retry) and can end one without close_notify:
// a WebSocket upgrade gets a Muster-like peer that answers every command {"id":N,...} with
// {"id":N,"result":{}} (and "bye" with close code 4000 and a bare TCP close); any other HTTP
// request gets `http_reply`. Runs on its own thread; the counters may be read from any thread.
// Also the certificates the tests serve (tls_test_certs).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/test_certs.hpp"

namespace muster::test {

/// A private CA in a fresh temp dir and the server certificates the TLS tests need.
struct tls_test_certs {
  std::filesystem::path dir;
  certs::authority ca;
  certs::issued valid, expired, wrong_name;

  tls_test_certs() : tls_test_certs(fresh_dir()) {}
  ~tls_test_certs() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  tls_test_certs(const tls_test_certs&) = delete;
  tls_test_certs& operator=(const tls_test_certs&) = delete;

 private:
  explicit tls_test_certs(std::filesystem::path d)
      : dir(d),
        ca(d),
        valid(ca.issue("valid")),
        expired(ca.issue("expired", {.not_before = std::chrono::hours(-48),
                                     .not_after = std::chrono::hours(-24)})),
        wrong_name(ca.issue("wrong-name", {.common_name = "elsewhere.example",
                                           .alt_names = "DNS:elsewhere.example"})) {}
  static std::filesystem::path fresh_dir();
};

/// musterd arguments that make it speak TLS with `c` on its main port, then `more`.
inline std::vector<std::string> musterd_tls_args(const certs::issued& c,
                                                 std::vector<std::string> more = {}) {
  std::vector<std::string> a = {"--set", "tls.cert_file=\"" + c.cert_file + "\"", "--set",
                                "tls.key_file=\"" + c.key_file + "\""};
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

class tls_test_server {
 public:
  /// Serves `cert_file` (with the chain above it) and `key_file`, PEM.
  tls_test_server(const std::string& cert_file, const std::string& key_file);
  ~tls_test_server();
  tls_test_server(const tls_test_server&) = delete;
  tls_test_server& operator=(const tls_test_server&) = delete;

  std::uint16_t port() const;
  /// The body every plain HTTP request gets, with status 201 (set before clients connect).
  void set_http_reply(std::string body);

  /// Serves `c` until destroyed.
  explicit tls_test_server(const certs::issued& c) : tls_test_server(c.cert_file, c.key_file) {}

  int connections() const;    // TCP connections accepted
  int handshakes() const;     // TLS handshakes that succeeded
  int http_requests() const;  // non-WebSocket requests answered

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace muster::test
