#include "server/crisis/stats.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "server/crisis/channels.hpp"
#include "server/crisis/fan_in.hpp"
#include "server/crisis/keys.hpp"
#include "server/crisis/percentiles.hpp"
#include "server/crisis/records.hpp"
#include "server/crisis/store.hpp"

namespace muster::server::crisis::stats {

using protocol::errc;
using protocol::json_writer;

namespace {

constexpr std::size_t max_listed = 100;  // alert ids listed per channel

// What became of the replies proposed for approval.
struct approval_totals {
  std::map<std::string, std::uint64_t> by_state;
  std::uint64_t automatic = 0, edited = 0, overdue = 0;
  std::vector<std::int64_t> delay;  // proposed -> decided by a lead

  void add(const alert_record& r) {
    for (const auto& p : r.proposals) {
      ++by_state[p.state];
      automatic += p.automatic;
      edited += p.edited;
      overdue += p.overdue;
      if ((p.state == "approved" || p.state == "rejected") &&
          counts_as_approval_delay(p.automatic, p.at, p.decided_at))
        delay.push_back(p.decided_at - p.at);
    }
  }
  void write(json_writer& w) const {
    std::uint64_t total = 0;
    for (auto& [state, n] : by_state) total += n;
    w.begin_object().field("proposed", total);
    for (const char* state : {"approved", "rejected", "withdrawn", "pending"}) {
      auto it = by_state.find(state);
      w.field(state, it == by_state.end() ? std::uint64_t{0} : it->second);
    }
    w.field("auto_approved", automatic).field("edited", edited).field("overdue", overdue);
    w.field("median_delay_ms", median(delay)).field("p90_delay_ms", p90(delay));
    w.end_object();
  }
};

// One person's claims, responses and acks, with the raw delays (medians need all of them).
struct person_totals {
  std::string name;
  std::uint64_t claimed = 0, responded = 0, acks = 0;
  std::vector<std::int64_t> to_claim, to_respond, ack_delay;

  void add(const person_totals& o) {
    if (name.empty()) name = o.name;
    claimed += o.claimed;
    responded += o.responded;
    acks += o.acks;
    to_claim.insert(to_claim.end(), o.to_claim.begin(), o.to_claim.end());
    to_respond.insert(to_respond.end(), o.to_respond.begin(), o.to_respond.end());
    ack_delay.insert(ack_delay.end(), o.ack_delay.begin(), o.ack_delay.end());
  }
};
using people_map = std::map<std::string, person_totals>;

// One channel's figures.
struct channel_totals {
  std::string channel;
  bool drill = false;
  std::map<alert_status, std::uint64_t> by_status;
  std::uint64_t total = 0, escalated = 0, guidance = 0, acks = 0, triggers = 0;
  std::uint64_t claims_expired = 0, takeovers = 0, notes = 0;
  std::vector<std::int64_t> to_claim, to_respond, ack_delay;
  people_map people;
  // For responses written under guidance that has since been revised or replaced:
  std::map<std::string, unsigned> versions;  // guidance id -> its current version
  std::set<std::string> pinned;              // guidance ids pinned now
  std::vector<alert_record> alerts;
  approval_totals approvals;

  // Alerts answered under a version of guidance that is no longer the one in force.
  std::vector<std::string> under_superseded() const {
    std::vector<std::string> out;
    for (const auto& r : alerts) {
      if (r.responder.empty()) continue;
      bool outdated = std::any_of(r.guidance.begin(), r.guidance.end(), [&](const auto& g) {
        auto it = versions.find(g.id);
        return !pinned.count(g.id) || (it != versions.end() && it->second > g.version);
      });
      if (outdated) out.push_back(r.a.id);
    }
    return out;
  }

