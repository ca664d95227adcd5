#include "server/session/client_session.hpp"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include <cstdio>

#include "server/command_table.hpp"
#include "server/crisis/keys.hpp"
#include "server/node.hpp"
#include "server/ws_framing.hpp"

namespace muster::server {

using protocol::errc;
using protocol::json_writer;

namespace {
std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}
}  // namespace

client_session::client_session(node& n, io_thread& t, client_link& link)
    : node_(n),
      thread_(t),
      link_(link),
      recovery_limits_{n.cfg().history_size, n.cfg().max_queue_bytes},
      publish_limit_(n.cfg().publish_rate, n.cfg().publish_burst),
      command_limit_(n.cfg().command_rate, n.cfg().command_burst) {}

template <class Fn>
void client_session::back_here(Fn&& fn) {
  net::dispatch(thread_.ioc, [this, keep = link_.hold(), fn = std::forward<Fn>(fn)]() mutable {
    if (link_.open()) fn();
  });
}

void client_session::start(std::optional<auth::identity> who) {
  if (who) {
    actor_.id = std::move(*who);
    authenticated_ = true;
  }
  client_id_ = node_.id() + "-" + std::to_string(thread_.index) + "-" +
               std::to_string(++thread_.next_client);
  actor_.client = client_id_;
}

void client_session::handle(std::string_view frame) {
  spdlog::trace("session {} <- {}", client_id_, frame);
  node_.stats().add(counter::messages_in);
  protocol::command cmd;
  protocol::decode_failure failure;
  bool decoded = thread_.decoder.decode(frame, cmd, failure);
  // Every frame counts, malformed ones too: a flood of garbage is still a flood.
  if (!command_limit_.try_take())
    return reply_error(decoded ? std::optional<std::uint64_t>(cmd.id) : failure.id,
                       errc::rate_limited,
                       "too many commands; retry after " +
                           std::to_string(command_limit_.retry_after_ms()) + " ms");
  if (!decoded) return reply_error(failure.id, failure.code, failure.message);
  const auto& row = row_of(*cmd.spec);
  if (!connected_ && !row.before_connect)
    return reply_error(cmd.id, errc::not_connected, "send connect first");
  if (auto refusal = refuse(row, cmd, actor_))
    return reply_error(cmd.id, refusal->code, refusal->message);
  if (row.on_session) return (this->*row.on_session)(cmd);
  run_crisis(cmd);
}

namespace {
// channel.list's `watch`: none when absent or not a boolean (the handler reports the latter).
std::optional<bool> watch_flag(const protocol::command& cmd) {
  if (cmd.op() != "channel.list") return std::nullopt;
  thread_local simdjson::ondemand::parser parser;
  simdjson::padded_string frame(cmd.frame);
  simdjson::ondemand::document doc;
  bool on = false;
  if (parser.iterate(frame).get(doc) || doc["watch"].get_bool().get(on)) return std::nullopt;
  return on;
}
}  // namespace

void client_session::run_crisis(protocol::command& cmd) {
  // Watching from before the list is read: no change falls between the list and the feed.
  auto watch = watch_flag(cmd);
  bool was_watching = watching_channels_;
  if (watch && *watch) watch_channels(true);
  server::run_crisis(
      row_of(*cmd.spec), node_.crisis().ctx(), cmd, actor_,
      [this, keep = link_.hold(), id = cmd.id, watch, was_watching](crisis::result r) {
        back_here([this, id, watch, was_watching, r = std::move(r)] {
          if (watch) watch_channels(r.ok ? *watch : was_watching);
          if (!r.ok) return reply_error(id, r.code, r.message, r.extra);
          reply(id, r.json);
        });
      });
}

void client_session::watch_channels(bool on) {
  if (on == watching_channels_) return;
  watching_channels_ = on;
  auto feed = crisis::keys::channel_feed;
  if (on) {
    if (thread_.registry.add(feed, this)) node_.attach(feed, thread_.index);
    return;
  }
  // Deferred: this may run inside the registry's delivery loop.
  net::post(thread_.ioc, [this, keep = link_.hold(), feed] {
    if (thread_.registry.remove(feed, this)) node_.detach(feed, thread_.index);
  });
}

