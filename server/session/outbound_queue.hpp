#pragma once
// One connection's outgoing frames, without I/O: live events bounded in bytes, owed frames
// (replies, recovery replays, control frames: what the client asked for) counted apart, and the
// queue gathered into one write at a time. Every byte counted in is counted out from the same
// entry, so the counters cannot drift or wrap. A value owned by one session, used on its thread.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace muster::server::session {

class outbound_queue {
 public:
  /// A write stops growing here, so one batch cannot monopolise the loop.
  static constexpr std::size_t max_batch_bytes = 512 * 1024;
  static constexpr std::size_t max_batch_frames = 4096;

  explicit outbound_queue(std::size_t max_live_bytes) : max_live_(max_live_bytes) {}

  /// Queues a complete frame. False (and nothing queued) when a live frame would take the live
  /// bytes over the bound: the reader is too slow.
  bool push(std::shared_ptr<const std::string> frame, bool owed);
  /// The next write: a single frame as it is (shared with every other recipient, no copy), or
  /// several copied into one buffer. Only when !writing() and !empty(); valid until end_write().
  std::string_view begin_write();
  /// The write finished (or failed): its buffer is released.
  void end_write();
  /// Drops what is queued (not the write in progress).
  void clear();
  /// Gives memory back once idle.
  void shrink();

  bool empty() const { return frames_.empty(); }
  bool writing() const { return writing_; }
  std::size_t live_bytes() const { return live_bytes_; }
  std::size_t owed_bytes() const { return owed_bytes_; }
  std::size_t frames() const { return frames_.size(); }

 private:
  struct entry {
    std::shared_ptr<const std::string> frame;
    bool owed;
  };
  void count_out(const entry& e);
  std::size_t max_live_;
  std::vector<entry> frames_;
  std::size_t live_bytes_ = 0;
  std::size_t owed_bytes_ = 0;
  bool writing_ = false;
  std::shared_ptr<const std::string> single_;  // the write in progress, when one frame
  std::string batch_;                          // the write in progress, when several
};

}  // namespace muster::server::session
