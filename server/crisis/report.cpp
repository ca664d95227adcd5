#include "server/crisis/report.hpp"

#include "server/crisis/percentiles.hpp"

#include <simdjson.h>

#include <algorithm>
#include <set>

namespace muster::server::crisis {

namespace dom = simdjson::dom;

namespace {

constexpr std::int64_t max_time_ms = 253402300799999;  // the end of year 9999

// The server writes sane times; a hostile line must not overflow the arithmetic on them.
std::int64_t sane(std::int64_t ms) {
  return std::clamp<std::int64_t>(ms, 0, max_time_ms);
}

std::string str(dom::element e, std::string_view key) {
  std::string_view v;
  if (e[key].get_string().get(v)) return {};
  return std::string(v);
}
std::int64_t num(dom::element e, std::string_view key) {
  std::int64_t v = 0;
  if (e[key].get_int64().get(v)) return 0;
  return v;
}
double real(dom::element e, std::string_view key) {
  double v = 0;
  if (e[key].get_double().get(v)) return 0;
  return v;
}
bool flag(dom::element e, std::string_view key) {
  bool v = false;
  if (e[key].get_bool().get(v)) return false;
  return v;
}
person person_at(dom::element e, std::string_view key) {
  dom::element p;
  if (e[key].get(p) || !p.is_object()) return {};
  return {str(p, "user"), str(p, "name")};
}

// What the report needs of a proposal (PROTOCOL.md 15: alert.proposed and the alert object).
struct proposal_fact {
  std::string id;
  person by;
  std::int64_t at = 0, decided_at = 0;
  std::string state;
  bool edited = false, automatic = false;
  std::string alert;  // the alert it was proposed for
};
proposal_fact read_proposal(dom::element p, std::string alert) {
  return {str(p, "id"),    person_at(p, "by"), num(p, "at"),    num(p, "decided_at"),
          str(p, "state"), flag(p, "edited"),  flag(p, "auto"), std::move(alert)};
}

struct alert_track {
  alert_record rec;
  bool drill = false;
  bool claimed = false;                     // a first claim or assignment was seen
  bool answered_before_escalation = false;  // responded while escalations was 0
};

struct response_fact {
  person who;
  std::int64_t delay_ms = -1;  // responded_at - claimed_at (-1: unknown)
  bool escalated = false;      // the alert had been escalated by then
  std::vector<pinned_version> pins;
};

struct guidance_track {
  std::string id, kind;
  std::optional<std::string> supersedes;
  unsigned current = 1;
  std::uint64_t reminders = 0, overdue = 0;
  std::vector<report_guidance_version> versions;
};

bool is_alert_event(std::string_view ev) {
  return ev.starts_with("alert.") && ev != "alert.activity";
}

}  // namespace

report_duration summarize(std::vector<std::int64_t> samples) {
  report_duration d;
  std::sort(samples.begin(), samples.end());
  d.count = samples.size();
  d.median_ms = median_sorted(samples);
  d.p90_ms = p90_sorted(samples);
  for (auto v : samples) {
    auto it =
        std::upper_bound(report_duration::bounds_ms.begin(), report_duration::bounds_ms.end(), v);
    ++d.histogram[static_cast<std::size_t>(it - report_duration::bounds_ms.begin())];
  }
  return d;
}

struct report_builder::state {
  std::string frame_channel;
  channel_record channel;
  bool drill = false;
  std::uint64_t events = 0, first_offset = 0, last_offset = 0;
  std::int64_t from = 0, to = 0;
  std::map<std::string, alert_track> alerts;
  std::vector<std::pair<std::int64_t, severity>> arrivals;  // alert.new: ts, severity
  std::vector<report_spike> spikes;
  std::vector<std::int64_t> to_claim, to_respond;
  std::vector<person> claims, expired;
  std::vector<response_fact> responses;
  report_escalations esc;
  std::set<std::string> escalated;
  std::vector<guidance_track> guidance;
  std::map<std::string, std::size_t> guidance_index;
  std::set<std::string> superseded;
  std::vector<ack_record> acks;
  std::set<std::string> audience;  // users who acked or were pending in a reminder/overdue
  std::map<std::string, proposal_fact> proposals;
  std::uint64_t approval_overdue = 0;

  void frame(dom::element ev) {
    auto offset = static_cast<std::uint64_t>(num(ev, "offset"));
    auto ts = sane(num(ev, "ts"));
    if (events++ == 0) {
      first_offset = offset;
      from = ts;
      frame_channel = str(ev, "channel");
    }
    last_offset = offset;
    to = ts;
  }

