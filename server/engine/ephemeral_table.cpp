#include "server/engine/ephemeral_table.hpp"

#include <memory>

namespace muster::server {

std::int64_t ephemeral_table::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_().time_since_epoch()).count();
}

void ephemeral_table::set(std::string_view channel, std::string key, std::string value,
                          std::chrono::milliseconds ttl, std::string event) {
  std::lock_guard lock(mutex_);
  auto it = channels_.find(channel);
  if (value.empty()) {
    if (it != channels_.end()) {
      it->second.erase(key);
      if (it->second.empty()) channels_.erase(it);
    }
  } else {
    if (it == channels_.end()) it = channels_.emplace(std::string(channel), entries{}).first;
    it->second.insert_or_assign(std::move(key), entry{std::move(value), now_ms() + ttl.count()});
  }
  if (!sink_) return;
  channel_event ev{0, std::make_shared<const std::string>(std::move(event)), false, {}};
  sink_->on_event(channel, ev);
}

std::vector<std::pair<std::string, std::string>> ephemeral_table::list(std::string_view channel,
                                                                       std::string_view prefix) {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, std::string>> out;
  auto it = channels_.find(channel);
  if (it == channels_.end()) return out;
  auto now = now_ms();
  auto& e = it->second;
  for (auto at = e.lower_bound(prefix); at != e.end() && at->first.starts_with(prefix);) {
    if (at->second.expires_ms <= now) {
      at = e.erase(at);
      continue;
    }
    out.emplace_back(at->first, at->second.value);
    ++at;
  }
  if (e.empty()) channels_.erase(it);
  return out;
}

void ephemeral_table::sweep() {
  std::lock_guard lock(mutex_);
  auto now = now_ms();
  for (auto it = channels_.begin(); it != channels_.end();) {
    std::erase_if(it->second, [now](const auto& kv) { return kv.second.expires_ms <= now; });
    it = it->second.empty() ? channels_.erase(it) : std::next(it);
  }
}

std::size_t ephemeral_table::size() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (auto& [channel, e] : channels_) n += e.size();
  return n;
}

}  // namespace muster::server