void client_session::on_channel_feed(const channel_event& ev) {
  if (!watching_channels_ || !ev.frame) return;
  if (!actor_.id.channels.empty()) {
    // The frame is a WebSocket text frame: the event's JSON follows the header.
    std::string_view frame(*ev.frame);
    thread_local simdjson::ondemand::parser parser;
    simdjson::padded_string json(frame.substr(std::min(frame.size(), ws::header_size(frame))));
    simdjson::ondemand::document doc;
    std::string_view about;
    if (parser.iterate(json).get(doc) ||
        doc.at_pointer("/data/channel/channel").get_string().get(about) ||
        !actor_.id.may_access(about))
      return;
  }
  link_.send(ev.frame, false);
}

void client_session::binary_message() {
  if (command_limit_.try_take())
    reply_error(std::nullopt, errc::binary_not_supported,
                "binary frames are not supported; send JSON text frames");
}

void client_session::check_expiry() {
  if (!authenticated_ || !link_.open()) return;
  bool revoked = node_.auth().revoked(actor_.id);
  if (!revoked && !node_.auth().expired(actor_.id)) return;
  // A session lives no longer than its token: the client reconnects with a fresh one.
  node_.stats().add(counter::auth_failures);
  link_.close(protocol::close_code::unauthorized, revoked ? "token revoked" : "token expired",
              true);
}

void client_session::connect(protocol::command& cmd) {
  if (connected_) return reply_error(cmd.id, errc::already_connected, "already connected");
  const auto& auth = node_.auth();
  // A ?token= verified at the upgrade may have been revoked since (the sweep missed it).
  if (authenticated_ && cmd.token.empty() && auth.revoked(actor_.id)) {
    reply_error(cmd.id, errc::unauthorized, "token refused: token has been revoked");
    return link_.close(protocol::close_code::unauthorized, "token revoked", true);
  }
  if (auth.enabled() && (!cmd.token.empty() || !authenticated_)) {
    auth::identity who;
    if (auto ec = auth.verify(cmd.token, who)) {
      reply_error(cmd.id, errc::unauthorized,
                  cmd.token.empty() ? "a token is required: connect with \"token\" or ?token="
                                    : "token refused: " + ec.message());
      return link_.close(protocol::close_code::unauthorized, "unauthorized", true);
    }
    actor_.id = std::move(who);
    authenticated_ = true;
  }
  // Without auth everyone is an admin known by the name they give.
  if (!auth.enabled())
    actor_.id = auth::authenticator::anonymous_admin(cmd.name.empty() ? client_id_ : cmd.name);
  connected_ = true;
  node_.crisis().seen(actor_);
  const auto& cfg = node_.cfg();
  json_writer w;
  w.begin_object().field("client", client_id_).field("user", actor_.id.subject);
  w.field("name", actor_.id.name).field("role", auth::role_name(actor_.id.role));
  w.field("node", node_.id()).field("version", MUSTER_VERSION);
  w.key("limits").begin_object().field("max_message_bytes", std::uint64_t{cfg.max_message_bytes});
  w.field("max_subscriptions", std::uint64_t{cfg.max_subscriptions});
  w.raw_field("publish_rate", format_number(cfg.publish_rate));
  w.raw_field("publish_burst", format_number(cfg.publish_burst));
  reply(cmd.id, w.end_object().end_object().str());
}

void client_session::ping(protocol::command& cmd) {
  reply(cmd.id, "{}");
}

void client_session::refresh(protocol::command& cmd) {
  const auto& auth = node_.auth();
  if (!auth.enabled())
    return reply_error(cmd.id, errc::bad_request, "authentication is disabled: nothing to refresh");
  if (cmd.token.empty()) return reply_error(cmd.id, errc::bad_request, "token is required");
  auth::identity who;
  // A refused refresh leaves the connection as it was: its current token still counts.
  if (auto ec = auth.verify(cmd.token, who))
    return reply_error(cmd.id, errc::unauthorized, "token refused: " + ec.message());
  if (who.subject != actor_.id.subject)
    return reply_error(
        cmd.id, errc::forbidden,
        "the new token is for another user: refresh keeps the user " + actor_.id.subject);
  for (const auto& s : subs_)
    if (!who.may_access(s.channel))
      return reply_error(
          cmd.id, errc::forbidden,
          "the new token does not allow channel " + s.channel + ": unsubscribe from it first");
  actor_.id = std::move(who);
  node_.crisis().seen(actor_);
  json_writer w;
  w.begin_object().field("user", actor_.id.subject).field("name", actor_.id.name);
  w.field("role", auth::role_name(actor_.id.role)).key("expires_at");
  if (actor_.id.expires_at)
    w.int64(*actor_.id.expires_at);
  else
    w.null();
  reply(cmd.id, w.end_object().str());
}

