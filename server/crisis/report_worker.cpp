#include "server/crisis/report_worker.hpp"

namespace muster::server::crisis {

struct report_worker::queue {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> jobs;
  bool stopping = false;
  std::atomic<int> running{0};

  // False once stopping: the job is dropped.
  bool post(std::function<void()> job) {
    {
      std::lock_guard lock(mu);
      if (stopping) return false;
      jobs.push_back(std::move(job));
    }
    cv.notify_one();
    return true;
  }

  void run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [this] { return stopping || !jobs.empty(); });
        if (stopping) return;
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      job();
    }
  }
};

namespace {

constexpr std::size_t page_size = 1000;

// One report: reads a page, feeds it to the builder on the worker, reads the next.
class report_job : public std::enable_shared_from_this<report_job> {
 public:
  report_job(context& ctx, std::shared_ptr<report_worker::queue> q, std::string channel,
             report_format format, done_fn done)
      : ctx_(ctx),
        queue_(std::move(q)),
        channel_(std::move(channel)),
        format_(format),
        done_(std::move(done)) {}

  void read_page(std::uint64_t since) {
    ctx_.streams.history(channel_, {since, page_size},
                         [self = shared_from_this()](std::error_code ec, history_result h) {
                           auto q = self->queue_;
                           q->post([self, ec, h = std::move(h)] { self->on_page(ec, h); });
                         });
  }

 private:
  void on_page(std::error_code ec, const history_result& h) {
    if (ec) return finish(engine_failure("cannot read the timeline", ec, false));
    std::uint64_t last = 0;
    for (const auto& p : h.publications) {
      builder_.add(*p.frame);
      last = p.offset;
    }
    if (!h.publications.empty() && last < h.top.offset) return read_page(last);
    if (builder_.events() == 0)
      return finish(result::failure(protocol::errc::not_found, "no channel " + channel_));
    finish(result::success(render(builder_.build({ctx_.now_ms(), ctx_.opts.drill}), format_)));
  }

  void finish(result r) {
    --queue_->running;
    done_(std::move(r));
  }

  context& ctx_;
  std::shared_ptr<report_worker::queue> queue_;
  std::string channel_;
  report_format format_;
  done_fn done_;
  report_builder builder_;
};

}  // namespace

report_worker::report_worker() : queue_(std::make_shared<queue>()) {
  thread_ = std::thread([q = queue_] { q->run(); });
}

report_worker::~report_worker() {
  {
    std::lock_guard lock(queue_->mu);
    queue_->stopping = true;
  }
  queue_->cv.notify_one();
  thread_.join();
}

void report_worker::build(context& ctx, std::string channel, report_format format,
                          done_fn done) {
  if (++queue_->running > max_running) {
    --queue_->running;
    return done(result::failure(protocol::errc::unavailable,
                                "too many reports are being built; retry shortly"));
  }
  std::make_shared<report_job>(ctx, queue_, std::move(channel), format, std::move(done))
      ->read_page(0);
}

}  // namespace muster::server::crisis
