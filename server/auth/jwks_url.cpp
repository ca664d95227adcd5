#include "server/auth/jwks_url.hpp"

#include <charconv>

namespace muster::server::auth {

namespace {
bool loopback(std::string_view host) {
  return host == "localhost" || host.starts_with("127.") || host == "[::1]";
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
  auto colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    auto p = authority.substr(colon + 1);
    unsigned port = 0;
    auto r = std::from_chars(p.data(), p.data() + p.size(), port);
    if (r.ec != std::errc{} || r.ptr != p.data() + p.size() || port == 0 || port > 65535)
      return "has a bad port";
    out.port = static_cast<std::uint16_t>(port);
    authority = authority.substr(0, colon);
  }
  if (authority.empty()) return "has no host";
  for (char c : authority)
    if (static_cast<unsigned char>(c) <= ' ' || c == '\\' || c == '%') return "has a bad host";
  out.host = std::string(authority);
  if (!out.tls && !loopback(out.host))
    return "must start with https:// (http:// only for 127.0.0.1 or localhost)";
  for (char c : out.target)
    if (static_cast<unsigned char>(c) <= ' ' || static_cast<unsigned char>(c) == 0x7f)
      return "has a space or control character in its path";
  return out;
}

}  // namespace muster::server::auth
