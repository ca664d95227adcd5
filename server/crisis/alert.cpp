#include "server/crisis/alert.hpp"

#include <algorithm>
#include <cctype>
#include <random>

namespace muster::server::crisis {

std::string new_id(char prefix, time_point now) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string id(1, prefix);
  id += '-';
  // Time first: documents created together sit side by side in an ordered store (one page
  // written per group of alerts, not one per alert); 28 random bits keep ids unique.
  auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(0, to_ms(now)));
  for (int i = 10; i >= 0; --i) id.push_back(hex[(ms >> (4 * i)) & 15]);
  auto v = rng();
  for (int i = 0; i < 7; ++i, v >>= 4) id.push_back(hex[v & 15]);
  return id;
}

std::string_view severity_name(severity s) noexcept {
  switch (s) {
    case severity::sev1:
      return "sev1";
    case severity::sev2:
      return "sev2";
    case severity::sev3:
      return "sev3";
    case severity::sev4:
      return "sev4";
  }
  return "sev3";
}

std::optional<severity> parse_severity(std::string_view s) noexcept {
  for (severity v : {severity::sev1, severity::sev2, severity::sev3, severity::sev4})
    if (severity_name(v) == s) return v;
  return std::nullopt;
}

std::string_view status_name(alert_status s) noexcept {
  switch (s) {
    case alert_status::open:
      return "new";
    case alert_status::claimed:
      return "claimed";
    case alert_status::responded:
      return "responded";
    case alert_status::resolved:
      return "resolved";
    case alert_status::dismissed:
      return "dismissed";
  }
  return "new";
}

std::string_view outcome_name(outcome o) noexcept {
  switch (o) {
    case outcome::ok:
      return "ok";
    case outcome::already_claimed:
      return "already_claimed";
    case outcome::not_claimed:
      return "not_claimed";
    case outcome::invalid_state:
      return "invalid_state";
    case outcome::forbidden:
      return "forbidden";
  }
  return "invalid_state";
}

namespace {
std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
bool finished(alert_status s) {
  return s == alert_status::resolved || s == alert_status::dismissed;
}
}  // namespace

