#include "server/crisis/store.hpp"

#include <spdlog/spdlog.h>

#include <memory>

namespace muster::server::crisis {

using protocol::errc;

result engine_failure(std::string_view what, std::error_code ec, bool changes) {
  std::string msg = what.empty() ? ec.message() : std::string(what) + ": " + ec.message();
  if (changes && outcome_unknown(ec)) {
    msg += " (the change may have been applied)";
    return result::failure(errc::outcome_unknown, std::move(msg));
  }
  return result::failure(errc::unavailable, std::move(msg));
}

actor scheduler() {
  actor a;
  a.id.subject = "muster";
  a.id.name = "muster";
  a.client = "scheduler";
  return a;
}

namespace {

// One modify: read, decide, commit; a lost race starts again from the read.
class modify_op : public std::enable_shared_from_this<modify_op> {
 public:
  modify_op(store& st, document_store& docs, index_store& indexes, metrics& m, std::string channel,
            std::vector<std::string> keys, store::decide_fn decide, done_fn done,
            std::optional<retention> keep)
      : st_(st),
        docs_(docs),
        indexes_(indexes),
        metrics_(m),
        channel_(std::move(channel)),
        keys_(std::move(keys)),
        decide_(std::move(decide)),
        done_(std::move(done)),
        keep_(keep) {}

  void do_read() {
    docs_.read_docs(channel_, keys_,
                    [self = shared_from_this()](std::error_code ec, std::vector<doc> docs) {
                      self->on_read(ec, docs);
                    });
  }

 private:
  void on_read(std::error_code ec, const std::vector<doc>& docs) {
    if (ec) return done_(engine_failure("cannot read crisis state", ec, false));
    plan_ = decide_(docs);
    if (plan_.stop) return done_(std::move(*plan_.stop));
    if (docs_.linked_writes() || plan_.indexes.empty()) return commit();
    st_.file_early(indexes_, plan_.indexes, [self = shared_from_this()] { self->commit(); });
  }

  void commit() {
    // Copies: a lost race needs the plan's inputs again, so the plan itself is kept intact.
    auto linked = docs_.linked_writes() ? plan_.indexes : std::vector<index_write>{};
    docs_.commit_with_indexes(channel_, plan_.writes, plan_.events, keep_, std::move(linked),
                              [self = shared_from_this()](std::error_code cec, commit_result r) {
                                self->on_commit(cec, r);
                              });
  }

  void on_commit(std::error_code ec, const commit_result& r) {
    if (ec) return done_(engine_failure("cannot store crisis state", ec, true));
    if (r.applied) return done_(plan_.reply(r));
    metrics_.add(counter::crisis_conflicts);
    if (++attempt_ >= max_attempts)
      return done_(result::failure(errc::conflict, "too many concurrent updates; retry"));
    do_read();
  }

  store& st_;
  document_store& docs_;
  index_store& indexes_;
  metrics& metrics_;
  std::string channel_;
  std::vector<std::string> keys_;
  store::decide_fn decide_;
  done_fn done_;
  std::optional<retention> keep_;
  plan plan_;
  int attempt_ = 0;
};

}  // namespace

void store::modify(std::string channel, std::vector<std::string> keys, decide_fn decide,
                   done_fn done, std::optional<retention> keep) {
  std::make_shared<modify_op>(*this, docs_, indexes_, metrics_, std::move(channel), std::move(keys),
                              std::move(decide), std::move(done), keep)
      ->do_read();
}

namespace {
void file_from(index_store& indexes, std::shared_ptr<std::vector<index_write>> changes,
               std::size_t i, std::function<void()> then) {
  while (i < changes->size() && !(*changes)[i].score) ++i;
  if (i >= changes->size()) return then();
  auto& c = (*changes)[i];
  indexes.index_put_earlier(
      c.index, c.member, *c.score, [&indexes, changes, i, then](std::error_code ec) {
        if (ec)
          spdlog::error("crisis: {} index entry {} not filed: {}", (*changes)[i].index,
                        (*changes)[i].member, ec.message());
        file_from(indexes, changes, i + 1, then);
      });
}
}  // namespace

void store::file_early(index_store& indexes, std::vector<index_write> changes,
                       std::function<void()> then) {
  file_from(indexes, std::make_shared<std::vector<index_write>>(std::move(changes)), 0,
            std::move(then));
}

void store::read(std::string channel, std::vector<std::string> keys, std::string_view what,
                 docs_fn then, done_fn done) {
  docs_.read_docs(channel, std::move(keys),
                  [what = std::string(what), then = std::move(then), done = std::move(done)](
                      std::error_code ec, std::vector<doc> d) {
                    if (ec) return done(engine_failure(what, ec, false));
                    then(std::move(d));
                  });
}

void store::list(std::string channel, std::string prefix, std::string_view what, docs_fn then,
                 done_fn done) {
  docs_.list_docs(channel, std::move(prefix),
                  [what = std::string(what), then = std::move(then), done = std::move(done)](
                      std::error_code ec, std::vector<doc> d) {
                    if (ec) return done(engine_failure(what, ec, false));
                    then(std::move(d));
                  });
}

void store::copy_events(const std::string& channel, std::vector<event_spec> events,
                        const std::string& about, std::optional<retention> keep) {
  docs_.commit(channel, {}, std::move(events), keep,
               [this, channel, about](std::error_code ec, commit_result) {
                 if (!ec) return;
                 metrics_.add(counter::crisis_mirror_failures);
                 spdlog::error("crisis: {} not copied to channel {}: {}", about, channel,
                               ec.message());
               });
}

void context::tell_leads(std::vector<event_spec> events, const std::string& about) const {
  st.copy_events(opts.leads_channel, std::move(events), about,
                 retention{opts.timeline_size, opts.timeline_ttl});
}

}  // namespace muster::server::crisis
