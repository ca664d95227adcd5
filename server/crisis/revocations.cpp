#include "server/crisis/revocations.hpp"

#include "server/crisis/records.hpp"
#include "server/crisis/store.hpp"

namespace muster::server::crisis::revocations {

using protocol::errc;
using protocol::json_writer;

void revoke(context& ctx, request& r, done_fn done) {
  auto jti = r.f.str("jti", false, 256);
  auto user = r.f.str("user", false, 256);
  auto reason = r.f.str("reason", false, 256);
  if (!fields_ok(r, done)) return;
  if (jti.empty() == user.empty())
    return done(result::failure(errc::bad_request, "give exactly one of jti and user"));
  bool by_user = !user.empty();
  const auto& id = by_user ? user : jti;
  // Issuers' clocks may run ahead: tokens issued up to the leeway after now are covered too.
  auto at = ctx.now_ms() / 1000 + ctx.opts.auth_leeway_s;
  json_writer rec;
  rec.begin_object().field("kind", by_user ? "user" : "jti").field("id", id).field("at", at);
  rec.raw_field("by", encode(person{r.who.id.subject, r.who.id.name})).field("reason", reason);
  auto json = rec.end_object().take();
  auto decide = [json, by_user, who = r.who.info()](const std::vector<doc>& d) {
    // A token id is revoked once; a user again moves the line to now (tokens issued since then
    // were revoked too late to matter: they are new).
    if (!by_user && d[0].version > 0) {
      json_writer w;
      w.begin_object().raw_field("revoked", d[0].value).field("already", true);
      return plan::finish(result::success(w.end_object().take()));
    }
    plan p;
    p.writes.push_back({d[0].key, d[0].version, json});
    p.events.push_back({"token.revoked", json, who});
    p.reply = [json](const commit_result&) {
      json_writer w;
      w.begin_object().raw_field("revoked", json).field("already", false);
      return result::success(w.end_object().take());
    };
    return p;
  };
  ctx.st.modify(std::string(channel), {(by_user ? "user:" : "jti:") + id}, std::move(decide),
                std::move(done));
}

}  // namespace muster::server::crisis::revocations
