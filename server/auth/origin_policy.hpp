#pragma once
// Which browser origins may open /ws and call /api (defence in depth against cross-site
// WebSocket hijacking). Pure and immutable after construction: any thread may call it.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace muster::server::auth {

/// An `Origin` value in canonical form (`scheme://host[:port]`, lower case, default port
/// dropped), or none when it is not an http(s) origin. "null" is not an origin.
std::optional<std::string> canonical_origin(std::string_view origin);

class origin_policy {
 public:
  /// `allowed`: canonical origins, or "*" for any. A request without `Origin` (not a browser)
  /// and one from the page's own host always pass.
  explicit origin_policy(std::vector<std::string> allowed = {});

  /// Why a request with this `Origin` header (empty: none) sent to `host` (its Host header)
  /// is refused, or none when it may go on.
  std::optional<std::string> refusal(std::string_view origin, std::string_view host) const;

 private:
  std::vector<std::string> allowed_;
  bool any_ = false;
};

}  // namespace muster::server::auth
