#pragma once
// A synchronous Muster client: each call drives its own io_context until the answer arrives
// or a deadline passes. For scripts, the CLI's one-shot commands and tests. One thread only.
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "clients/lib/frame.hpp"

namespace muster::client {

using namespace std::chrono_literals;

/// Thrown when the connection fails, closes, or an answer does not come in time.
struct client_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string target = "/ws";
};
/// Parses "ws://host:port/path" (path defaults to /ws); throws client_error when malformed.
endpoint parse_url(const std::string& url);
/// One server under both of its URLs: the WebSocket (`ws`, for commands and events) and the
/// HTTP base (`http`, for /api/v1), each with an explicit port.
struct server_urls {
  std::string ws;    // ws://host:port/ws
  std::string http;  // http://host:port (no trailing slash)
};
/// Accepts "ws://host:port[/path]", "http://host:port[/prefix]" or "host:port" and derives the
/// other URL: the WebSocket path is the HTTP prefix + "/ws" (ports default to 8080 for ws and
/// bare host names, 80 for http); throws client_error for any other scheme.
server_urls parse_server_url(const std::string& url);
/// Splits "host[:port]" (port 1-65535, else `default_port`); throws client_error naming `url`.
std::pair<std::string, std::uint16_t> parse_host_port(std::string_view host_port,
                                                      std::uint16_t default_port,
                                                      const std::string& url);

class blocking_client {
 public:
  explicit blocking_client(endpoint ep, std::string subprotocol = "muster.v1");
  ~blocking_client();
  blocking_client(const blocking_client&) = delete;
  blocking_client& operator=(const blocking_client&) = delete;

  /// Opens the WebSocket (no "connect" command yet).
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
