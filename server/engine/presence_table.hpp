#pragma once
// Who is connected to which channel on this node, for the engines that keep presence in
// process (memory, embedded): join/leave events go to the sink, outside the stream.
// Thread-safe (one mutex; the sink is called under it, so joins and leaves stay in order).
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "server/engine/engine.hpp"

namespace muster::server {

class presence_table {
 public:
  void set_sink(engine_sink* sink) { sink_ = sink; }
  void join(std::string_view channel, const client_info& who);
  void leave(std::string_view channel, const client_info& who);
  /// Sorted by client id.
  std::vector<client_info> list(std::string_view channel) const;
  bool empty(std::string_view channel) const;

 private:
  void emit(bool join, std::string_view channel, const client_info& who);
  mutable std::mutex mutex_;
  engine_sink* sink_ = nullptr;
  std::map<std::string, std::map<std::string, client_info>, std::less<>> channels_;
};

}  // namespace muster::server
