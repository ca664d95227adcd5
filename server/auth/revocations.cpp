#include "server/auth/revocations.hpp"

#include <simdjson.h>

#include <algorithm>
#include <mutex>

namespace muster::server::auth {

bool revocation_list::apply(std::string_view record_json) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  std::string_view kind, id;
  std::int64_t at = 0;
  if (parser.parse(record_json.data(), record_json.size()).get(e) || e["kind"].get(kind) ||
      e["id"].get(id) || id.empty())
    return false;
  if (kind == "jti") {
    revoke_token(std::string(id));
    return true;
  }
  if (kind == "user" && !e["at"].get(at)) {
    revoke_user(std::string(id), at);
    return true;
  }
  return false;
}

void revocation_list::revoke_token(std::string jti) {
  std::unique_lock lock(mutex_);
  tokens_.insert(std::move(jti));
}

void revocation_list::revoke_user(std::string user, std::int64_t at) {
  std::unique_lock lock(mutex_);
  auto& before = users_[std::move(user)];
  before = std::max(before, at);
}

bool revocation_list::revoked(const identity& who) const {
  std::shared_lock lock(mutex_);
  if (!who.token_id.empty() && tokens_.count(who.token_id)) return true;
  auto it = users_.find(who.subject);
  return it != users_.end() && (!who.issued_at || *who.issued_at <= it->second);
}

std::size_t revocation_list::size() const {
  std::shared_lock lock(mutex_);
  return tokens_.size() + users_.size();
}

}  // namespace muster::server::auth
