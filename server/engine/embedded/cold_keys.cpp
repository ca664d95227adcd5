#include "server/engine/embedded/cold_keys.hpp"

#include <functional>

namespace muster::server::embedded {

std::uint64_t cold_keys::hash(std::string_view key) {
  return std::hash<std::string_view>{}(key);
}

std::string_view cold_keys::kind(std::string_view key) {
  auto colon = key.find(':');
  return colon == std::string_view::npos ? key : key.substr(0, colon + 1);
}

void cold_keys::add(std::string_view key) {
  if (!hashes_.insert(hash(key)).second) ++shared_[hash(key)];
  auto k = kind(key);
  if (auto it = kinds_.find(k); it != kinds_.end())
    ++it->second;
  else
    kinds_.emplace(std::string(k), 1);
  ++size_;
}

void cold_keys::remove(std::string_view key) {
  auto h = hash(key);
  if (!hashes_.contains(h)) return;
  if (auto s = shared_.find(h); s != shared_.end()) {
    if (--s->second == 0) shared_.erase(s);
  } else {
    hashes_.erase(h);
  }
  if (auto it = kinds_.find(kind(key)); it != kinds_.end() && --it->second == 0) kinds_.erase(it);
  --size_;
}

bool cold_keys::may_hold(std::string_view key) const {
  return hashes_.contains(hash(key));
}

bool cold_keys::may_hold_prefix(std::string_view prefix) const {
  // A kind is a key's text up to its first ':', so a matching key's kind and the prefix agree
  // on their common length: one starts with the other.
  for (const auto& [k, n] : kinds_)
    if (k.starts_with(prefix) || prefix.starts_with(k)) return true;
  return false;
}

}  // namespace muster::server::embedded
