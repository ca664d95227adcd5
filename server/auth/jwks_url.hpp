#pragma once
// Where an identity provider publishes its keys (auth.jwks_url), checked and taken apart.
// Plain functions.
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace muster::server::auth {

struct http_location {
  bool tls = true;
  std::string host;  // a name or an IP literal (IPv6 without its brackets)
  std::uint16_t port = 443;
  std::string target = "/";  // path and query
};

/// "https://idp.example/realms/acme/protocol/openid-connect/certs" → its parts, or why it
/// cannot be used. http:// only for loopback hosts: keys fetched in the clear could be swapped
/// on the way, and with them every token.
std::variant<http_location, std::string> parse_jwks_url(std::string_view url);

/// The Host header for `where`: the port when it is not the scheme's default, IPv6 bracketed.
std::string host_header(const http_location& where);

}  // namespace muster::server::auth