  bool event(std::string_view name, dom::element ev, dom::element data) {
    if (name == "channel.created" || name == "channel.updated") return on_channel(data);
    if (name == "channel.spike") return on_spike(ev, data);
    if (is_alert_event(name)) return on_alert(name, ev, data);
    if (name == "guidance.posted" || name == "guidance.revised") return on_guidance(name, data);
    if (name == "guidance.acked") return on_ack(data);
    if (name == "guidance.reminder" || name == "guidance.overdue") return on_chase(name, data);
    return false;
  }

  bool on_channel(dom::element data) {
    dom::element c;
    if (data["channel"].get(c)) return false;
    channel_record rec;
    if (!decode(simdjson::minify(c), rec)) return false;
    channel = std::move(rec);
    drill = flag(c, "drill");
    return true;
  }

  bool on_spike(dom::element ev, dom::element d) {
    report_spike s;
    s.offset = static_cast<std::uint64_t>(num(ev, "offset"));
    s.at = num(d, "at");
    s.rate = real(d, "rate");
    s.baseline_rate = real(d, "baseline_rate");
    s.factor = real(d, "factor");
    s.reach_factor = real(d, "reach_factor");
    s.by_reach = flag(d, "by_reach");
    s.alerts_in_window = static_cast<std::uint64_t>(num(d, "alerts_in_window"));
    s.severity_raised = flag(d, "severity_raised");
    spikes.push_back(s);
    return true;
  }

  void note_proposals(dom::element alert_obj, dom::element data) {
    auto alert = str(alert_obj, "id");
    dom::array all;
    if (!alert_obj["proposals"].get_array().get(all))
      for (dom::element p : all) {
        auto f = read_proposal(p, alert);
        if (!f.id.empty()) proposals[f.id] = std::move(f);
      }
    dom::element p;
    if (!data["proposal"].get(p) && p.is_object()) {
      auto f = read_proposal(p, alert);
      if (!f.id.empty()) proposals[f.id] = std::move(f);
    }
  }

  bool on_alert(std::string_view name, dom::element ev, dom::element data) {
    dom::element a;
    alert_record rec;
    if (data["alert"].get(a) || !decode(simdjson::minify(a), rec)) return false;
    auto& t = alerts[rec.a.id];
    t.rec = rec;
    t.drill = flag(a, "drill");
    note_proposals(a, data);
    auto claimed_at = to_ms(rec.a.claimed_at), first = sane(to_ms(rec.a.first_seen));
    person holder{rec.a.holder, rec.holder_name};
    if (name == "alert.new") arrivals.emplace_back(sane(num(ev, "ts")), rec.a.input.severity);
    if (name == "alert.claimed" || name == "alert.assigned") {
      claims.push_back(holder);
      if (!t.claimed && claimed_at > 0) to_claim.push_back(claimed_at - first);
      t.claimed = true;
    }
    if (name == "alert.released" && str(data, "reason") == "expired")
      expired.push_back(person_at(data, "previous"));
    if (name == "alert.responded") on_response(t, rec);
    if (name == "alert.escalated") on_escalation(rec.a.id, data);
    if (name == "alert.approval_overdue") ++approval_overdue;
    return true;
  }

  void on_response(alert_track& t, const alert_record& rec) {
    response_fact f;
    f.who = rec.responder;
    auto claimed_at = to_ms(rec.a.claimed_at), responded_at = to_ms(rec.a.responded_at);
    if (claimed_at > 0 && responded_at >= claimed_at) f.delay_ms = responded_at - claimed_at;
    if (f.delay_ms >= 0) to_respond.push_back(f.delay_ms);
    f.escalated = rec.a.escalations > 0;
    if (!f.escalated) t.answered_before_escalation = true;
    f.pins = rec.guidance;
    responses.push_back(std::move(f));
  }

  void on_escalation(const std::string& id, dom::element data) {
    ++esc.total;
    ++esc.by_step[std::to_string(num(data, "step"))];
    ++esc.by_reason[str(data, "reason")];
    if (escalated.insert(id).second && esc.alert_ids.size() < report_max_listed)
      esc.alert_ids.push_back(id);
  }

  guidance_track& track_of(const guidance_record& g) {
    auto [it, fresh] = guidance_index.emplace(g.id, guidance.size());
    if (fresh) {
      guidance.push_back({g.id, g.kind, g.supersedes, g.version, 0, 0, {}});
      if (g.supersedes) superseded.insert(*g.supersedes);
    }
    return guidance[it->second];
  }

