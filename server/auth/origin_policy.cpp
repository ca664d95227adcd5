#include "server/auth/origin_policy.hpp"

#include <algorithm>
#include <cctype>

namespace muster::server::auth {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
         c == '[' || c == ']' || c == ':';
}

// `authority` without the scheme's default port (":80" for http, ":443" for https).
std::string without_default_port(std::string authority, std::string_view scheme) {
  std::string_view port = scheme == "https" ? ":443" : ":80";
  if (authority.size() > port.size() && authority.ends_with(port))
    authority.resize(authority.size() - port.size());
  return authority;
}

}  // namespace

std::optional<std::string> canonical_origin(std::string_view origin) {
  auto o = lower(origin);
  std::string_view scheme = o.starts_with("https://")  ? "https"
                            : o.starts_with("http://") ? "http"
                                                       : "";
  if (scheme.empty()) return std::nullopt;
  auto authority = o.substr(scheme.size() + 3);
  if (authority.empty() || !std::all_of(authority.begin(), authority.end(), host_char) ||
      authority.front() == ':' || authority.back() == ':')
    return std::nullopt;
  return std::string(scheme) + "://" + without_default_port(authority, scheme);
}

origin_policy::origin_policy(std::vector<std::string> allowed) : allowed_(std::move(allowed)) {
  any_ = std::find(allowed_.begin(), allowed_.end(), "*") != allowed_.end();
}

std::optional<std::string> origin_policy::refusal(std::string_view origin,
                                                  std::string_view host) const {
  if (origin.empty() || any_) return std::nullopt;
  auto canon = canonical_origin(origin);
  if (!canon) return "origin " + std::string(origin) + " is not an http(s) origin";
  // Same origin: the page was served by this host (directly or through a proxy that keeps Host).
  auto scheme = canon->substr(0, canon->find(':'));
  auto authority = std::string_view(*canon).substr(scheme.size() + 3);
  if (!host.empty() && without_default_port(lower(host), scheme) == authority) return std::nullopt;
  if (std::find(allowed_.begin(), allowed_.end(), *canon) != allowed_.end()) return std::nullopt;
  return "origin " + *canon + " is not allowed (server.allowed_origins)";
}

}  // namespace muster::server::auth
