#include "server/auth/authenticator.hpp"

#include "server/metrics.hpp"

namespace muster::server::auth {

std::error_code authenticator::verify(std::string_view token, identity& out) const {
  auto jwks = jwks_.load();  // held while verifying: a reload may swap it meanwhile
  verify_keys keys{opts_.secret, jwks.get(), opts_.issuer, opts_.audience, &opts_.names};
  auto ec = token.empty()
                ? make_error_code(jwt_errc::malformed)
                : auth::verify(token, keys, out, std::chrono::system_clock::now(), opts_.leeway);
  if (!ec && revocations_.revoked(out)) ec = jwt_errc::revoked;
  if (ec == jwt_errc::unknown_key && unknown_key_hook_) unknown_key_hook_();
  if (ec) metrics_.add(counter::auth_failures);
  return ec;
}

identity authenticator::anonymous_admin(std::string name) {
  identity id;
  id.subject = name;
  id.name = std::move(name);
  id.role = role::admin;
  return id;
}

bool authenticator::expired(const identity& who, std::chrono::system_clock::time_point now) const {
  if (!opts_.enabled || !who.expires_at) return false;
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  return secs > *who.expires_at + opts_.leeway.count();
}

}  // namespace muster::server::auth
