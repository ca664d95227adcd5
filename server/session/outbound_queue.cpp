#include "server/session/outbound_queue.hpp"

namespace muster::server::session {

bool outbound_queue::push(std::shared_ptr<const std::string> frame, bool owed) {
  auto size = frame->size();
  if (!owed && live_bytes_ + size > max_live_) return false;
  (owed ? owed_bytes_ : live_bytes_) += size;
  frames_.push_back({std::move(frame), owed});
  return true;
}

void outbound_queue::count_out(const entry& e) {
  (e.owed ? owed_bytes_ : live_bytes_) -= e.frame->size();
}

std::string_view outbound_queue::begin_write() {
  writing_ = true;
  std::size_t take = 0, bytes = 0;
  while (take < frames_.size() && take < max_batch_frames &&
         (take == 0 || bytes + frames_[take].frame->size() <= max_batch_bytes))
    bytes += frames_[take++].frame->size();
  std::string_view out;
  if (take == 1) {
    single_ = frames_.front().frame;
    out = *single_;
  } else {
    // Many small frames: one contiguous copy is cheaper than as many iovecs in the kernel.
    batch_.clear();
    batch_.reserve(bytes);
    for (std::size_t i = 0; i < take; ++i) batch_ += *frames_[i].frame;
    out = batch_;
  }
  for (std::size_t i = 0; i < take; ++i) count_out(frames_[i]);
  frames_.erase(frames_.begin(), frames_.begin() + static_cast<std::ptrdiff_t>(take));
  return out;
}

void outbound_queue::end_write() {
  writing_ = false;
  single_.reset();
}

void outbound_queue::clear() {
  for (const auto& e : frames_) count_out(e);
  frames_.clear();
}

void outbound_queue::shrink() {
  if (writing_) return;
  if (batch_.capacity() > 0) std::string().swap(batch_);
  if (frames_.empty() && frames_.capacity() > 8) decltype(frames_)().swap(frames_);
}

}  // namespace muster::server::session
