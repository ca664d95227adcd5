#pragma once
// One client WebSocket, ws:// or wss://, behind plain callbacks: the one place where the library
// builds Beast's websocket streams, so that blocking_client and session share the transport and
// compile without Beast. Use it on its io_context's thread only.
#include <boost/system/error_code.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "clients/lib/tls_options.hpp"
#include "clients/lib/url.hpp"

namespace boost::asio {
class io_context;
}

namespace muster::client {

/// Why a connection could not be opened: for the user, and whether trying again can help.
struct open_failure {
  std::string message;  // "TLS handshake with h:p failed: certificate verify failed (...)"
  bool certificate_refused = false;  // permanent until the certificate or the trusted CAs change
};

class ws_connection {
 public:
  using open_handler = std::function<void(const open_failure*)>;  // nullptr: open
  /// `payload` is valid until the handler returns.
  using read_handler = std::function<void(boost::system::error_code, std::string_view payload)>;
  using done_handler = std::function<void(boost::system::error_code)>;

  /// `tls` says what a wss:// endpoint is checked against (ignored for ws://); throws
  /// client_error when its CA file cannot be read.
  ws_connection(boost::asio::io_context& ioc, endpoint ep, const tls_options& tls,
                std::string subprotocol);
  /// Closes the socket; pending handlers then run with operation_aborted.
  ~ws_connection();
  ws_connection(const ws_connection&) = delete;
  ws_connection& operator=(const ws_connection&) = delete;

  /// Resolves, connects, does the TLS handshake for wss:// and then the WebSocket one, all
  /// within `timeout`.
  void async_open(std::chrono::milliseconds timeout, open_handler h);
  /// Reads one message. A close by the server fails the read and sets closed_by_server(), also
  /// over TLS when the server ends the connection without close_notify after its close frame.
  void async_read(read_handler h);
  /// Writes one message; `message` must stay valid until `h` runs.
  void async_write(std::string_view message, bool binary, done_handler h);
  /// Sends a normal close and waits for the server's.
  void async_close(done_handler h);
  /// Closes the socket at once, without a close frame.
  void shutdown();

  bool closed_by_server() const;
  int close_code() const;   // the server's close code, 0 when it gave none
  std::string url() const;  // "wss://host:port/target"

 private:
  struct io;  // the Beast stream, plain or over TLS, kept alive by its pending operations
  template <class Stream>
  struct io_on;
  std::shared_ptr<io> io_;
};

}  // namespace muster::client
