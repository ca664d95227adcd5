#include "server/crisis/idempotency.hpp"

#include <spdlog/spdlog.h>

#include <memory>

#include "server/crisis/keys.hpp"
#include "server/crisis/records.hpp"
#include "server/crisis/store.hpp"

namespace muster::server::crisis::idempotency {

using protocol::errc;

namespace {

constexpr std::int64_t stale_ms = 30'000;

// One keyed run: claim the key, run, record the reply (or forget the key on failure).
class keyed_run : public std::enable_shared_from_this<keyed_run> {
 public:
  keyed_run(context& ctx, std::string key, std::function<void(done_fn)> work, done_fn done)
      : ctx_(ctx),
        key_(std::move(key)),
        doc_key_(keys::idempotency(key_)),
        work_(std::move(work)),
        done_(std::move(done)) {}

  void look() {
    ctx_.st.read(
        std::string(keys::pointer_channel), {doc_key_}, "cannot read alerts",
        [self = shared_from_this()](std::vector<doc> d) { self->on_look(d[0]); }, done_);
  }

 private:
  void on_look(const doc& d) {
    if (d.version > 0) {
      auto seen = decoded<idempotency_record>(d.value);
      if (seen && seen->done) return done_(result::success(seen->reply));
      if (seen && ctx_.now_ms() - seen->at < stale_ms)
        return done_(result::failure(errc::conflict,
                                     "a push with this idempotency_key is in progress; retry"));
    }
    claim(d.version);
  }

  void claim(std::uint64_t expect) {
    idempotency_record pending{false, ctx_.now_ms(), {}};
    ctx_.docs.commit(std::string(keys::pointer_channel), {{doc_key_, expect, encode(pending)}}, {},
                     std::nullopt,
                     [self = shared_from_this()](std::error_code ec, commit_result r) {
                       if (ec)
                         return self->done_(engine_failure("cannot store the alert", ec, true));
                       // Another node claimed it meanwhile: look again (bounded).
                       if (!r.applied)
                         return ++self->tries_ < max_attempts
                                    ? self->look()
                                    : self->done_(result::failure(errc::conflict,
                                                                  "too many concurrent triggers"));
                       self->version_ = r.versions[0];
                       self->run();
                     });
  }

  void run() {
    work_([self = shared_from_this()](result r) { self->record(std::move(r)); });
  }

  void record(result r) {
    std::string value;
    if (r.ok) value = encode(idempotency_record{true, ctx_.now_ms(), r.json});
    // Answered once the key's outcome is stored: a retry after this reply never runs it again.
    ctx_.docs.commit(
        std::string(keys::pointer_channel), {{doc_key_, version_, value}}, {}, std::nullopt,
        [self = shared_from_this(), r = std::move(r)](std::error_code ec, commit_result) mutable {
          if (ec)
            spdlog::warn("crisis: idempotency key {} not recorded: {}", self->key_, ec.message());
          if (r.ok) self->forget_later();
          self->done_(std::move(r));
        });
  }

  void forget_later() {
    auto window =
        std::chrono::duration_cast<std::chrono::milliseconds>(ctx_.opts.idempotency_window);
    ctx_.indexes.index_put(std::string(keys::idempotency_index), key_,
                           ctx_.now_ms() + window.count(), [](std::error_code) {});
  }

  context& ctx_;
  std::string key_, doc_key_;
  std::function<void(done_fn)> work_;
  done_fn done_;
  std::uint64_t version_ = 0;
  int tries_ = 0;
};

}  // namespace

void once(context& ctx, const std::string& key, std::function<void(done_fn)> work, done_fn done) {
  std::make_shared<keyed_run>(ctx, key, std::move(work), std::move(done))->look();
}

void expire(context& ctx, const std::string& key, std::function<void()> next) {
  ctx.docs.commit(std::string(keys::pointer_channel),
                  {{keys::idempotency(key), doc_write::any, ""}}, {}, std::nullopt,
                  [&ctx, key, next](std::error_code ec, commit_result) {
                    if (!ec)
                      ctx.indexes.index_remove(std::string(keys::idempotency_index), key,
                                               [](std::error_code) {});
                    next();
                  });
}

}  // namespace muster::server::crisis::idempotency
