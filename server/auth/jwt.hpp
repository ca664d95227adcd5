#pragma once
// JSON Web Tokens: verification of HS256 (a shared secret, constant-time check) and of RS256 /
// ES256 (an identity provider's key set), iss/aud, exp/nbf with an injected clock, claim names
// as the provider spells them; HS256 minting. No I/O; thread-safe (no shared state).
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
  std::optional<std::int64_t> issued_at;   // "iat", seconds
  std::string token_id;                    // "jti" ("" when none): what a revocation names
  /// True when `channel` matches one of the patterns (or there are none).
  bool may_access(std::string_view channel) const;
};

enum class jwt_errc {
  /// Not three base64url parts, or a part is not the JSON it should be.
  malformed = 1,
  /// The header names an algorithm the server does not accept ("none" included).
  bad_algorithm,
  /// The signature does not match.
  bad_signature,
  /// "exp" is in the past.
  expired,
  /// "nbf" is in the future.
  not_yet_valid,
  /// A required claim ("sub", "role") is missing or has the wrong type or value.
  bad_claim,
  /// RS256/ES256 with a "kid" the key set does not hold (or no kid and several keys).
  unknown_key,
  /// "iss" is not the configured issuer.
  wrong_issuer,
  /// The token id or its user was revoked (checked by the authenticator).
  revoked,
  /// "aud" does not name the configured audience.
  wrong_audience,
};
const std::error_category& jwt_category() noexcept;
inline std::error_code make_error_code(jwt_errc e) noexcept {
  return {static_cast<int>(e), jwt_category()};
}

using clock_fn = std::chrono::system_clock::time_point (*)();

class key_set;

/// Where the claims are in the provider's tokens: a claim name, or a dotted path into nested
/// objects ("realm_access.roles"). A role claim may be a string or an array of strings (the
/// first Muster role name in it counts).
struct claim_names {
  std::string role = "role";
  std::string name = "name";
  std::string channels = "channels";
};

/// What a token is checked against.
struct verify_keys {
  std::string_view secret;             // HS256 key (empty: HS256 refused)
  const key_set* jwks = nullptr;       // RS256/ES256 keys (null: refused)
  std::string_view issuer;             // "iss" must equal it (empty: not checked)
  std::string_view audience;           // "aud" (string or array) must hold it (empty: not checked)
  const claim_names* names = nullptr;  // null: role, name, channels
};

/// Verifies `token` against `keys`; fills `out` or returns the reason it is refused.
std::error_code verify(std::string_view token, const verify_keys& keys, identity& out,
                       std::chrono::system_clock::time_point now, std::chrono::seconds leeway);

/// Verifies an HS256 `token` against `secret`, default claim names.
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
