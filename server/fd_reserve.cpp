#include "server/fd_reserve.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace muster::server {

fd_reserve::~fd_reserve() {
  for (int fd : fds_) ::close(fd);
}

std::size_t fd_reserve::top_up() {
  std::lock_guard lock(mutex_);
  while (fds_.size() < target_) {
    int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) break;
    fds_.push_back(fd);
  }
  return fds_.size();
}

std::shared_ptr<void> fd_reserve::take() {
  {
    std::lock_guard lock(mutex_);
    if (fds_.empty()) return nullptr;
    ::close(fds_.back());
    fds_.pop_back();
  }
  auto self = shared_from_this();
  return std::shared_ptr<void>(self.get(), [self](void*) { self->top_up(); });
}

std::size_t fd_reserve::held() const {
  std::lock_guard lock(mutex_);
  return fds_.size();
}

}  // namespace muster::server
