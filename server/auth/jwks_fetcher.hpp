#pragma once
// Keeps an identity provider's key set fresh from its URL (auth.jwks_url): fetched on a thread
// of its own (never an I/O thread) at start, every refresh interval, and soon after a token
// names a key id the set lacks (a rotation; at most once per 5 s). A failed fetch is logged
// and the last good set stays. Public methods are thread-safe.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "server/auth/jwks.hpp"
#include "server/auth/jwks_url.hpp"

namespace muster::server {
class metrics;
}

namespace muster::server::auth {

class jwks_fetcher {
 public:
  struct options {
    std::string url;      // as configured, for messages
    std::string ca_file;  // trusted CAs for https ("": the system's)
    std::chrono::seconds refresh{300};
    std::chrono::milliseconds timeout{5000};  // each step: connect, handshake, request, reply
  };
  using sink = std::function<void(std::shared_ptr<const key_set>)>;
  /// `on_keys` gets every key set fetched (on the fetcher's thread).
  jwks_fetcher(options o, sink on_keys, metrics& m);
  ~jwks_fetcher();  // stops the thread (an HTTP exchange under way ends at its timeout)
  jwks_fetcher(const jwks_fetcher&) = delete;
  jwks_fetcher& operator=(const jwks_fetcher&) = delete;

  void start();
  /// A token named a key id the set does not hold: fetch again soon.
  void key_missing();
  /// A key set has been fetched at least once.
  bool loaded() const { return loaded_.load(); }

  /// One GET of `where`: the body of a 200 answer, or throws std::runtime_error saying why.
  static std::string fetch(const http_location& where, const options& o);

 private:
  void loop();
  void fetch_once();

  options opts_;
  http_location where_;
  sink on_keys_;
  metrics& metrics_;
  std::atomic<bool> loaded_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;     // guarded by mutex_
  bool missing_ = false;  // guarded by mutex_: a token named an unknown key id
  std::chrono::steady_clock::time_point last_fetch_;  // fetcher thread only
  std::thread thread_;
};

}  // namespace muster::server::auth
