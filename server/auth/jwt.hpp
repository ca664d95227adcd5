#pragma once
// JSON Web Tokens signed with HS256: verification (algorithm pinned, constant-time signature
// check, exp/nbf with an injected clock) and minting. No I/O; thread-safe (no shared state).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace muster::server::auth {

enum class role { ambassador, lead, bot, admin };
std::string_view role_name(role r) noexcept;
std::optional<role> parse_role(std::string_view s) noexcept;

/// What a verified token says about its holder.
struct identity {
  std::string subject;                     // "sub"
  std::string name;                        // "name", or the subject
  auth::role role = role::ambassador;      // "role"
  std::vector<std::string> channels;       // "channels": glob patterns; empty = no restriction
  std::optional<std::int64_t> expires_at;  // "exp", seconds since the Unix epoch
  /// True when `channel` matches one of the patterns (or there are none).
  bool may_access(std::string_view channel) const;
};

enum class jwt_errc {
  /// Not three base64url parts, or a part is not the JSON it should be.
  malformed = 1,
  /// The header names an algorithm other than HS256 ("none" included).
  bad_algorithm,
  /// The signature does not match.
  bad_signature,
  /// "exp" is in the past.
  expired,
  /// "nbf" is in the future.
  not_yet_valid,
  /// A required claim ("sub", "role") is missing or has the wrong type or value.
  bad_claim,
};
const std::error_category& jwt_category() noexcept;
inline std::error_code make_error_code(jwt_errc e) noexcept {
  return {static_cast<int>(e), jwt_category()};
}

using clock_fn = std::chrono::system_clock::time_point (*)();

/// Verifies `token` against `secret`; fills `out` or returns the reason it is refused.
std::error_code verify(std::string_view token, std::string_view secret, identity& out,
                       std::chrono::system_clock::time_point now = std::chrono::system_clock::now(),
                       std::chrono::seconds leeway = std::chrono::seconds(30));

/// Mints an HS256 token for `who` valid for `ttl` from `now`.
std::string mint(const identity& who, std::string_view secret, std::chrono::seconds ttl,
                 std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

/// An HS256 token for an arbitrary claims object (JSON text).
std::string sign_hs256(std::string_view payload_json, std::string_view secret);

/// Glob match with `*` (any run) and `?` (one character).
bool glob_match(std::string_view pattern, std::string_view text) noexcept;

std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace muster::server::auth

template <>
struct std::is_error_code_enum<muster::server::auth::jwt_errc> : std::true_type {};
