#include "server/auth/jwt.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <simdjson.h>

#include <algorithm>

#include "protocol/codec.hpp"
#include "server/auth/jwks.hpp"

namespace muster::server::auth {

std::string_view role_name(role r) noexcept {
  switch (r) {
    case role::ambassador:
      return "ambassador";
    case role::lead:
      return "lead";
    case role::bot:
      return "bot";
    case role::admin:
      return "admin";
  }
  return "ambassador";
}

std::optional<role> parse_role(std::string_view s) noexcept {
  for (role r : {role::ambassador, role::lead, role::bot, role::admin})
    if (role_name(r) == s) return r;
  return std::nullopt;
}

namespace {
class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "muster.jwt"; }
  std::string message(int ev) const override {
    switch (static_cast<jwt_errc>(ev)) {
      case jwt_errc::malformed:
        return "token is malformed";
      case jwt_errc::bad_algorithm:
        return "token algorithm is not accepted";
      case jwt_errc::bad_signature:
        return "token signature is invalid";
      case jwt_errc::expired:
        return "token has expired";
      case jwt_errc::not_yet_valid:
        return "token is not valid yet";
      case jwt_errc::bad_claim:
        return "token claims are missing or invalid";
      case jwt_errc::unknown_key:
        return "token key id is unknown";
      case jwt_errc::wrong_issuer:
        return "token issuer is not accepted";
      case jwt_errc::revoked:
        return "token has been revoked";
      case jwt_errc::wrong_audience:
        return "token audience is not accepted";
    }
    return "token error";
  }
};

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}
}  // namespace

const std::error_category& jwt_category() noexcept {
  static const category c;
  return c;
}