  bool on_guidance(std::string_view name, dom::element data) {
    dom::element e;
    guidance_record g;
    if (data["guidance"].get(e) || !decode(simdjson::minify(e), g)) return false;
    auto& t = track_of(g);
    t.current = std::max(t.current, g.version);
    bool known = std::any_of(t.versions.begin(), t.versions.end(),
                             [&](const auto& v) { return v.version == g.version; });
    if (known) return true;
    person by = g.version == 1 ? g.by : g.revised_by;
    if (name == "guidance.revised" && !person_at(data, "by").empty()) by = person_at(data, "by");
    report_guidance_version v;
    v.version = g.version;
    v.title = g.title;
    v.at = g.version_at();
    v.by = by;
    v.changes = g.changes;
    t.versions.push_back(std::move(v));
    return true;
  }

  bool on_ack(dom::element data) {
    ack_record a;
    if (!decode(simdjson::minify(data), a)) return false;
    audience.insert(a.user);
    acks.push_back(std::move(a));
    return true;
  }

  bool on_chase(std::string_view name, dom::element data) {
    dom::element e;
    guidance_record g;
    if (data["guidance"].get(e) || !decode(simdjson::minify(e), g)) return false;
    auto& t = track_of(g);
    ++(name == "guidance.reminder" ? t.reminders : t.overdue);
    dom::array pending;
    if (!data["pending"].get_array().get(pending))
      for (dom::element m : pending) {
        auto user = str(m, "user");
        if (!user.empty()) audience.insert(user);
      }
    return true;
  }
};

namespace {

constexpr std::int64_t minute_ms = 60'000;
constexpr std::int64_t max_buckets = 60;
constexpr std::int64_t prompt_ack_ms = 10 * minute_ms;  // an ack this fast scores double

// The smallest of 10, 30 s, 1, 5, 15, 30 min, 1, 3, 6, 12 h, 1, 2, 4 ... days giving <= 60
// buckets (a drill replayed fast lasts minutes).
std::int64_t bucket_size(std::int64_t from, std::int64_t to) {
  auto fits = [&](std::int64_t size) {
    return (to - from / size * size) / size + 1 <= max_buckets;
  };
  for (std::int64_t s : {10, 30})
    if (fits(s * 1000)) return s * 1000;
  for (std::int64_t m : {1, 5, 15, 30, 60, 180, 360, 720, 1440})
    if (fits(m * minute_ms)) return m * minute_ms;
  std::int64_t size = 1440 * minute_ms;
  while (!fits(size)) size *= 2;
  return size;
}

report_volume volume_of(const std::vector<std::pair<std::int64_t, severity>>& arrivals,
                        std::vector<report_spike> spikes, std::int64_t from, std::int64_t to) {
  report_volume v;
  v.bucket_ms = bucket_size(from, std::max(from, to));
  auto start = from / v.bucket_ms * v.bucket_ms;
  auto n = (std::max(from, to) - start) / v.bucket_ms + 1;
  for (std::int64_t i = 0; i < n; ++i) v.buckets.push_back({start + i * v.bucket_ms, {}});
  for (auto& [ts, sev] : arrivals) {
    auto i = std::clamp<std::int64_t>((ts - start) / v.bucket_ms, 0, n - 1);
    ++v.buckets[static_cast<std::size_t>(i)].by_severity[static_cast<std::size_t>(sev) - 1];
  }
  v.spikes = std::move(spikes);
  return v;
}

report_alert row_of(const alert_track& t) {
  const auto& r = t.rec;
  const auto& a = r.a;
  report_alert row;
  row.id = a.id;
  row.first_seen = to_ms(a.first_seen);
  row.sev = a.input.severity;
  row.status = a.status;
  row.source = a.input.source;
  row.url = a.input.url;
  row.author = a.input.author;
  row.reach = a.input.reach;
  row.count = a.count;
  row.holder = {a.holder, r.holder_name};
  row.claimed_at = to_ms(a.claimed_at);
  row.responded_at = to_ms(a.responded_at);
  row.responder = r.responder;
  row.reply_url = a.reply_url;
  row.escalations = a.escalations;
  row.drill = t.drill;
  return row;
}

// Per person: the facts, then the samples the medians need.
struct person_acc {
  report_person p;
  std::vector<std::int64_t> response_ms, ack_ms;
  std::int64_t points = 0;
};

}  // namespace

namespace detail {
// Builds the parts of a report from a builder's state (friends of nobody: plain functions).
struct report_assembly {
  const report_builder::state& s;

  static person_acc& at(std::map<std::string, person_acc>& m, const person& who) {
    auto& acc = m[who.user];
    acc.p.user = who.user;
    if (acc.p.name.empty()) acc.p.name = who.name;
    return acc;
  }

