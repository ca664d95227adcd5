#pragma once
// The public keys of an identity provider, from a JSON Web Key Set (RFC 7517): RSA keys for
// RS256 and P-256 keys for ES256, each verified against a JWS signature. Immutable after
// parse(); any thread may verify.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace muster::server::auth {

class key_set {
 public:
  /// The keys of a JWKS document, or why it cannot be used. Keys of other types, or marked
  /// for encryption ("use":"enc"), are skipped; a set left with no key is an error.
  static std::variant<key_set, std::string> parse(std::string_view jwks_json);

  /// Whether `signature` (raw JWS bytes) signs `signing_input` under `alg` with the key named
  /// `kid` (empty: the only key of that algorithm). nullopt: no such key (unknown kid).
  std::optional<bool> verify(std::string_view alg, std::string_view kid,
                             std::string_view signing_input, std::string_view signature) const;
  std::size_t size() const { return keys_.size(); }

 private:
  struct key {
    std::string kid;
    std::string alg;             // RS256 or ES256
    std::shared_ptr<void> pkey;  // EVP_PKEY
  };
  std::vector<key> keys_;
};

}  // namespace muster::server::auth
