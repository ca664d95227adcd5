#pragma once
// The deny-list of revoked tokens (by token id, `jti`) and users (every token of a `sub`
// issued before the revocation), as this node knows it from the engine. Any thread may call it.
#include <cstdint>
#include <map>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "server/auth/jwt.hpp"

namespace muster::server::auth {

class revocation_list {
 public:
  /// Applies one stored revocation, `{"kind":"jti"|"user","id":...,"at":<seconds>,...}`;
  /// false when it is not one.
  bool apply(std::string_view record_json);
  void revoke_token(std::string jti);
  /// Every token of `user` issued before `at` (seconds; a token without `iat` too).
  void revoke_user(std::string user, std::int64_t at);
  bool revoked(const identity& who) const;
  std::size_t size() const;

 private:
  mutable std::shared_mutex mutex_;
  std::set<std::string, std::less<>> tokens_;
  std::map<std::string, std::int64_t, std::less<>> users_;
};

}  // namespace muster::server::auth
