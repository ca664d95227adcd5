#pragma once
// Builds post-crisis reports off the I/O threads: one worker thread owns the builders; the
// channel's timeline is read from the engine page by page and each page is handed to the
// worker, so neither a long timeline nor its rendering holds up an I/O thread, and memory stays
// one page plus the report's own figures. At most `max_running` reports are built at once.
// build() is callable from any thread; `done` runs on the worker thread.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "server/crisis/context.hpp"
#include "server/crisis/report.hpp"

namespace muster::server::crisis {

class report_worker {
 public:
  static constexpr int max_running = 2;

  report_worker();
  ~report_worker();  // stops the thread; reports still under way are dropped
  report_worker(const report_worker&) = delete;
  report_worker& operator=(const report_worker&) = delete;

  /// The report of `channel` in `format`: success with the rendered text, `not_found` for a
  /// channel with no events, `unavailable` when the timeline cannot be read or max_running
  /// reports are under way.
  void build(context& ctx, std::string channel, report_format format, done_fn done);

  struct queue;  // the worker thread's jobs, shared with the jobs themselves

 private:
  std::shared_ptr<queue> queue_;
  std::thread thread_;
};

}  // namespace muster::server::crisis
