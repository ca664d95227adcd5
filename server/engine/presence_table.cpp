#include "server/engine/presence_table.hpp"

namespace muster::server {

void presence_table::emit(bool join, std::string_view channel, const client_info& who) {
  if (!sink_) return;
  channel_event ev{0,
                   std::make_shared<const std::string>(protocol::encode_presence_event(
                       join, channel, who.client, who.name, who.user)),
                   true,
                   {}};
  sink_->on_event(channel, ev);
}

void presence_table::join(std::string_view channel, const client_info& who) {
  std::lock_guard lock(mutex_);
  auto it = channels_.find(channel);
  if (it == channels_.end())
    it = channels_.emplace(std::string(channel), decltype(it->second){}).first;
  it->second.insert_or_assign(who.client, who);
  emit(true, channel, who);
}

void presence_table::leave(std::string_view channel, const client_info& who) {
  std::lock_guard lock(mutex_);
  auto it = channels_.find(channel);
  if (it == channels_.end() || it->second.erase(who.client) == 0) return;
  if (it->second.empty()) channels_.erase(it);
  emit(false, channel, who);
}

std::vector<client_info> presence_table::list(std::string_view channel) const {
  std::lock_guard lock(mutex_);
  std::vector<client_info> out;
  auto it = channels_.find(channel);
  if (it != channels_.end())
    for (const auto& [client, who] : it->second) out.push_back(who);
  return out;
}

bool presence_table::empty(std::string_view channel) const {
  std::lock_guard lock(mutex_);
  return channels_.find(channel) == channels_.end();
}

}  // namespace muster::server
