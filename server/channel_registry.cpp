#include "server/channel_registry.hpp"

#include <algorithm>

namespace muster::server {

bool channel_registry::add(std::string_view channel, subscriber* s, bool presence) {
  auto it = channels_.find(channel);
  if (it == channels_.end()) it = channels_.emplace(std::string(channel), entry{}).first;
  it->second.all.push_back(s);
  if (presence) it->second.presence.push_back(s);
  return it->second.all.size() == 1;
}

namespace {
bool erase_one(std::vector<subscriber*>& v, subscriber* s) {
  auto pos = std::find(v.begin(), v.end(), s);
  if (pos == v.end()) return false;
  *pos = v.back();  // order among subscribers does not matter; order of events does
  v.pop_back();
  return true;
}
}  // namespace

bool channel_registry::remove(std::string_view channel, subscriber* s, bool presence) {
  auto it = channels_.find(channel);
  if (it == channels_.end()) return false;
  if (!erase_one(it->second.all, s)) return false;
  // A resubscription may be registered before the old one is removed: only the matching kind.
  if (presence) erase_one(it->second.presence, s);
  if (!it->second.all.empty()) return false;
  channels_.erase(it);
  return true;
}

std::size_t channel_registry::deliver(std::string_view channel, const channel_event& ev) {
  auto it = channels_.find(channel);
  if (it == channels_.end()) return 0;
  const auto& targets = ev.presence ? it->second.presence : it->second.all;
  for (subscriber* s : targets) s->on_event(channel, ev);
  return targets.size();
}

std::size_t channel_registry::subscribers(std::string_view channel) const {
  auto it = channels_.find(channel);
  return it == channels_.end() ? 0 : it->second.all.size();
}

}  // namespace muster::server
