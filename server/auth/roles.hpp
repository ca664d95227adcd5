#pragma once
// Sets of roles, as the command table states who may run each command. Constants; thread-safe.
#include <initializer_list>

#include "server/auth/jwt.hpp"

namespace muster::server::auth {

class role_set {
 public:
  constexpr role_set() = default;
  constexpr role_set(std::initializer_list<role> roles) {
    for (auto r : roles) bits_ |= bit(r);
  }
  constexpr bool has(role r) const { return (bits_ & bit(r)) != 0; }
  constexpr role_set operator|(role_set o) const { return role_set(bits_ | o.bits_); }

 private:
  constexpr explicit role_set(unsigned bits) : bits_(bits) {}
  // A value outside the enum (corrupted) maps onto no bit at all.
  static constexpr unsigned bit(role r) {
    auto v = static_cast<unsigned>(r);
    return v <= static_cast<unsigned>(role::admin) ? 1u << v : 0u;
  }
  unsigned bits_ = 0;
};

inline constexpr role_set everyone{role::ambassador, role::lead, role::bot, role::admin};
/// People talk and work alerts (bots do not).
inline constexpr role_set people{role::ambassador, role::lead, role::admin};
/// Leads and admins run the crisis.
inline constexpr role_set leads{role::lead, role::admin};
/// Operators only.
inline constexpr role_set admins{role::admin};
/// Who may push alerts.
inline constexpr role_set pushers{role::lead, role::bot, role::admin};

/// Leads and admins may act on alerts claimed by others (release, respond, resolve) and
/// assign them.
inline bool acts_for_others(role r) noexcept {
  return r == role::lead || r == role::admin;
}

}  // namespace muster::server::auth