  void add_alert(const alert_record& r) {
    ++total;
    triggers += r.a.count;
    ++by_status[r.a.status];
    if (r.a.escalations) ++escalated;
    claims_expired += r.a.expired_claims;
    takeovers += r.a.takeovers;
    notes += r.a.notes;
    approvals.add(r);
    auto claimed_at = to_ms(r.a.claimed_at), first = to_ms(r.a.first_seen);
    if (!r.a.holder.empty() && claimed_at > 0) {
      auto& p = people[r.a.holder];
      if (p.name.empty()) p.name = r.holder_name;
      ++p.claimed;
      p.to_claim.push_back(claimed_at - first);
      to_claim.push_back(claimed_at - first);
    }
    if (!r.responder.empty()) {
      auto& p = people[r.responder.user];
      if (p.name.empty()) p.name = r.responder.name;
      ++p.responded;
      auto dt = to_ms(r.a.responded_at) - claimed_at;
      p.to_respond.push_back(dt);
      to_respond.push_back(dt);
    }
  }
  void add_ack(const ack_record& a) {
    auto& p = people[a.user];
    if (p.name.empty()) p.name = a.name;
    ++p.acks;
    ++acks;
    p.ack_delay.push_back(a.delay_ms);
    ack_delay.push_back(a.delay_ms);
  }
};

void write_people(json_writer& w, const people_map& people) {
  w.begin_array();
  for (auto& [user, p] : people) {
    if (user.empty()) continue;
    w.begin_object().field("user", user).field("name", p.name);
    w.field("claimed", p.claimed).field("responded", p.responded);
    w.field("median_time_to_claim_ms", median(p.to_claim));
    w.field("median_time_to_respond_ms", median(p.to_respond));
    w.field("acks", p.acks).field("median_ack_delay_ms", median(p.ack_delay));
    w.end_object();
  }
  w.end_array();
}

void write_channel(json_writer& w, const channel_totals& t) {
  w.begin_object().field("channel", t.channel).field("drill", t.drill);
  w.key("alerts").begin_object().field("total", t.total);
  for (auto s : {alert_status::open, alert_status::claimed, alert_status::responded,
                 alert_status::resolved, alert_status::dismissed}) {
    auto it = t.by_status.find(s);
    w.field(status_name(s), it == t.by_status.end() ? std::uint64_t{0} : it->second);
  }
  w.field("escalated", t.escalated).field("triggers", t.triggers);
  w.field("claims_expired", t.claims_expired).field("takeovers", t.takeovers);
  w.field("notes", t.notes).end_object();
  w.field("median_time_to_claim_ms", median(t.to_claim));
  w.field("median_time_to_respond_ms", median(t.to_respond));
  w.key("guidance").begin_object().field("posted", t.guidance).field("acks", t.acks);
  w.field("median_ack_delay_ms", median(t.ack_delay));
  auto outdated = t.under_superseded();
  w.field("responses_under_superseded", static_cast<std::uint64_t>(outdated.size()));
  if (outdated.size() > max_listed) outdated.resize(max_listed);
  w.key("superseded_responses").strings(outdated).end_object();
  t.approvals.write(w.key("approvals"));
  write_people(w.key("people"), t.people);
  w.end_object();
}

using totals_fn = std::function<void(std::optional<channel_totals>)>;  // none: the read failed

void channel_stats(context& ctx, const std::string& channel, totals_fn done) {
  ctx.docs.list_docs(channel, "", [channel, done](std::error_code ec, std::vector<doc> all) {
    if (ec) return done(std::nullopt);
    channel_totals t;
    t.channel = channel;
    for (auto& d : all) {
      if (d.key == keys::meta) {
        if (auto m = decoded<channel_record>(d.value)) t.drill = m->drill;
      } else if (d.key.starts_with(keys::alert_prefix)) {
        if (auto r = decoded<alert_record>(d.value)) t.alerts.push_back(std::move(*r));
      } else if (d.key.starts_with(keys::guidance_prefix)) {
        ++t.guidance;
        if (auto g = decoded<guidance_record>(d.value)) t.versions[g->id] = g->version;
      } else if (d.key.starts_with(keys::pinned_prefix)) {
        t.pinned.insert(d.value);
      } else if (d.key.starts_with(keys::ack_prefix)) {
        if (auto a = decoded<ack_record>(d.value)) t.add_ack(*a);
      }
    }
    for (const auto& r : t.alerts) t.add_alert(r);
    done(std::move(t));
  });
}

// {"channels":[...],"people":[...]}: the people across channels are who carried the crisis.
void reply_with(const std::vector<std::optional<channel_totals>>& all, const done_fn& done) {
  people_map people;
  json_writer w;
  w.begin_object().key("channels").begin_array();
  for (auto& t : all) {
    if (!t) return done(result::failure(errc::unavailable, "cannot read stats"));
    write_channel(w, *t);
    for (auto& [user, p] : t->people) people[user].add(p);
  }
  w.end_array();
  write_people(w.key("people"), people);
  done(result::success(w.end_object().take()));
}

// Pages through a channel's whole stream.
class timeline_export : public std::enable_shared_from_this<timeline_export> {
 public:
  timeline_export(context& ctx, std::string channel, timeline_fn done)
      : ctx_(ctx), channel_(std::move(channel)), done_(std::move(done)) {}

  void read_page(std::uint64_t since) {
    ctx_.streams.history(channel_, {since, page_size},
                         [self = shared_from_this(), since](std::error_code ec, history_result h) {
                           self->on_page(since, ec, h);
                         });
  }

 private:
  static constexpr std::size_t page_size = 1000;

  void on_page(std::uint64_t since, std::error_code ec, const history_result& h) {
    if (ec) return done_(ec, {}, 0);
    if (since == 0) first_ = h.first_offset;
    std::uint64_t last = since;
    for (auto& p : h.publications) {
      lines_ += *p.frame;
      lines_ += '\n';
      last = p.offset;
    }
    if (h.publications.empty() || last >= h.top.offset) return done_({}, std::move(lines_), first_);
    read_page(last);
  }

  context& ctx_;
  std::string channel_;
  timeline_fn done_;
  std::string lines_;
  std::uint64_t first_ = 0;
};

}  // namespace

void of(context& ctx, std::optional<std::string> channel, const actor& who, done_fn done) {
  auto gather = [&ctx, done](std::vector<std::string> names) {
    auto put = fan_in<std::optional<channel_totals>>::start(
        names.size(),
        [done](std::vector<std::optional<channel_totals>> all) { reply_with(all, done); });
    for (std::size_t i = 0; i < names.size(); ++i)
      channel_stats(ctx, names[i],
                    [put, i](std::optional<channel_totals> t) { put(i, std::move(t)); });
  };
  if (channel) return gather({*channel});
  // Drills are rehearsals: the real figures leave them out (ask for a drill channel by name).
  channels::list_records(
      ctx, who,
      [gather](std::vector<channel_record> all) {
        std::vector<std::string> names;
        for (auto& c : all)
          if (!c.drill) names.push_back(c.channel);
        gather(std::move(names));
      },
      done);
}

void command(context& ctx, request& r, done_fn done) {
  of(ctx, r.channel.empty() ? std::nullopt : std::optional(r.channel), r.who, std::move(done));
}

void timeline(context& ctx, std::string channel, timeline_fn done) {
  std::make_shared<timeline_export>(ctx, std::move(channel), std::move(done))->read_page(0);
}

}  // namespace muster::server::crisis::stats
