#pragma once
// The one authentication step: a token (from `?token=`, `connect` or `Authorization: Bearer`)
// becomes an identity or a refusal, counted; with authentication disabled everyone is an admin.
// Immutable after construction; thread-safe.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "server/auth/jwks.hpp"
#include "server/auth/jwt.hpp"
#include "server/auth/revocations.hpp"

namespace muster::server {
class metrics;
}

namespace muster::server::auth {

class authenticator {
 public:
  struct options {
    bool enabled = true;
    std::string secret;  // HS256 key ("": HS256 refused)
    std::chrono::seconds leeway{30};
    std::shared_ptr<const key_set> jwks;  // RS256/ES256 keys (null: refused)
    std::string issuer, audience;         // "": not checked
    claim_names names;
  };
  authenticator(options opts, metrics& m)
      : opts_(std::move(opts)), metrics_(m), jwks_(opts_.jwks) {}

  /// A new key set from the identity provider (a reload); any thread.
  void replace_keys(std::shared_ptr<const key_set> keys) { jwks_.store(std::move(keys)); }
  /// Called (on the verifying thread) when a token names a key id the set lacks: the provider
  /// may have rotated its keys. Set once, before any verification.
  void on_unknown_key(std::function<void()> hook) { unknown_key_hook_ = std::move(hook); }

  /// The deny-list every verification consults (the node keeps it up to date).
  revocation_list& revocations() const { return revocations_; }
  /// True when `who` was revoked since its token was verified.
  bool revoked(const identity& who) const { return opts_.enabled && revocations_.revoked(who); }

  bool enabled() const { return opts_.enabled; }
  std::chrono::seconds leeway() const { return opts_.leeway; }
  /// Verifies `token` (empty: none given); a refusal is counted in muster_auth_failures_total.
  std::error_code verify(std::string_view token, identity& out) const;
  /// Who someone is with authentication disabled: an admin named `name`.
  static identity anonymous_admin(std::string name);
  /// True once `who`'s token is past its expiry (and the leeway).
  bool expired(const identity& who,
               std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const;

 private:
  options opts_;
  metrics& metrics_;
  mutable revocation_list revocations_;
  std::atomic<std::shared_ptr<const key_set>> jwks_;
  std::function<void()> unknown_key_hook_;
};

}  // namespace muster::server::auth
