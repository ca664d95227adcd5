#include "server/crisis/escalation.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>

#include "server/crisis/alerts.hpp"
#include "server/crisis/approval.hpp"
#include "server/crisis/audience.hpp"
#include "server/crisis/idempotency.hpp"
#include "server/crisis/keys.hpp"
#include "server/crisis/sequence.hpp"
#include "server/crisis/store.hpp"

namespace muster::server::crisis::escalation {

using protocol::errc;

namespace {

constexpr std::size_t max_scan = 256;

// Leads hear of `event` in their own channel too, unless the alert's events reach it anyway:
// `{"alert":<alert>,<members>}`.
void tell_leads(context& ctx, const alert_record& rec, const std::string& channel,
                const char* event, const std::function<void(protocol::json_writer&)>& members) {
  const auto& leads = ctx.opts.leads_channel;
  const auto& routed = rec.channels;
  if (leads == channel || std::find(routed.begin(), routed.end(), leads) != routed.end()) return;
  protocol::json_writer w;
  w.begin_object().raw_field("alert", encode(rec));
  members(w);
  ctx.tell_leads({{event, w.end_object().take(), scheduler().info()}},
                 std::string(event) + " of alert " + rec.a.id);
}

// Releases an expired claim, or raises the escalation step that is due on one alert, if
// either is; then moves its due entry (found at `seen`) to what the alert says now. `next`
// runs afterwards.
void escalate(context& ctx, const std::string& channel, const std::string& id, std::int64_t seen,
              std::function<void()> next) {
  struct outcome_of {
    unsigned step = 0;     // 0: nothing was due
    bool expired = false;  // the claim ran out and was released
    bool overdue = false;  // a proposal waited too long for a lead
    std::int64_t waited_ms = 0;
    alert_record rec;
  };
  auto out = std::make_shared<outcome_of>();
  auto decide = [&ctx, out](alert_record& rec, alerts::change& c) -> std::optional<result> {
    out->step = 0;  // a retry after a lost race decides afresh
    out->overdue = false;
    person holder{rec.a.holder, rec.holder_name};
    out->expired = expire_claim(rec.a, ctx.clock());
    if (out->expired) {
      rec.holder_name.clear();
      c.events.emplace_back("alert.released");
      c.reason = "expired";
      c.previous = holder;
    } else if (auto due = escalation_due(rec.a, ctx.opts.escalation, ctx.clock())) {
      out->step = *due;
      rec.a.escalations = *due;
      c.step = *due;
      c.events.emplace_back("alert.escalated");
    } else if (approval::mark_overdue(rec, ctx.now_ms(), ctx.opts.approval_escalate_after)) {
      const auto& p = rec.proposals.back();
      out->overdue = true;
      c.events.emplace_back("alert.approval_overdue");
      c.proposal = encode(p);
      c.waited_ms = out->waited_ms = ctx.now_ms() - p.at;
    }
    out->rec = rec;
    alerts::stamp(ctx, out->rec);  // as the commit will store it
    return std::nullopt;
  };
  auto finish = [&ctx, out, channel, id, seen, next](result r) {
    auto member = keys::channel_item(channel, id);
    if (!r.ok && r.code == errc::not_found) {
      ctx.indexes.index_replace(std::string(keys::due_index), member, seen, std::nullopt,
                                [](std::error_code) {});
      return next();
    }
    // Only while the entry is still what this pass found: a change made meanwhile filed its own.
    if (r.ok) alerts::refile(ctx, out->rec, seen);
    if (r.ok && out->expired) {
      ctx.stats.add(counter::claims_expired);
      spdlog::info("crisis: claim of alert {} in {} expired; released", id, channel);
    } else if (r.ok && out->overdue) {
      ctx.stats.add(counter::approvals_overdue);
      spdlog::info("crisis: a reply to alert {} in {} waits too long for approval", id, channel);
      tell_leads(ctx, out->rec, channel, "alert.approval_overdue", [&](protocol::json_writer& w) {
        w.raw_field("proposal", encode(out->rec.proposals.back()))
            .field("waited_ms", out->waited_ms);
      });
    } else if (r.ok && out->step == 0) {
      // Not due: the deadline moved (e.g. claimed), refiled above.
    } else if (r.ok) {
      ctx.stats.add(counter::escalations);
      spdlog::info("crisis: alert {} in {} escalated (step {})", id, channel, out->step);
      tell_leads(ctx, out->rec, channel, "alert.escalated", [&](protocol::json_writer& w) {
        w.field("step", out->step).field("reason", alerts::escalation_reason(out->step));
      });
    } else {
      spdlog::warn("crisis: escalation of alert {} failed: {}", id, r.message);
    }
    next();
  };
  alerts::modify(ctx, channel, id, scheduler(), decide, finish);
}

// One pass: the due items, one at a time (bounded work, no burst of commits on the engine).
class scan_pass : public std::enable_shared_from_this<scan_pass> {
 public:
  scan_pass(context& ctx, std::function<void(bool)> done) : ctx_(ctx), done_(std::move(done)) {}

