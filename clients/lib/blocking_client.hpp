#pragma once
// A synchronous Muster client: each call drives its own io_context until the answer arrives
// or a deadline passes. For scripts, the CLI's one-shot commands and tests. One thread only.
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "clients/lib/client_error.hpp"
#include "clients/lib/frame.hpp"
#include "clients/lib/tls_options.hpp"
#include "clients/lib/url.hpp"

namespace muster::client {

using namespace std::chrono_literals;

class blocking_client {
 public:
  // string_view, not string: `blocking_client(ep, {path})` is then ambiguous, never silently a
  // subprotocol; write tls_options{.ca_file = path}.
  explicit blocking_client(endpoint ep, std::string_view subprotocol = "muster.v1");
  /// For wss:// with a private CA (`tls.ca_file`); throws client_error when it cannot be read.
  blocking_client(endpoint ep, const tls_options& tls, std::string_view subprotocol = "muster.v1");
  ~blocking_client();
  blocking_client(const blocking_client&) = delete;
  blocking_client& operator=(const blocking_client&) = delete;

  /// Opens the WebSocket (no "connect" command yet); throws certificate_refused when the
  /// server's TLS certificate is refused, client_error for any other failure.
  void open(std::chrono::milliseconds timeout = 5s);
  /// open() then the "connect" command; returns the result JSON.
  std::string connect(const std::string& name, const std::string& token = "",
                      std::chrono::milliseconds timeout = 5s);

  /// Sends {"id":N,"op":op,<fields>} and waits for its reply (result or error).
  server_message call(std::string_view op, std::string_view fields = "",
                      std::chrono::milliseconds timeout = 5s);
  /// Sends without waiting; returns the id used.
  std::uint64_t send_command(std::string_view op, std::string_view fields = "");
  server_message wait_reply(std::uint64_t id, std::chrono::milliseconds timeout = 5s);
  /// Like wait_reply, but returns nullopt at the deadline instead of throwing.
  std::optional<server_message> poll_reply(std::uint64_t id, std::chrono::microseconds timeout);

  void send_text(std::string_view text);
  void send_binary(std::string_view bytes);

  /// The next event (not a reply), or nullopt at the deadline or on close.
  std::optional<server_message> next_event(std::chrono::milliseconds timeout = 5s);
  /// Events already received, without waiting.
  std::size_t buffered_events() const;

  /// Waits until the server closes the connection; returns its close code (0: none given).
  std::optional<int> wait_closed(std::chrono::milliseconds timeout = 5s);
  bool is_open() const;
  void close();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace muster::client
