#pragma once
// The permission matrix (role × operation) of PROTOCOL.md "Roles and permissions", as code.
// Pure functions; thread-safe.
#include <string_view>

#include "server/auth/jwt.hpp"

namespace muster::server::auth {

/// True when `r` may run the command or endpoint `op` at all ("publish", "alert.claim",
/// "http.alerts", "http.timeline", "http.stats", ...). Unknown operations are refused.
bool allowed(role r, std::string_view op) noexcept;

/// Leads and admins may act on alerts claimed by others (release, respond, resolve) and
/// assign them.
inline bool acts_for_others(role r) noexcept {
  return r == role::lead || r == role::admin;
}

}  // namespace muster::server::auth
