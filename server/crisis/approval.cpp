#include "server/crisis/approval.hpp"

#include <algorithm>

namespace muster::server::crisis::approval {

namespace {

proposal_record* find(alert_record& r, const std::string& id) {
  auto it = std::find_if(r.proposals.begin(), r.proposals.end(),
                         [&](const proposal_record& p) { return p.id == id; });
  return it == r.proposals.end() ? nullptr : &*it;
}

// The proposal `id` if a lead may decide on it now, else why not.
verdict decidable(alert_record& r, const std::string& id, proposal_record*& out) {
  out = find(r, id);
  if (!out) return verdict::unknown;
  if (out->state != "pending") return verdict::decided;
  if (out != pending(r)) return verdict::changed_hands;
  return verdict::ok;
}

void decide(proposal_record& p, const char* state, const person& by, std::string comment,
            std::int64_t now) {
  p.state = state;
  p.decided_by = by;
  p.decided_at = now;
  p.comment = std::move(comment);
}

}  // namespace

bool required(const channel_record& ch, severity s) {
  if (!ch.approval_required) return false;
  // sev1 is the most severe: "from sev2 up" means sev1 and sev2.
  return !ch.approval_min_severity ||
         static_cast<int>(s) <= static_cast<int>(*ch.approval_min_severity);
}

const proposal_record* latest(const alert_record& r) {
  return r.proposals.empty() ? nullptr : &r.proposals.back();
}

const proposal_record* pending(const alert_record& r) {
  const auto* p = latest(r);
  bool live =
      p && p->state == "pending" && r.a.status == alert_status::claimed && p->by.user == r.a.holder;
  return live ? p : nullptr;
}

verdict propose(alert_record& r, const person& by, draft d, std::string id, std::int64_t now) {
  if (r.a.status != alert_status::claimed) return verdict::not_claimed;
  if (r.a.holder != by.user) return verdict::not_holder;
  for (auto& p : r.proposals)
    if (p.state == "pending") p.state = "withdrawn";
  proposal_record p;
  p.id = std::move(id);
  p.text = std::move(d.text);
  p.url = std::move(d.url);
  p.template_name = std::move(d.template_name);
  p.by = by;
  p.at = now;
  if (d.from_template) {
    decide(p, "approved", server_person(), "", now);
    p.automatic = true;
  }
  r.proposals.push_back(std::move(p));
  if (r.proposals.size() > max_proposals)
    r.proposals.erase(r.proposals.begin(),
                      r.proposals.end() - static_cast<std::ptrdiff_t>(max_proposals));
  return verdict::ok;
}

verdict approve(alert_record& r, const std::string& id, const person& lead,
                std::optional<std::string> text, std::optional<std::string> url,
                std::string comment, std::int64_t now) {
  proposal_record* p = nullptr;
  if (auto v = decidable(r, id, p); v != verdict::ok) return v;
  if (text && *text != p->text) {
    p->text = std::move(*text);
    p->edited = true;
  }
  if (url && *url != p->url) {
    p->url = std::move(*url);
    p->edited = true;
  }
  decide(*p, "approved", lead, std::move(comment), now);
  return verdict::ok;
}

verdict reject(alert_record& r, const std::string& id, const person& lead, std::string comment,
               std::int64_t now) {
  proposal_record* p = nullptr;
  if (auto v = decidable(r, id, p); v != verdict::ok) return v;
  decide(*p, "rejected", lead, std::move(comment), now);
  return verdict::ok;
}

reply_check check_reply(const alert_record& r, const std::string& url, const std::string& text) {
  reply_check out;
  const auto* p = latest(r);
  const auto& id = r.a.id;
  if (!p || p->state == "withdrawn") {
    out.message = "alert " + id + " needs an approved reply first (alert.propose)";
  } else if (p->state == "pending") {
    out.message = "proposal " + p->id + " of alert " + id + " is still waiting for approval";
  } else if (p->state == "rejected") {
    out.message = "proposal " + p->id + " of alert " + id + " was rejected; propose another";
  } else if (!text.empty() && text != p->text) {
    out.message = "reply_text differs from the approved proposal " + p->id;
  } else {
    out.ok = true;
    out.text = p->text;
    out.url = url.empty() ? p->url : url;
  }
  return out;
}

void withdraw_stale(alert_record& r) {
  for (auto& p : r.proposals)
    if (p.state == "pending" && !(r.a.status == alert_status::claimed && p.by.user == r.a.holder))
      p.state = "withdrawn";
}

std::int64_t deadline(const alert_record& r, std::chrono::seconds after) {
  const auto* p = pending(r);
  if (!p || p->overdue) return 0;
  return p->at + std::chrono::duration_cast<std::chrono::milliseconds>(after).count();
}

bool mark_overdue(alert_record& r, std::int64_t now, std::chrono::seconds after) {
  auto due = deadline(r, after);
  if (due == 0 || now < due) return false;
  r.proposals.back().overdue = true;
  return true;
}

}  // namespace muster::server::crisis::approval