std::string base64url_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    auto v = (std::uint32_t(std::uint8_t(in[i])) << 16) |
             (std::uint32_t(std::uint8_t(in[i + 1])) << 8) | std::uint8_t(in[i + 2]);
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    auto v = std::uint32_t(std::uint8_t(in[i])) << 16;
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
  } else if (i + 2 == in.size()) {
    auto v =
        (std::uint32_t(std::uint8_t(in[i])) << 16) | (std::uint32_t(std::uint8_t(in[i + 1])) << 8);
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Leftover bits must be zero (canonical encoding).
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

bool glob_match(std::string_view p, std::string_view t) noexcept {
  std::size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    // A '*' in the pattern is always the wildcard, even where the text has a '*' too.
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (pi < p.size() && (p[pi] == '?' || p[pi] == t[ti])) {
      ++pi;
      ++ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

bool identity::may_access(std::string_view channel) const {
  if (channels.empty()) return true;
  for (const auto& pattern : channels)
    if (glob_match(pattern, channel)) return true;
  return false;
}

namespace {

// A claim by its name (Auth0's "https://muster.example.org/role" included), or else by a
// dotted path into nested objects ("realm_access.roles"); an error when absent.
simdjson::simdjson_result<simdjson::dom::element> claim(simdjson::dom::element c,
                                                        const std::string& path) {
  auto direct = c[path];
  if (!direct.error() || path.find('.') == std::string::npos) return direct;
  std::string pointer;
  for (std::size_t start = 0;;) {
    auto dot = path.find('.', start);
    pointer += '/';
    for (char ch : path.substr(start, dot - start))
      pointer += ch == '~' ? std::string("~0") : ch == '/' ? std::string("~1") : std::string(1, ch);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return c.at_pointer(pointer);
}

// The role: a role name, or the most privileged role name in an array of strings (admin, lead,
// ambassador, bot), whatever the order the provider lists them in.
std::optional<role> role_of(simdjson::simdjson_result<simdjson::dom::element> v) {
  std::string_view sv;
  if (!v.get(sv)) return parse_role(sv);
  simdjson::dom::array a;
  if (v.get(a)) return std::nullopt;
  std::optional<role> best;
  auto rank = [](role r) {
    return r == role::admin ? 3 : r == role::lead ? 2 : r == role::ambassador ? 1 : 0;
  };
  for (auto el : a)
    if (!el.get(sv))
      if (auto r = parse_role(sv); r && (!best || rank(*r) > rank(*best))) best = r;
  return best;
}

std::error_code check_signature(std::string_view alg, std::string_view kid,
                                std::string_view signing_input, const std::string& signature,
                                const verify_keys& keys) {
  if (alg == "HS256") {
    // Only with the shared secret: a provider's public key is never an HMAC key.
    if (keys.secret.empty()) return jwt_errc::bad_algorithm;
    auto expected = hmac_sha256(keys.secret, signing_input);
    if (signature.size() != expected.size() ||
        CRYPTO_memcmp(signature.data(), expected.data(), expected.size()) != 0)
      return jwt_errc::bad_signature;
    return {};
  }
  if (alg != "RS256" && alg != "ES256" && alg != "EdDSA")
    return jwt_errc::bad_algorithm;  // "none" too
  if (!keys.jwks) return jwt_errc::bad_algorithm;
  auto ok = keys.jwks->verify(alg, kid, signing_input, signature);
  if (!ok) return jwt_errc::unknown_key;
  return *ok ? std::error_code{} : make_error_code(jwt_errc::bad_signature);
}

std::error_code check_issuer_audience(simdjson::dom::element c, const verify_keys& keys) {
  std::string_view sv;
  if (!keys.issuer.empty() && (c["iss"].get(sv) || sv != keys.issuer))
    return jwt_errc::wrong_issuer;
  if (keys.audience.empty()) return {};
  auto aud = c["aud"];
  if (!aud.get(sv)) return sv == keys.audience ? std::error_code{} : jwt_errc::wrong_audience;
  simdjson::dom::array list;
  if (!aud.get(list))
    for (auto el : list)
      if (!el.get(sv) && sv == keys.audience) return {};
  return jwt_errc::wrong_audience;
}

}  // namespace

std::error_code verify(std::string_view token, std::string_view secret, identity& out,
                       std::chrono::system_clock::time_point now, std::chrono::seconds leeway) {
  verify_keys keys;
  keys.secret = secret;
  return verify(token, keys, out, now, leeway);
}

std::error_code verify(std::string_view token, const verify_keys& keys, identity& out,
                       std::chrono::system_clock::time_point now, std::chrono::seconds leeway) {
  static const claim_names default_names;
  const auto& names = keys.names ? *keys.names : default_names;
  auto d1 = token.find('.');
  auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d1 == std::string_view::npos || d2 == std::string_view::npos ||
      token.find('.', d2 + 1) != std::string_view::npos)
    return jwt_errc::malformed;
  auto header = base64url_decode(token.substr(0, d1));
  auto payload = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
  auto signature = base64url_decode(token.substr(d2 + 1));
  if (!header || !payload || !signature) return jwt_errc::malformed;

  simdjson::dom::parser parser;
  simdjson::dom::element h;
  if (parser.parse(*header).get(h) || !h.is_object()) return jwt_errc::malformed;
  std::string_view alg, kid;
  // The algorithm decides the key: HS256 only the secret, RS256/ES256 only the key set.
  if (h["alg"].get(alg)) return jwt_errc::bad_algorithm;
  if (auto k = h["kid"]; !k.error() && k.get(kid)) return jwt_errc::malformed;
  std::string alg_copy(alg), kid_copy(kid);  // the next parse reuses the parser's buffers
  if (auto ec = check_signature(alg_copy, kid_copy, token.substr(0, d2), *signature, keys))
    return ec;

  simdjson::dom::element c;
  if (parser.parse(*payload).get(c) || !c.is_object()) return jwt_errc::malformed;
  // iss/aud pin the identity provider's tokens; HS256 ones are minted by us without them.
  if (alg_copy != "HS256")
    if (auto ec = check_issuer_audience(c, keys)) return ec;
  identity id;
  std::string_view sv;
  if (c["sub"].get(sv) || sv.empty()) return jwt_errc::bad_claim;
  id.subject.assign(sv);
  if (!claim(c, names.name).get(sv))
    id.name.assign(sv);
  else
    id.name = id.subject;
  auto r = role_of(claim(c, names.role));
  if (!r) return jwt_errc::bad_claim;
  id.role = *r;
  simdjson::dom::array chans;
  auto chans_field = claim(c, names.channels);
  if (!chans_field.error()) {
    if (chans_field.get(chans)) return jwt_errc::bad_claim;
    for (auto el : chans) {
      std::string_view p;
      if (el.get(p)) return jwt_errc::bad_claim;
      id.channels.emplace_back(p);
    }
  }
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  // A NumericDate (RFC 7519 2) may be any JSON number: clamped to +-max_numeric_date so that
  // neither the cast nor adding the leeway can overflow (the clamped dates lie 300,000 years off).
  constexpr std::int64_t max_numeric_date = 10'000'000'000'000;
  auto number = [&](const char* k) -> std::optional<std::optional<std::int64_t>> {
    auto f = c[k];
    if (f.error()) return std::optional<std::int64_t>{};
    std::int64_t i;
    double d;
    if (!f.get(i))
      return std::optional<std::int64_t>{std::clamp(i, -max_numeric_date, max_numeric_date)};
    if (!f.get(d)) {
      auto limit = static_cast<double>(max_numeric_date);
      return std::optional<std::int64_t>{static_cast<std::int64_t>(std::clamp(d, -limit, limit))};
    }
    return std::nullopt;  // present but not a number (a uint64 beyond int64 reads as a double)
  };
  auto exp = number("exp"), nbf = number("nbf"), iat = number("iat");
  if (!exp || !nbf || !iat) return jwt_errc::bad_claim;
  if (auto j = c["jti"]; !j.error()) {
    if (j.get(sv)) return jwt_errc::bad_claim;
    id.token_id.assign(sv);
  }
  id.issued_at = *iat;
  if (*exp && **exp + leeway.count() <= seconds) return jwt_errc::expired;
  if (*nbf && **nbf - leeway.count() > seconds) return jwt_errc::not_yet_valid;
  id.expires_at = *exp;
  out = std::move(id);
  return {};
}

std::string mint(const identity& who, std::string_view secret, std::chrono::seconds ttl,
                 std::chrono::system_clock::time_point now) {
  auto iat = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  std::string payload = "{\"sub\":";
  protocol::append_json_string(payload, who.subject);
  payload += ",\"name\":";
  protocol::append_json_string(payload, who.name.empty() ? who.subject : who.name);
  payload += ",\"role\":";
  protocol::append_json_string(payload, role_name(who.role));
  if (!who.channels.empty()) {
    payload += ",\"channels\":[";
    for (std::size_t i = 0; i < who.channels.size(); ++i) {
      if (i) payload += ',';
      protocol::append_json_string(payload, who.channels[i]);
    }
    payload += ']';
  }
  payload +=
      ",\"iat\":" + std::to_string(iat) + ",\"exp\":" + std::to_string(iat + ttl.count()) + "}";
  return sign_hs256(payload, secret);
}

std::string sign_hs256(std::string_view payload_json, std::string_view secret) {
  std::string signing =
      base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url_encode(payload_json);
  return signing + "." + base64url_encode(hmac_sha256(secret, signing));
}

}  // namespace muster::server::auth
