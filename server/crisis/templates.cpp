#include "server/crisis/templates.hpp"

#include "server/crisis/keys.hpp"
#include "server/crisis/records.hpp"
#include "server/crisis/store.hpp"

namespace muster::server::crisis::templates {

using protocol::errc;
using protocol::json_writer;

namespace {

// Writes (or, with no record, deletes) one template and announces it.
void change(context& ctx, request& r, const std::string& name, std::optional<template_record> rec,
            done_fn done) {
  person by{r.who.id.subject, r.who.id.name};
  std::string json = rec ? encode(*rec) : std::string();
  auto decide = [name, json, by, who = r.who.info()](const std::vector<doc>& d) {
    bool put = !json.empty();
    if (!put && d[0].version == 0)
      return plan::finish(result::failure(errc::not_found, "no template " + name));
    plan p;
    p.writes.push_back({d[0].key, d[0].version, json});
    json_writer data;
    data.begin_object().field("name", name);
    if (put) data.raw_field("template", json);
    data.raw_field("by", encode(by)).end_object();
    p.events.push_back({put ? "template.updated" : "template.deleted", data.take(), who});
    p.reply = [json, name, put](const commit_result&) {
      json_writer w;
      w.begin_object();
      if (put)
        w.raw_field("template", json);
      else
        w.field("deleted", name);
      return result::success(w.end_object().take());
    };
    return p;
  };
  ctx.st.modify(r.channel, {keys::template_doc(name)}, std::move(decide), std::move(done));
}

}  // namespace

void put(context& ctx, request& r, done_fn done) {
  template_record t;
  t.name = r.f.str("name", true, 64);
  t.title = r.f.str("title", false, 256);
  t.text = r.f.str("text", true, max_text);
  if (!fields_ok(r, done)) return;
  if (t.title.empty()) t.title = t.name;
  t.by = {r.who.id.subject, r.who.id.name};
  t.updated_at = ctx.now_ms();
  auto name = t.name;
  change(ctx, r, name, std::move(t), std::move(done));
}

void remove(context& ctx, request& r, done_fn done) {
  auto name = r.f.str("name", true, 64);
  if (!fields_ok(r, done)) return;
  change(ctx, r, name, std::nullopt, std::move(done));
}

void list(context& ctx, request& r, done_fn done) {
  ctx.st.list(
      r.channel, std::string(keys::template_prefix), "",
      [done](std::vector<doc> d) {
        json_writer w;
        w.begin_object().key("templates").begin_array();
        for (auto& x : d) w.raw(x.value);
        done(result::success(w.end_array().end_object().take()));
      },
      done);
}

}  // namespace muster::server::crisis::templates
