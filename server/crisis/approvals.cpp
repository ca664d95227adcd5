#include "server/crisis/approvals.hpp"

#include <algorithm>
#include <memory>

#include "protocol/json_writer.hpp"
#include "server/crisis/alerts.hpp"
#include "server/crisis/approval.hpp"
#include "server/crisis/keys.hpp"
#include "server/crisis/store.hpp"

namespace muster::server::crisis::approvals {

using protocol::errc;
using protocol::json_writer;

namespace {

constexpr std::size_t max_comment = 2048;

std::string state_of(const alert_record& rec, const std::string& proposal) {
  for (const auto& p : rec.proposals)
    if (p.id == proposal) return p.state;
  return "unknown";
}

std::optional<result> refusal(approval::verdict v, const alert_record& rec,
                              const std::string& proposal) {
  const auto& id = rec.a.id;
  switch (v) {
    case approval::verdict::ok:
      return std::nullopt;
    case approval::verdict::not_claimed:
      return result::failure(errc::invalid_state,
                             rec.a.status == alert_status::open
                                 ? "alert " + id + " is not claimed"
                                 : "alert " + id + " is " + std::string(status_name(rec.a.status)));
    case approval::verdict::not_holder:
      return result::failure(errc::forbidden,
                             "only the holder of alert " + id + " may propose a reply to it");
    case approval::verdict::unknown:
      return result::failure(errc::not_found, "no proposal " + proposal + " on alert " + id);
    case approval::verdict::decided:
      return result::failure(errc::invalid_state,
                             "proposal " + proposal + " is " + state_of(rec, proposal));
    case approval::verdict::changed_hands:
      return result::failure(errc::invalid_state,
                             "alert " + id + " changed hands since proposal " + proposal);
  }
  return std::nullopt;
}

// The reply members of an approval change: the proposal it made or decided.
alerts::reply_members_fn with_proposal() {
  return [](json_writer& w, const alerts::change& c) {
    if (!c.proposal.empty()) w.raw_field("proposal", c.proposal);
  };
}

// Adds the proposal `d` to alert `id` by compare-and-set.
void add_proposal(context& ctx, const std::string& channel, const actor& who, const std::string& id,
                  approval::draft d, done_fn done) {
  auto by = person{who.id.subject, who.id.name};
  auto pid = new_id('p', ctx.clock());
  alerts::modify(
      ctx, channel, id, who,
      [&ctx, d, pid, by](alert_record& rec, alerts::change& c) -> std::optional<result> {
        auto v = approval::propose(rec, by, d, pid, ctx.now_ms());
        if (auto err = refusal(v, rec, pid)) return err;
        const auto& p = rec.proposals.back();
        c.events.emplace_back("alert.proposed");
        if (p.state == "approved") c.events.emplace_back("alert.approved");
        c.proposal = encode(p);
        return std::nullopt;
      },
      std::move(done), with_proposal());
}

}  // namespace

void channel_settings(context& ctx, const std::string& channel,
                      std::function<void(const channel_record&)> then, done_fn done) {
  ctx.st.read(
      channel, {std::string(keys::meta)}, "cannot read crisis state",
      [then](std::vector<doc> d) {
        auto meta = d[0].version > 0 ? decoded<channel_record>(d[0].value) : std::nullopt;
        then(meta ? *meta : channel_record{});
      },
      done);
}

void propose(context& ctx, request& r, done_fn done) {
  auto id = r.f.str("alert", true, 64);
  approval::draft d;
  d.text = r.f.str("text", false, max_text);
  d.url = r.f.str("url", false, max_field);
  d.template_name = r.f.str("template", false, 64);
  if (!r.f.error() && d.text.empty() && d.url.empty() && d.template_name.empty())
    r.f.fail("text", "or url or template is required");
  if (!r.f.error() && !d.url.empty() && !is_web_url(d.url))
    r.f.fail("url", "must be an http or https URL");
  if (!fields_ok(r, done)) return;
  if (d.template_name.empty())
    return add_proposal(ctx, r.channel, r.who, id, std::move(d), std::move(done));
  // A reply that is an approved template, unchanged, needs no further approval.
  ctx.st.read(
      r.channel, {keys::template_doc(d.template_name)}, "cannot read crisis state",
      [&ctx, channel = r.channel, who = r.who, id, d, done](std::vector<doc> t) mutable {
        auto tpl = t[0].version > 0 ? decoded<template_record>(t[0].value) : std::nullopt;
        if (!tpl) return done(result::failure(errc::not_found, "no template " + d.template_name));
        if (d.text.empty()) d.text = tpl->text;
        // Templates hold approved text only: a link beside it is for a lead to see.
        d.from_template = d.text == tpl->text && d.url.empty();
        add_proposal(ctx, channel, who, id, std::move(d), done);
      },
      done);
}

void decide(context& ctx, request& r, done_fn done) {
  bool approving = r.cmd.op() == "alert.approve";
  auto id = r.f.str("alert", true, 64);
  auto pid = r.f.str("proposal", true, 64);
  std::optional<std::string> text, url;
  if (approving) {
    if (r.f.has("text")) text = r.f.str("text", false, max_text);
    if (r.f.has("url")) url = r.f.str("url", false, max_field);
    if (!r.f.error() && url && !url->empty() && !is_web_url(*url))
      r.f.fail("url", "must be an http or https URL");
  }
  auto comment = r.f.str("comment", !approving, max_comment);
  if (!fields_ok(r, done)) return;
  auto lead = person{r.who.id.subject, r.who.id.name};
  alerts::modify(
      ctx, r.channel, id, r.who,
      [&ctx, approving, pid, text, url, comment, lead](alert_record& rec,
                                                       alerts::change& c) -> std::optional<result> {
        auto v = approving ? approval::approve(rec, pid, lead, text, url, comment, ctx.now_ms())
                           : approval::reject(rec, pid, lead, comment, ctx.now_ms());
        if (auto err = refusal(v, rec, pid)) return err;
        c.events.emplace_back(approving ? "alert.approved" : "alert.rejected");
        c.proposal = encode(rec.proposals.back());
        return std::nullopt;
      },
      std::move(done), with_proposal());
}

void list(context& ctx, request& r, done_fn done) {
  ctx.st.list(
      r.channel, std::string(keys::alert_prefix), "",
      [&ctx, done](std::vector<doc> all) {
        struct row {
          std::int64_t at;
          alert_record rec;
        };
        std::vector<row> rows;
        for (auto& d : all) {
          auto rec = decoded<alert_record>(d.value);
          if (rec && approval::pending(*rec)) {
            auto at = approval::pending(*rec)->at;
            rows.push_back({at, std::move(*rec)});
          }
        }
        std::sort(rows.begin(), rows.end(), [](const row& a, const row& b) { return a.at < b.at; });
        json_writer w;
        w.begin_object().key("proposals").begin_array();
        auto now = ctx.now_ms();
        for (const auto& x : rows) {
          w.begin_object().raw_field("alert", encode(x.rec));
          w.raw_field("proposal", encode(x.rec.proposals.back()));
          w.field("waiting_ms", std::max<std::int64_t>(0, now - x.at)).end_object();
        }
        done(result::success(w.end_array().end_object().take()));
      },
      done);
}

}  // namespace muster::server::crisis::approvals
