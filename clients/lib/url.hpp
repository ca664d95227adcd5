#pragma once
// The URLs clients accept: ws://, wss://, http://, https://, split into host, port and path,
// and one server's WebSocket URL derived from its HTTP one and back. No I/O; any thread.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "clients/lib/client_error.hpp"

namespace muster::client {

struct endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string target = "/ws";
  bool tls = false;  // wss://
};
/// Parses "ws://host:port/path" or "wss://host:port/path" (path defaults to /ws, port to 8080,
/// musterd's own); a bare "host:port" is ws://. Throws client_error when malformed.
endpoint parse_url(const std::string& url);

/// One server under both of its URLs: the WebSocket (`ws`, for commands and events) and the
/// HTTP base (`http`, for /api/v1), each with an explicit port; both TLS or both plain.
struct server_urls {
  std::string ws;    // ws://host:port/ws or wss://host:port/ws
  std::string http;  // http://host:port or https://host:port (no trailing slash)
};
/// Accepts "ws[s]://host:port[/path]", "http[s]://host:port[/prefix]" or "host:port" and derives
/// the other URL: the WebSocket path is the HTTP prefix + "/ws"; wss pairs with https. Ports
/// default to 8080 for ws, wss and bare host names (musterd's), to 80 for http and 443 for
/// https; throws client_error for any other scheme.
server_urls parse_server_url(const std::string& url);

struct http_url {
  std::string host;
  std::uint16_t port = 80;
  std::string target = "/";
  bool tls = false;  // https://
};
/// Parses "http://host[:port][/path]" (port 80) or "https://…" (port 443); throws client_error
/// otherwise.
http_url parse_http_url(const std::string& url);

/// Splits "host[:port]" (port 1-65535, else `default_port`); throws client_error naming `url`.
std::pair<std::string, std::uint16_t> parse_host_port(std::string_view host_port,
                                                      std::uint16_t default_port,
                                                      const std::string& url);

}  // namespace muster::client
