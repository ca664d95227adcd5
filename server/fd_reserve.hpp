#pragma once
// Spare file descriptors held back so that at the process's open-file limit the server can
// still accept a connection to answer health checks and metrics (and refuse the rest with
// 503) instead of leaving every client in the backlog. Any thread may call it.
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace muster::server {

class fd_reserve : public std::enable_shared_from_this<fd_reserve> {
 public:
  /// Holds up to `count` spares (opened by top_up()).
  explicit fd_reserve(std::size_t count) : target_(count) {}
  ~fd_reserve();
  fd_reserve(const fd_reserve&) = delete;
  fd_reserve& operator=(const fd_reserve&) = delete;

  /// Opens spares until `count` are held (or the limit stops it); returns how many are held.
  std::size_t top_up();
  /// Gives one spare up for a connection; the slot reopens it when released. Null when none.
  std::shared_ptr<void> take();
  std::size_t held() const;

 private:
  const std::size_t target_;
  mutable std::mutex mutex_;
  std::vector<int> fds_;
};

}  // namespace muster::server