  void start() {
    now_ = ctx_.now_ms();
    ctx_.indexes.index_range(std::string(keys::due_index), now_, max_scan,
                             [self = shared_from_this()](std::error_code ec, auto due) {
                               if (ec) {
                                 spdlog::warn("crisis: escalation scan failed: {}", ec.message());
                                 return self->done_(false);
                               }
                               self->more_ |= due.size() >= max_scan;
                               for (auto& [m, s] : due)
                                 self->items_.push_back({item::escalation, m, s});
                               self->read_index(0);
                             });
  }

 private:
  struct item {
    // forget: an expired idempotency key; undedup: a closed alert's dedup entries
    enum kind_t { escalation, reminder, overdue, forget, undedup } kind;
    std::string member;
    std::int64_t score = 0;  // when it was due
  };

  // The indexes a pass takes due items from after the due index, in this order.
  static constexpr std::pair<std::string_view, item::kind_t> other_indexes[] = {
      {keys::remind_index, item::reminder},
      {keys::overdue_index, item::overdue},
      {keys::idempotency_index, item::forget},
      {keys::forget_index, item::undedup}};

  void read_index(std::size_t i) {
    if (i == std::size(other_indexes)) return steps();
    auto index = other_indexes[i].first;  // not a structured binding: the lambda captures it
    auto kind = other_indexes[i].second;
    ctx_.indexes.index_range(std::string(index), now_, max_scan,
                             [self = shared_from_this(), i, kind](std::error_code ec, auto found) {
                               self->more_ |= found.size() >= max_scan;
                               if (!ec)
                                 for (auto& [m, s] : found) self->items_.push_back({kind, m, s});
                               self->read_index(i + 1);
                             });
  }

  void steps() {
    auto self = shared_from_this();
    sequence::run(
        items_.size(), [self](std::size_t i, std::function<void()> next) { self->step(i, next); },
        [self] { self->done_(self->more_); });
  }

  void step(std::size_t i, const std::function<void()>& next) {
    if (items_[i].kind == item::forget) return idempotency::expire(ctx_, items_[i].member, next);
    auto target = keys::split_channel_item(items_[i].member);
    if (!target) return next();
    switch (items_[i].kind) {
      case item::escalation:
        return escalate(ctx_, target->first, target->second, items_[i].score, next);
      case item::reminder:
        return audience::remind(ctx_, target->first, target->second, items_[i].score, next);
      case item::overdue:
        return audience::overdue(ctx_, target->first, target->second, items_[i].score, next);
      default:
        return alerts::forget_dedup(ctx_, target->first, target->second, next);
    }
  }

  context& ctx_;
  std::function<void(bool)> done_;
  std::int64_t now_ = 0;
  bool more_ = false;  // an index had more due than one pass takes
  std::vector<item> items_;
};

}  // namespace

void scan(context& ctx, std::function<void(bool more)> done) {
  std::make_shared<scan_pass>(ctx, std::move(done))->start();
}

}  // namespace muster::server::crisis::escalation
