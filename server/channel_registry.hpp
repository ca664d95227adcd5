#pragma once
// Per-I/O-thread table of which local subscribers listen on which channel. No I/O, no locks:
// only the owning thread may call it.
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/engine/engine.hpp"
#include "server/engine/memory_engine.hpp"

namespace muster::server {

/// Something that receives channel events on the registry's thread (a WebSocket session).
class subscriber {
 public:
  virtual ~subscriber() = default;
  /// Must not add or remove subscriptions synchronously (the registry is iterating).
  virtual void on_event(std::string_view channel, const channel_event& ev) = 0;
};

class channel_registry {
 public:
  /// Returns true when `s` is the channel's first subscriber in this registry. `presence`:
  /// `s` also gets join/leave events.
  bool add(std::string_view channel, subscriber* s, bool presence = false);
  /// Removes one registration of `s` (made with the same `presence`); returns true when it was
  /// the channel's last subscriber in this registry.
  bool remove(std::string_view channel, subscriber* s, bool presence = false);
  /// Hands `ev` to every subscriber of `channel`; returns how many received it.
  std::size_t deliver(std::string_view channel, const channel_event& ev);
  std::size_t subscribers(std::string_view channel) const;
  std::size_t channels() const { return channels_.size(); }

 private:
  struct entry {
    std::vector<subscriber*> all;
    std::vector<subscriber*> presence;  // kept apart so a join storm costs nothing to others
  };
  std::unordered_map<std::string, entry, string_hash, std::equal_to<>> channels_;
};

}  // namespace muster::server