bool is_web_url(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return false;
  auto scheme = lower(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") return false;
  auto rest = url.substr(scheme_end + 3);
  if (rest.empty() || rest.front() == '/' || rest.front() == '?' || rest.front() == '#')
    return false;
  return std::none_of(rest.begin(), rest.end(),
                      [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}

namespace {
void hold(alert& a, const std::string& who, time_point now, std::chrono::seconds ttl) {
  a.status = alert_status::claimed;
  a.holder = who;
  a.claimed_at = now;
  a.claim_expires_at = ttl.count() > 0 ? now + ttl : time_point{};
}
void unhold(alert& a) {
  a.status = alert_status::open;
  a.holder.clear();
  a.claimed_at = {};
  a.claim_expires_at = {};
}
}  // namespace

outcome claim(alert& a, const std::string& who, time_point now, std::chrono::seconds ttl) {
  if (finished(a.status)) return outcome::invalid_state;
  if (a.status != alert_status::open)
    return a.holder == who ? outcome::ok : outcome::already_claimed;
  hold(a, who, now, ttl);
  return outcome::ok;
}

outcome release(alert& a, const std::string& who, bool by_lead) {
  if (a.status != alert_status::claimed)
    return a.status == alert_status::open ? outcome::not_claimed : outcome::invalid_state;
  if (a.holder != who && !by_lead) return outcome::forbidden;
  unhold(a);
  return outcome::ok;
}

outcome assign(alert& a, const std::string& to, time_point now, std::chrono::seconds ttl) {
  if (finished(a.status) || a.status == alert_status::responded) return outcome::invalid_state;
  if (a.status == alert_status::claimed && a.holder != to) ++a.takeovers;
  hold(a, to, now, ttl);
  return outcome::ok;
}

bool expire_claim(alert& a, time_point now) {
  if (a.status != alert_status::claimed || a.claim_expires_at == time_point{} ||
      now < a.claim_expires_at)
    return false;
  unhold(a);
  ++a.expired_claims;
  return true;
}

outcome respond(alert& a, const std::string& who, std::string reply_url, std::string reply_text,
                bool by_lead, time_point now) {
  if (a.status == alert_status::open) return outcome::not_claimed;
  if (a.status != alert_status::claimed) return outcome::invalid_state;
  if (a.holder != who && !by_lead) return outcome::forbidden;
  a.status = alert_status::responded;
  a.claim_expires_at = {};  // answered: the claim has done its job
  a.reply_url = std::move(reply_url);
  a.reply_text = std::move(reply_text);
  a.responded_at = now;
  return outcome::ok;
}

outcome resolve(alert& a, const std::string& who, bool by_lead) {
  if (finished(a.status)) return outcome::invalid_state;
  if (!by_lead && a.holder != who) return outcome::forbidden;
  a.status = alert_status::resolved;
  a.claim_expires_at = {};
  return outcome::ok;
}

outcome dismiss(alert& a, bool by_lead) {
  if (!by_lead) return outcome::forbidden;
  if (finished(a.status)) return outcome::invalid_state;
  a.status = alert_status::dismissed;
  a.claim_expires_at = {};
  return outcome::ok;
}

bool fold_trigger(alert& a, const alert_input& again, time_point now, const viral_policy& viral) {
  auto before = a.input.reach;
  bool jumped = viral.factor > 0 && before > 0 && again.reach >= viral.min_reach &&
                static_cast<double>(again.reach) >= viral.factor * static_cast<double>(before);
  ++a.count;
  a.last_seen = now;
  a.input.reach = std::max(a.input.reach, again.reach);
  a.input.engagement = std::max(a.input.engagement, again.engagement);
  // The first words stay; a repeat that says something else is kept beside them, bounded.
  const auto& t = again.text;
  if (a.input.text.empty()) {
    a.input.text = t;
  } else if (!t.empty() && t != a.input.text &&
             std::find(a.later_texts.begin(), a.later_texts.end(), t) == a.later_texts.end()) {
    if (a.later_texts.size() == max_later_texts) a.later_texts.erase(a.later_texts.begin());
    a.later_texts.push_back(t);
  }
  auto sev = std::min(static_cast<int>(again.severity), static_cast<int>(a.input.severity));
  if (jumped) {
    ++a.reach_jumps;
    sev = std::max(static_cast<int>(severity::sev1), sev - 1);
  }
  bool rose = sev < static_cast<int>(a.input.severity);
  if (rose) a.input.severity = static_cast<severity>(sev);
  return rose;
}

std::optional<escalation_step> next_escalation(const alert& a, const escalation_policy& p) {
  if (a.status == alert_status::open && a.escalations < 1) {
    auto it = p.escalate_after.find(a.input.severity);
    if (it != p.escalate_after.end()) return escalation_step{1, a.first_seen + it->second};
  }
  if (a.status == alert_status::claimed && a.escalations < 2) {
    auto it = p.respond_within.find(a.input.severity);
    if (it != p.respond_within.end()) return escalation_step{2, a.claimed_at + it->second};
  }
  return std::nullopt;
}

std::optional<unsigned> escalation_due(const alert& a, const escalation_policy& p, time_point now) {
  auto next = next_escalation(a, p);
  if (next && now >= next->at) return next->step;
  return std::nullopt;
}

std::vector<std::string> route(const alert_input& in, const std::vector<route_rule>& rules,
                               const std::string& fallback) {
  std::vector<std::string> out;
  auto text = lower(in.text);
  for (const auto& r : rules) {
    if (!r.sources.empty() &&
        std::find(r.sources.begin(), r.sources.end(), in.source) == r.sources.end())
      continue;
    if (!r.tags.empty() && std::none_of(r.tags.begin(), r.tags.end(), [&](const std::string& t) {
          return std::find(in.tags.begin(), in.tags.end(), t) != in.tags.end();
        }))
      continue;
    if (!r.keywords.empty() &&
        std::none_of(r.keywords.begin(), r.keywords.end(), [&](const std::string& k) {
          return text.find(lower(k)) != std::string::npos;
        }))
      continue;
    if (r.min_severity && static_cast<int>(in.severity) > static_cast<int>(*r.min_severity))
      continue;
    for (const auto& c : r.channels)
      if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  }
  if (out.empty()) out.push_back(fallback);
  return out;
}

}  // namespace muster::server::crisis