client_session::subscription* client_session::find(std::string_view channel) {
  for (auto& s : subs_)
    if (s.channel == channel) return &s;
  return nullptr;
}

void client_session::subscribe(protocol::command& cmd) {
  if (find(cmd.channel))
    return reply_error(cmd.id, errc::already_subscribed, "already subscribed to " + cmd.channel);
  const auto& cfg = node_.cfg();
  if (subs_.size() >= cfg.max_subscriptions)
    return reply_error(
        cmd.id, errc::too_many_subscriptions,
        "at most " + std::to_string(cfg.max_subscriptions) + " subscriptions per connection");
  subs_.push_back(
      {cmd.channel, ++next_serial_, cmd.id, cmd.join_leave, session::recovery(recovery_limits_)});
  // Registered before reading history: anything published from here on is buffered, anything
  // before is in history, and the merge drops what is in both.
  if (thread_.registry.add(cmd.channel, this, cmd.join_leave))
    node_.attach(cmd.channel, thread_.index);
  node_.eng().presence_join(cmd.channel, {client_id_, actor_.id.name, actor_.id.subject});
  node_.crisis().joined(cmd.channel, actor_);
  session::actions todo;
  subs_.back().fsm.start(cmd.recover, todo);
  run(subs_.back(), todo);
}

void client_session::on_event(std::string_view channel, const channel_event& ev) {
  if (channel == crisis::keys::channel_feed) return on_channel_feed(ev);
  subscription* sub = find(channel);
  if (!sub) return;
  session::actions todo;
  sub->fsm.on_live(ev, todo);
  run(*sub, todo);
}

// Carries out what the subscription's state machine asked for.
void client_session::run(subscription& sub, session::actions& todo) {
  for (auto& a : todo) {
    switch (a.kind) {
      case session::action::reply_subscribed: {
        json_writer w;
        w.begin_object().field("channel", sub.channel).field("recovered", a.recovered);
        w.field("offset", a.position.offset).field("epoch", a.position.epoch);
        if (a.recovered) w.field("missed", std::uint64_t{a.missed});
        reply(sub.command_id, w.end_object().str());
        break;
      }
      case session::action::send_replay:
        send_json(*a.frame);
        break;
      case session::action::send_live:
        link_.send(a.frame, false);
        break;
      case session::action::send_fill:
        link_.send(std::make_shared<const std::string>(ws::frame(ws::opcode::text, *a.frame)),
                   false);
        break;
      case session::action::read_history:
        read_history(sub, a);
        break;
      case session::action::end: {
        if (a.reason == "recovery_overflow")
          node_.stats().add(counter::recovery_buffer_overflows);
        else
          spdlog::info("session {}: gap on {} cannot be recovered", client_id_, sub.channel);
        auto channel = sub.channel;
        drop(channel);  // `sub` is gone from here on
        return send_json(protocol::encode_unsubscribed_event(channel, a.reason));
      }
      case session::action::fail: {
        auto id = sub.command_id;
        drop(std::string(sub.channel));
        return reply_error(id, errc::unavailable, "cannot read channel state: " + a.ec.message());
      }
    }
  }
}

void client_session::read_history(const subscription& sub, const session::action& a) {
  if (a.resync) node_.stats().add(counter::resyncs);
  node_.eng().history(sub.channel, a.query,
                      [this, keep = link_.hold(), channel = sub.channel, serial = sub.serial,
                       id = sub.command_id, a](std::error_code ec, history_result h) {
                        back_here([this, channel, serial, id, a, ec, h = std::move(h)] {
                          on_history(channel, serial, id, a, ec, h);
                        });
                      });
}

void client_session::on_history(const std::string& channel, std::uint64_t serial,
                                std::uint64_t command_id, const session::action& a,
                                std::error_code ec, const history_result& h) {
  subscription* sub = find(channel);
  if (!sub || sub->serial != serial) {
    if (!a.resync)
      reply_error(command_id, errc::not_subscribed,
                  "the subscription to " + channel + " was cancelled before it completed");
    return;
  }
  session::actions todo;
  sub->fsm.on_history(a.read, ec, h, todo);
  run(*sub, todo);
}

