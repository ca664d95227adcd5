#include "server/crisis/service.hpp"

#include "server/crisis/channels.hpp"
#include "server/crisis/escalation.hpp"
#include "server/crisis/guidance.hpp"
#include "server/crisis/ingestion.hpp"

namespace muster::server::crisis {

service::service(engine& eng, const options& opts, metrics& m, clock_fn clock)
    : opts_(opts), store_(eng, m), ctx_{store_, eng, eng, eng, opts_, m, std::move(clock)} {}

void service::push_http(std::string_view body, const std::string& idempotency_key, const actor& who,
                        done_fn done) {
  ingestion::push_body(ctx_, body, idempotency_key, who, std::move(done));
}

void service::channels(const actor& who, done_fn done) {
  channels::list_json(ctx_, who, std::move(done));
}

void service::timeline(std::string channel, stats::timeline_fn done) {
  stats::timeline(ctx_, std::move(channel), std::move(done));
}

void service::stats(std::optional<std::string> channel, const actor& who, done_fn done) {
  stats::of(ctx_, std::move(channel), who, std::move(done));
}

void service::note_member(const std::string& channel, const actor& who) {
  guidance::note_member(ctx_, channel, who);
}

void service::scan(std::function<void(bool more)> done) {
  escalation::scan(ctx_, std::move(done));
}

}  // namespace muster::server::crisis
