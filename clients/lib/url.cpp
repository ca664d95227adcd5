#include "clients/lib/url.hpp"

#include <charconv>
#include <optional>
#include <tuple>

namespace muster::client {

namespace {

enum class scheme { ws, wss, http, https };

// Removes a known scheme from `s`; nullopt (and `s` unchanged) when there is none.
std::optional<scheme> take_scheme(std::string_view& s) {
  static constexpr std::pair<std::string_view, scheme> known[] = {{"ws://", scheme::ws},
                                                                  {"wss://", scheme::wss},
                                                                  {"http://", scheme::http},
                                                                  {"https://", scheme::https}};
  for (auto [prefix, sch] : known)
    if (s.starts_with(prefix)) {
      s.remove_prefix(prefix.size());
      return sch;
    }
  return std::nullopt;
}

bool has_scheme(std::string_view s) {
  return s.find("://") != std::string_view::npos;
}

}  // namespace

endpoint parse_url(const std::string& url) {
  endpoint ep;
  std::string_view s(url);
  auto sch = take_scheme(s);
  if ((sch && *sch != scheme::ws && *sch != scheme::wss) || (!sch && has_scheme(s)))
    throw client_error("unsupported URL scheme in \"" + url +
                       "\" (use ws://host:port/ws or wss://host:port/ws)");
  ep.tls = sch == scheme::wss;
  auto slash = s.find('/');
  if (slash != std::string_view::npos) ep.target = std::string(s.substr(slash));
  std::tie(ep.host, ep.port) = parse_host_port(s.substr(0, slash), ep.port, url);
  return ep;
}

server_urls parse_server_url(const std::string& url) {
  std::string_view s(url);
  auto sch = take_scheme(s);
  if (!sch && has_scheme(s))
    throw client_error("unsupported URL \"" + url +
                       "\" (use ws[s]://host:port/ws or http[s]://host:port)");
  bool http = sch == scheme::http || sch == scheme::https;
  bool tls = sch == scheme::wss || sch == scheme::https;
  std::uint16_t default_port = sch == scheme::https ? 443 : sch == scheme::http ? 80 : 8080;
  auto slash = s.find_first_of("/?");
  auto [host, port] = parse_host_port(s.substr(0, slash), default_port, url);
  std::string authority = host + ":" + std::to_string(port);
  std::string path(slash == std::string_view::npos ? "" : s.substr(slash));
  std::string query;
  if (auto q = path.find('?'); q != std::string::npos) {
    query = path.substr(q);
    path.erase(q);
  }
  while (!path.empty() && path.back() == '/') path.pop_back();
  std::string prefix = path;  // the HTTP side's prefix
  if (!http) {
    if (path.empty()) path = "/ws";
    prefix = path.ends_with("/ws") ? path.substr(0, path.size() - 3) : "";
  } else {
    path += "/ws";
  }
  return {(tls ? "wss://" : "ws://") + authority + path + query,
          (tls ? "https://" : "http://") + authority + prefix};
}

http_url parse_http_url(const std::string& url) {
  std::string_view s(url);
  auto sch = take_scheme(s);
  if (sch != scheme::http && sch != scheme::https)
    throw client_error("unsupported URL \"" + url +
                       "\" (use http://host:port/path or https://host:port/path)");
  http_url out;
  out.tls = sch == scheme::https;
  out.port = out.tls ? 443 : 80;
  auto slash = s.find('/');
  if (slash != std::string_view::npos) out.target = std::string(s.substr(slash));
  std::tie(out.host, out.port) = parse_host_port(s.substr(0, slash), out.port, url);
  return out;
}

std::pair<std::string, std::uint16_t> parse_host_port(std::string_view hostport,
                                                      std::uint16_t default_port,
                                                      const std::string& url) {
  std::pair<std::string, std::uint16_t> out{std::string(hostport), default_port};
  auto colon = hostport.rfind(':');
  if (colon != std::string_view::npos) {
    out.first = std::string(hostport.substr(0, colon));
    auto p = hostport.substr(colon + 1);
    unsigned port = 0;
    auto r = std::from_chars(p.data(), p.data() + p.size(), port);
    if (r.ec != std::errc{} || r.ptr != p.data() + p.size() || port == 0 || port > 65535)
      throw client_error("bad port in URL \"" + url + "\"");
    out.second = static_cast<std::uint16_t>(port);
  }
  if (out.first.empty()) throw client_error("missing host in URL \"" + url + "\"");
  return out;
}

}  // namespace muster::client