void client_session::drop(std::string_view channel) {
  auto it = std::find_if(subs_.begin(), subs_.end(),
                         [&](const subscription& s) { return s.channel == channel; });
  if (it == subs_.end()) return;
  std::string ch = std::move(it->channel);
  bool presence = it->presence_events;
  subs_.erase(it);
  // Deferred: this may run inside the registry's delivery loop.
  net::post(thread_.ioc, [this, keep = link_.hold(), ch = std::move(ch), presence] {
    if (thread_.registry.remove(ch, this, presence)) node_.detach(ch, thread_.index);
    node_.eng().presence_leave(ch, {client_id_, actor_.id.name, actor_.id.subject});
    node_.crisis().left(ch, actor_);
  });
}

void client_session::release() {
  if (connected_) node_.crisis().disconnected(actor_);
  for (auto& s : subs_) {
    if (thread_.registry.remove(s.channel, this, s.presence_events))
      node_.detach(s.channel, thread_.index);
    node_.eng().presence_leave(s.channel, {client_id_, actor_.id.name, actor_.id.subject});
  }
  subs_.clear();
  if (watching_channels_ && thread_.registry.remove(crisis::keys::channel_feed, this))
    node_.detach(crisis::keys::channel_feed, thread_.index);
  watching_channels_ = false;
}

void client_session::unsubscribe(protocol::command& cmd) {
  if (!find(cmd.channel))
    return reply_error(cmd.id, errc::not_subscribed, "not subscribed to " + cmd.channel);
  drop(cmd.channel);
  reply(cmd.id, "{}");
}

void client_session::publish(protocol::command& cmd) {
  if (!publish_limit_.try_take())
    return reply_error(cmd.id, errc::rate_limited,
                       "publish rate limit exceeded; retry after " +
                           std::to_string(publish_limit_.retry_after_ms()) + " ms");
  node_.stats().add(counter::publications);
  node_.eng().publish(
      cmd.channel, std::move(cmd.data), {client_id_, actor_.id.name}, cmd.idempotency_key,
      [this, keep = link_.hold(), id = cmd.id](std::error_code ec, protocol::stream_position pos) {
        back_here([this, id, ec, pos = std::move(pos)] {
          // Sent but not confirmed: the client must not take it for "not published".
          if (ec)
            return reply_error(id, outcome_unknown(ec) ? errc::outcome_unknown : errc::unavailable,
                               "publish failed: " + ec.message());
          json_writer w;
          w.begin_object().field("offset", pos.offset).field("epoch", pos.epoch).end_object();
          reply(id, w.str());
        });
      });
}

void client_session::history(protocol::command& cmd) {
  history_query q{cmd.since, cmd.limit.value_or(protocol::default_history_limit)};
  node_.eng().history(cmd.channel, q,
                      [this, keep = link_.hold(), id = cmd.id, channel = cmd.channel](
                          std::error_code ec, history_result h) {
                        back_here([this, id, channel, ec, h = std::move(h)] {
                          if (ec)
                            return reply_error(id, errc::unavailable,
                                               "history failed: " + ec.message());
                          std::size_t size = 128;
                          for (const auto& p : h.publications) size += p.frame->size() + 1;
                          std::string out;
                          out.reserve(size);
                          json_writer w(out);
                          w.begin_object().field("channel", channel).field("offset", h.top.offset);
                          w.field("epoch", h.top.epoch).field("first_offset", h.first_offset);
                          w.key("publications").begin_array();
                          for (const auto& p : h.publications) w.raw(*p.frame);
                          w.end_array().end_object();
                          reply(id, out);
                        });
                      });
}

void client_session::presence(protocol::command& cmd) {
  node_.eng().presence(cmd.channel, [this, keep = link_.hold(), id = cmd.id, channel = cmd.channel](
                                        std::error_code ec, std::vector<client_info> who) {
    back_here([this, id, channel, ec, who = std::move(who)] {
      if (ec) return reply_error(id, errc::unavailable, "presence failed: " + ec.message());
      json_writer w;
      w.begin_object().field("channel", channel).key("clients").begin_array();
      for (const auto& c : who) {
        w.begin_object().field("client", c.client).field("name", c.name);
        w.field("user", c.user).end_object();
      }
      reply(id, w.end_array().end_object().str());
    });
  });
}

void client_session::reply(std::uint64_t id, std::string_view result_json) {
  send_json(protocol::encode_reply(id, result_json));
}

void client_session::reply_error(std::optional<std::uint64_t> id, errc code,
                                 std::string_view message, std::string_view extra_fields) {
  node_.stats().error(code);
  send_json(protocol::encode_error(id, code, message, extra_fields));
}

void client_session::send_json(std::string_view json) {
  link_.send(std::make_shared<const std::string>(ws::frame(ws::opcode::text, json)), true);
}

}  // namespace muster::server
