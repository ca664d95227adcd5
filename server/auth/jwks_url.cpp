#include "server/auth/jwks_url.hpp"

#include <boost/asio/ip/address.hpp>

#include <charconv>

namespace muster::server::auth {

namespace {
// "localhost", or an IP literal of the loopback network (127.0.0.0/8, ::1).
bool loopback(const std::string& host) {
  boost::system::error_code ec;
  auto ip = boost::asio::ip::make_address(host, ec);
  return host == "localhost" || (!ec && ip.is_loopback());
}
}  // namespace

std::variant<http_location, std::string> parse_jwks_url(std::string_view url) {
  http_location out;
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
    out.tls = false;
    out.port = 80;
  } else {
    return "must start with https://";
  }
  auto slash = rest.find_first_of("/?#");
  auto authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    auto target = rest.substr(slash);
    if (target.find('#') != std::string_view::npos) return "must not have a #fragment";
    out.target = target.front() == '?' ? "/" + std::string(target) : std::string(target);
  }
  if (authority.find('@') != std::string_view::npos) return "must not carry user:password@";
  std::string_view host = authority, port_text;
  if (authority.starts_with('[')) {  // an IPv6 literal: [::1]:8443
    auto close = authority.find(']');
    if (close == std::string_view::npos) return "has a bad host";
    host = authority.substr(1, close - 1);
    auto after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) return "has a bad host";
    if (after == ":") return "has a bad port";
    if (!after.empty()) port_text = after.substr(1);
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port_text = authority.substr(colon + 1);
    if (port_text.empty()) return "has a bad port";
    if (host.find(':') != std::string_view::npos) return "has a bad host (IPv6 goes in [ ])";
  }
  if (!port_text.empty()) {
    auto p = port_text;
    unsigned port = 0;
    auto r = std::from_chars(p.data(), p.data() + p.size(), port);
    if (r.ec != std::errc{} || r.ptr != p.data() + p.size() || port == 0 || port > 65535)
      return "has a bad port";
    out.port = static_cast<std::uint16_t>(port);
  }
  if (host.empty()) return "has no host";
  for (char c : host)
    if (static_cast<unsigned char>(c) <= ' ' || c == '\\' || c == '%' || c == '[' || c == ']')
      return "has a bad host";
  out.host = std::string(host);
  if (!out.tls && !loopback(out.host))
    return "must start with https:// (http:// only for 127.0.0.1 or localhost)";
  for (char c : out.target)
    if (static_cast<unsigned char>(c) <= ' ' || static_cast<unsigned char>(c) == 0x7f)
      return "has a space or control character in its path";
  return out;
}

std::string host_header(const http_location& where) {
  auto host = where.host.find(':') != std::string::npos ? "[" + where.host + "]" : where.host;
  if (where.port != (where.tls ? 443 : 80)) host += ":" + std::to_string(where.port);
  return host;
}

}  // namespace muster::server::auth