  bool under_superseded(const response_fact& f) const {
    return std::any_of(f.pins.begin(), f.pins.end(), [&](const pinned_version& pin) {
      auto it = s.guidance_index.find(pin.id);
      bool revised = it != s.guidance_index.end() && s.guidance[it->second].current > pin.version;
      return revised || s.superseded.count(pin.id) > 0;
    });
  }

  // The score (PROTOCOL.md 20.5): responses 10 (5 once escalated), -1 under superseded
  // guidance, -3 per expired claim.
  void add_work(std::map<std::string, person_acc>& m) const {
    for (auto& who : s.claims)
      if (!who.empty()) ++at(m, who).p.claimed;
    for (auto& who : s.expired) {
      if (who.empty()) continue;
      auto& acc = at(m, who);
      ++acc.p.expired_claims;
      acc.points -= 3;
    }
    for (auto& f : s.responses) {
      if (f.who.empty()) continue;
      auto& acc = at(m, f.who);
      ++acc.p.responded;
      acc.points += f.escalated ? 5 : 10;
      if (f.delay_ms >= 0) acc.response_ms.push_back(f.delay_ms);
      if (!under_superseded(f)) continue;
      ++acc.p.under_superseded;
      --acc.points;
    }
  }

  // Acks 2 (1 when slower than 10 min); proposals +2 approved unedited, -2 rejected.
  void add_acks_and_proposals(std::map<std::string, person_acc>& m) const {
    for (auto& a : s.acks) {
      auto& acc = at(m, {a.user, a.name});
      ++acc.p.acks;
      acc.points += a.delay_ms <= prompt_ack_ms ? 2 : 1;
      acc.ack_ms.push_back(a.delay_ms);
    }
    // A lead's unedited approval earns points once per alert: repeating proposals (or
    // template replies, approved without a lead) adds nothing.
    std::set<std::pair<std::string, std::string>> rewarded;  // (user, alert)
    for (auto& [id, f] : s.proposals) {
      if (f.by.empty() || (f.state != "approved" && f.state != "rejected")) continue;
      auto& acc = at(m, f.by);
      if (f.state == "rejected") {
        ++acc.p.proposals_rejected;
        acc.points -= 2;
        continue;
      }
      ++acc.p.proposals_approved;
      if (!f.edited && !f.automatic && rewarded.insert({f.by.user, f.alert}).second)
        acc.points += 2;
    }
  }

  std::vector<report_person> people() const {
    std::map<std::string, person_acc> m;
    add_work(m);
    add_acks_and_proposals(m);
    std::vector<report_person> out;
    for (auto& [user, acc] : m) {
      std::sort(acc.response_ms.begin(), acc.response_ms.end());
      std::sort(acc.ack_ms.begin(), acc.ack_ms.end());
      acc.p.median_response_ms = median_sorted(acc.response_ms);
      acc.p.median_ack_delay_ms = median_sorted(acc.ack_ms);
      acc.p.score = std::max<std::int64_t>(0, acc.points);
      out.push_back(std::move(acc.p));
    }
    std::sort(out.begin(), out.end(), [](const report_person& a, const report_person& b) {
      if (a.score != b.score) return a.score > b.score;
      if (a.responded != b.responded) return a.responded > b.responded;
      if (a.name != b.name) return a.name < b.name;
      return a.user < b.user;
    });
    return out;
  }

  report_guidance guidance_of(const guidance_track& t) const {
    report_guidance g{t.id,        t.kind,    t.supersedes, s.superseded.count(t.id) > 0,
                      t.reminders, t.overdue, t.versions};
    std::sort(g.versions.begin(), g.versions.end(),
              [](const auto& a, const auto& b) { return a.version < b.version; });
    for (auto& v : g.versions) {
      std::vector<std::int64_t> delays;
      for (auto& a : s.acks)
        if (a.guidance == t.id && a.version == v.version) delays.push_back(a.delay_ms);
      std::sort(delays.begin(), delays.end());
      v.acks = delays.size();
      v.median_ack_delay_ms = median_sorted(delays);
      for (std::size_t i = 0; i < delays.size(); ++i) v.curve.push_back({delays[i], i + 1});
    }
    return g;
  }

  report_approvals approvals() const {
    report_approvals a;
    std::vector<std::int64_t> delays;
    for (auto& [id, f] : s.proposals) {
      ++a.proposals;
      if (f.state == "approved") ++a.approved, a.auto_approved += f.automatic, a.edited += f.edited;
      if (f.state == "rejected") ++a.rejected;
      if (f.state == "withdrawn") ++a.withdrawn;
      if (f.state == "pending") ++a.pending;
      bool decided = f.state == "approved" || f.state == "rejected";
      if (decided && counts_as_approval_delay(f.automatic, f.at, f.decided_at))
        delays.push_back(f.decided_at - f.at);
    }
    a.overdue = s.approval_overdue;
    a.delay = summarize(std::move(delays));
    return a;
  }

