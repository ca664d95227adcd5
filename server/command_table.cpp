#include "server/command_table.hpp"

#include <array>

#include "server/crisis/activity.hpp"
#include "server/crisis/alerts.hpp"
#include "server/crisis/approvals.hpp"
#include "server/crisis/audience.hpp"
#include "server/crisis/channels.hpp"
#include "server/crisis/guidance.hpp"
#include "server/crisis/ingestion.hpp"
#include "server/crisis/people.hpp"
#include "server/crisis/revocations.hpp"
#include "server/crisis/service.hpp"
#include "server/crisis/stats.hpp"
#include "server/crisis/templates.hpp"
#include "server/session/client_session.hpp"

namespace muster::server {

using auth::everyone, auth::people, auth::leads, auth::pushers, auth::admins;
using protocol::channel_use;
using protocol::errc;
using protocol::op_spec;
using cs = client_session;
namespace c = crisis;

namespace {

// A v1 op run by the session.
constexpr command_row session_op(op_spec spec, auth::role_set roles,
                                 void (client_session::*handler)(protocol::command&),
                                 bool before_connect = false) {
  return {spec, roles, handler, nullptr, before_connect};
}

// A crisis op: its further fields are read from the frame by its handler.
constexpr command_row crisis_op(std::string_view name, channel_use ch, auth::role_set roles,
                                c::handler handler, protocol::uint_range limit = {}) {
  return {{.name = name, .channel = ch, .limit = limit, .keeps_frame = true},
          roles,
          nullptr,
          handler,
          false};
}

constexpr auto cr = channel_use::crisis;

const std::array rows{
    session_op({.name = "connect", .max_name = protocol::max_name_length}, everyone, &cs::connect,
               true),
    session_op({.name = "ping"}, everyone, &cs::ping, true),
    session_op({.name = "refresh"}, everyone, &cs::refresh),
    session_op({.name = "subscribe", .channel = channel_use::required}, everyone, &cs::subscribe),
    session_op({.name = "unsubscribe", .channel = channel_use::required}, everyone,
               &cs::unsubscribe),
    session_op({.name = "publish", .channel = channel_use::required, .needs_data = true}, people,
               &cs::publish),
    session_op({.name = "history", .channel = channel_use::required, .limit = {1, 1000}}, everyone,
               &cs::history),
    session_op({.name = "presence", .channel = channel_use::required}, everyone, &cs::presence),
    crisis_op("channel.create", cr, leads, c::channels::create),
    crisis_op("channel.update", cr, leads, c::channels::update),
    crisis_op("channel.list", channel_use::crisis_unused, everyone, c::channels::list),
    crisis_op("channel.get", cr, everyone, c::channels::get),
    crisis_op("alert.push", channel_use::crisis_optional, pushers, c::ingestion::push),
    crisis_op("alert.claim", cr, people, c::alerts::act),
    crisis_op("alert.release", cr, people, c::alerts::act),
    crisis_op("alert.assign", cr, leads, c::alerts::act),
    crisis_op("alert.respond", cr, people, c::alerts::act),
    crisis_op("alert.resolve", cr, people, c::alerts::act),
    crisis_op("alert.dismiss", cr, leads, c::alerts::act),
    crisis_op("alert.get", cr, everyone, c::alerts::get),
    crisis_op("alert.list", cr, everyone, c::alerts::list, {1, 10000}),
    crisis_op("alert.note", cr, people, c::alerts::note),
    crisis_op("alert.propose", cr, people, c::approvals::propose),
    crisis_op("alert.approve", cr, leads, c::approvals::decide),
    crisis_op("alert.reject", cr, leads, c::approvals::decide),
    crisis_op("approval.list", cr, leads, c::approvals::list),
    crisis_op("alert.view", cr, people, c::activity::signal),
    crisis_op("alert.draft", cr, people, c::activity::signal),
    crisis_op("channel.members", cr, leads, c::people::members),
    crisis_op("token.revoke", channel_use::crisis_unused, admins, c::revocations::revoke),
    crisis_op("people.list", channel_use::crisis_unused, leads, c::people::list, {1, 10000}),
    crisis_op("guidance.post", channel_use::crisis_or_all, leads, c::guidance::post),
    crisis_op("guidance.revise", cr, leads, c::guidance::revise),
    crisis_op("guidance.ack", cr, people, c::audience::ack),
    crisis_op("guidance.read", cr, people, c::audience::read_receipt),
    crisis_op("guidance.status", cr, leads, c::audience::status),
    crisis_op("guidance.list", cr, everyone, c::guidance::list),
    crisis_op("template.put", cr, leads, c::templates::put),
    crisis_op("template.delete", cr, leads, c::templates::remove),
    crisis_op("template.list", cr, people, c::templates::list),
    crisis_op("stats", channel_use::crisis_optional, leads, c::stats::command),
};

const std::array endpoints{
    http_endpoint{"http.alerts", "POST /api/v1/alerts", "push alerts", pushers},
    http_endpoint{"http.channels", "GET /api/v1/channels", "list channels", everyone},
    http_endpoint{"http.stats", "GET /api/v1/stats", "read stats", leads},
    http_endpoint{"http.timeline", "GET /api/v1/channels/{channel}/timeline", "export timelines",
                  leads},
    http_endpoint{"http.report", "GET /api/v1/channels/{channel}/report", "read reports", leads},
};

crisis::result forbidden(std::string message) {
  return crisis::result::failure(errc::forbidden, std::move(message));
}

// The channel rules of crisis commands (PROTOCOL.md 13.1 step 3): the channel, or a refusal.
std::optional<crisis::result> crisis_channel(const command_row& row, const protocol::command& cmd,
                                             const crisis::actor& who) {
  auto use = row.spec.channel;
  if (use == channel_use::none || use == channel_use::crisis_unused) return std::nullopt;
  if (use == channel_use::crisis_optional && !cmd.has_channel) return std::nullopt;
  if (use == channel_use::crisis_or_all && cmd.channel == "*") return std::nullopt;
  auto bad = [](std::string m) { return crisis::result::failure(errc::bad_request, std::move(m)); };
  if (!cmd.has_channel) return bad("channel is required");
  if (cmd.channel.empty()) return bad("channel must not be empty");
  if (!protocol::valid_channel_name(cmd.channel)) return bad("channel is not a valid channel name");
  if (!who.id.may_access(cmd.channel))
    return forbidden("channel is not in the token's channel allow-list");
  return std::nullopt;
}

}  // namespace

std::span<const command_row> command_table() {
  return rows;
}

std::span<const http_endpoint> http_endpoints() {
  return endpoints;
}

const command_row* find_command(std::string_view name) {
  for (const auto& r : rows)
    if (r.spec.name == name) return &r;
  return nullptr;
}

const protocol::op_spec* lookup_op(std::string_view name) {
  const auto* row = find_command(name);
  return row ? &row->spec : nullptr;
}

const command_row& row_of(const protocol::op_spec& spec) {
  for (const auto& r : rows)
    if (&r.spec == &spec) return r;
  return *find_command(spec.name);  // a copy of a spec: found by name
}

const http_endpoint& endpoint(std::string_view name) {
  for (const auto& e : endpoints)
    if (e.name == name) return e;
  return endpoints.front();  // unreachable with the names used in this program
}

bool permitted(auth::role r, std::string_view op) {
  if (const auto* row = find_command(op)) return row->roles.has(r);
  for (const auto& e : endpoints)
    if (e.name == op) return e.roles.has(r);
  return false;
}

std::optional<crisis::result> refuse(const command_row& row, const protocol::command& cmd,
                                     const crisis::actor& who) {
  if (!row.roles.has(who.id.role))
    return forbidden("role " + std::string(auth::role_name(who.id.role)) + " may not " +
                     std::string(row.spec.name));
  if (row.spec.channel == channel_use::required && !who.id.may_access(cmd.channel))
    return forbidden("channel " + cmd.channel + " is not in the token's channel allow-list");
  return std::nullopt;
}

void run_crisis(const command_row& row, crisis::context& ctx, const protocol::command& cmd,
                const crisis::actor& who, crisis::done_fn done) {
  if (auto refusal = crisis_channel(row, cmd, who)) return done(std::move(*refusal));
  crisis::fields f(cmd.frame);
  auto channel = row.spec.channel == channel_use::crisis_unused ? std::string() : cmd.channel;
  crisis::request req{cmd, f, who, std::move(channel)};
  row.on_crisis(ctx, req, std::move(done));
}

void run_crisis_frame(crisis::service& service, std::string_view frame, const crisis::actor& who,
                      crisis::done_fn done) {
  thread_local protocol::decoder decoder(&lookup_op);
  protocol::command cmd;
  protocol::decode_failure failure;
  if (!decoder.decode(frame, cmd, failure))
    return done(crisis::result::failure(failure.code, failure.message));
  const auto& row = row_of(*cmd.spec);
  if (!row.on_crisis)
    return done(crisis::result::failure(errc::unknown_op, "not a crisis command"));
  if (auto refusal = refuse(row, cmd, who)) return done(std::move(*refusal));
  run_crisis(row, service.ctx(), cmd, who, std::move(done));
}

}  // namespace muster::server
