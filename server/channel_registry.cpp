#include "server/channel_registry.hpp"

#include <algorithm>

namespace muster::server {

bool channel_registry::add(std::string_view channel, subscriber* s) {
  auto it = channels_.find(channel);
  if (it == channels_.end()) it = channels_.emplace(std::string(channel), std::vector<subscriber*>{}).first;
  it->second.push_back(s);
  return it->second.size() == 1;
}

bool channel_registry::remove(std::string_view channel, subscriber* s) {
  auto it = channels_.find(channel);
  if (it == channels_.end()) return false;
  auto& v = it->second;
  auto pos = std::find(v.begin(), v.end(), s);
  if (pos == v.end()) return false;
  *pos = v.back();  // order among subscribers does not matter; order of events does
  v.pop_back();
  if (!v.empty()) return false;
  channels_.erase(it);
  return true;
}

std::size_t channel_registry::deliver(std::string_view channel, const channel_event& ev) {
  auto it = channels_.find(channel);
  if (it == channels_.end()) return 0;
  std::size_t n = 0;
  for (subscriber* s : it->second) {
    if (ev.presence && !s->wants_presence(channel)) continue;
    s->on_event(channel, ev);
    ++n;
  }
  return n;
}

std::size_t channel_registry::subscribers(std::string_view channel) const {
  auto it = channels_.find(channel);
  return it == channels_.end() ? 0 : it->second.size();
}

}  // namespace muster::server