  // Expected acks: everyone who acked or was chased, for every post; received: distinct
  // people who acked each post's current version.
  double ack_share() const {
    auto expected = s.audience.size() * s.guidance.size();
    if (expected == 0) return 0;
    std::set<std::pair<std::string, std::string>> current;
    for (auto& a : s.acks) {
      auto it = s.guidance_index.find(a.guidance);
      if (it != s.guidance_index.end() && s.guidance[it->second].current == a.version)
        current.emplace(a.guidance, a.user);
    }
    return static_cast<double>(current.size()) / static_cast<double>(expected);
  }

  report_drill drill(const report& r, const report_inputs& in) const {
    report_drill d;
    auto claim_s =
        r.time_to_claim.count ? static_cast<double>(r.time_to_claim.median_ms) / 1000 : -1;
    d.targets.push_back({"first_claim_s", static_cast<double>(in.drill.first_claim.count()),
                         claim_s,
                         r.time_to_claim.count > 0 &&
                             r.time_to_claim.median_ms <= in.drill.first_claim.count() * 1000});
    std::uint64_t answered = 0;
    for (auto& [id, t] : s.alerts) answered += t.answered_before_escalation;
    double share =
        s.alerts.empty() ? 0 : static_cast<double>(answered) / static_cast<double>(s.alerts.size());
    d.targets.push_back({"answered_share", in.drill.answered_share, share,
                         !s.alerts.empty() && share >= in.drill.answered_share});
    double acks = ack_share();
    d.targets.push_back({"ack_share", in.drill.ack_share, acks,
                         !s.guidance.empty() && !s.audience.empty() && acks >= in.drill.ack_share});
    auto met = std::count_if(d.targets.begin(), d.targets.end(), [](auto& t) { return t.met; });
    d.score = static_cast<double>(met) / static_cast<double>(d.targets.size());
    return d;
  }
};
}  // namespace detail

report report_builder::build(const report_inputs& in) const {
  const auto& s = *s_;
  report r;
  r.channel = s.channel.channel.empty() ? s.frame_channel : s.channel.channel;
  r.title = s.channel.title;
  r.sev = s.channel.sev;
  r.status = s.channel.status;
  r.drill = s.drill;
  r.generated_at = in.now_ms;
  r.first_offset = s.first_offset;
  r.last_offset = s.last_offset;
  r.from = s.from;
  r.to = s.to;
  r.events = s.events;
  r.volume = volume_of(s.arrivals, s.spikes, s.from, s.to);
  r.time_to_claim = summarize(s.to_claim);
  r.time_to_respond = summarize(s.to_respond);
  r.escalations = s.esc;
  r.escalations.alerts = s.escalated.size();
  for (auto& [id, t] : s.alerts) {
    r.alerts.push_back(row_of(t));
    r.duplicates.triggers += t.rec.a.count;
    r.duplicates.alerts_with_duplicates += t.rec.a.count > 1;
  }
  r.duplicates.alerts = s.alerts.size();
  r.duplicates.folded =
      r.duplicates.triggers - std::min(r.duplicates.triggers, r.duplicates.alerts);
  std::sort(r.alerts.begin(), r.alerts.end(), [](const auto& a, const auto& b) {
    return a.first_seen != b.first_seen ? a.first_seen < b.first_seen : a.id < b.id;
  });
  detail::report_assembly parts{s};
  for (auto& t : s.guidance) r.guidance.push_back(parts.guidance_of(t));
  r.approvals = parts.approvals();
  r.people = parts.people();
  if (r.drill) r.drill_scoring = parts.drill(r, in);
  return r;
}

report_builder::report_builder() : s_(std::make_unique<state>()) {}
report_builder::~report_builder() = default;
report_builder::report_builder(report_builder&&) noexcept = default;
report_builder& report_builder::operator=(report_builder&&) noexcept = default;

std::uint64_t report_builder::events() const {
  return s_->events;
}

bool report_builder::add(std::string_view line) {
  thread_local dom::parser parser;
  dom::element ev, data;
  std::string_view name;
  if (parser.parse(line.data(), line.size()).get(ev) || ev["event"].get_string().get(name))
    return false;
  s_->frame(ev);
  if (ev["data"].get(data) || !data.is_object()) return false;
  return s_->event(name, ev, data);
}

}  // namespace muster::server::crisis
