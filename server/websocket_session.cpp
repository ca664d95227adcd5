#include "server/websocket_session.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "server/auth/permissions.hpp"
#include "server/node.hpp"

namespace muster::server {

using protocol::errc;
using tcp = net::ip::tcp;

namespace {
// A gathered write stops growing here, so one batch cannot monopolise the loop.
constexpr std::size_t max_batch_bytes = 512 * 1024;
constexpr std::size_t max_batch_frames = 4096;
constexpr auto close_grace = std::chrono::seconds(2);

void append_uint(std::string& out, std::uint64_t v) {
  out += std::to_string(v);
}
std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}
}  // namespace

websocket_session::websocket_session(tcp::socket&& socket, node& n, io_thread& t)
    : socket_(std::move(socket)),
      parser_(n.cfg().max_message_bytes),
      node_(n),
      thread_(t),
      publish_limit_(n.cfg().publish_rate, n.cfg().publish_burst),
      command_limit_(n.cfg().command_rate, n.cfg().command_burst) {}

websocket_session::~websocket_session() {
  cleanup();
}

void websocket_session::run(std::string_view leftover, std::optional<auth::identity> who) {
  if (who) {
    actor_.id = std::move(*who);
    authenticated_ = true;
  }
  next_ = thread_.sessions;
  if (next_) next_->prev_ = this;
  thread_.sessions = this;
  open_ = true;
  last_rx_ = std::chrono::steady_clock::now();
  node_.stats().connections.fetch_add(1, std::memory_order_relaxed);
  node_.stats().add(counter::connections_accepted);
  client_id_ = node_.id() + "-" + std::to_string(thread_.index) + "-" +
               std::to_string(++thread_.next_client);
  actor_.client = client_id_;
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  if (ec) return terminate("non_blocking");
  if (!leftover.empty()) {
    parser_.feed(leftover);
    process();
  }
  if (open_ && node_.stopping()) go_away();
  do_wait_read();
}

void websocket_session::do_wait_read() {
  if (reading_ || !open_ || read_paused_) return;
  reading_ = true;
  // Wait for readability rather than reading into a buffer of our own: an idle connection
  // then holds no read buffer at all (the bytes land in the thread's shared buffer).
  socket_.async_wait(
      tcp::socket::wait_read,
      [self = shared_from_this()](boost::system::error_code ec) { self->on_readable(ec); });
}

void websocket_session::on_readable(boost::system::error_code ec) {
  reading_ = false;
  if (!open_) return;
  if (ec) return terminate(ec == net::error::operation_aborted ? nullptr : "wait");
  auto& buf = thread_.read_buffer;
  std::size_t n = socket_.read_some(net::buffer(buf), ec);
  if (ec == net::error::would_block || ec == net::error::try_again) return do_wait_read();
  if (ec) return terminate(ec == net::error::eof ? nullptr : "read");
  last_rx_ = std::chrono::steady_clock::now();
  ping_outstanding_ = false;  // any traffic shows the peer is alive
  node_.stats().add(counter::bytes_in, n);
  ++thread_.activity;
  // After a framing error the stream cannot be parsed again: the rest is discarded.
  if (!parser_.failed()) {
    parser_.feed(std::string_view(buf.data(), n));
    process();
  }
  if (!open_) return;
  if (parser_.buffered() == 0) parser_.shrink();
  do_wait_read();
}

void websocket_session::process() {
  while (open_) {
    // Backpressure on commands: while a client leaves what it asked for unread, its further
    // commands wait in the parser (and then in the socket); on_write resumes.
    if (owed_bytes_ > node_.cfg().max_queue_bytes) {
      read_paused_ = true;
      return;
    }
    auto e = parser_.next();
    switch (e.kind) {
      case ws::event::need_more:
        return;
      case ws::event::message:
        if (closing_) break;  // after our close frame, data is discarded (RFC 6455 5.5.1)
        if (!e.text) {
          if (command_limit_.try_take())
            reply_error(std::nullopt, errc::binary_not_supported,
                        "binary frames are not supported; send JSON text frames");
          break;
        }
        handle(e.payload);
        break;
      case ws::event::ping:
        if (!close_queued_)
          send(std::make_shared<const std::string>(ws::frame(ws::opcode::pong, e.payload)), true);
        break;
      case ws::event::pong:
        break;
      case ws::event::close:
        close_received_ = true;
        if (close_sent_) return terminate(nullptr);  // handshake complete
        // Echo the peer's code; the TCP close follows once our frame is written.
        close_with(e.code == 1005 ? 1000 : e.code, "", false);
        return;
      case ws::event::error:
        node_.stats().add(counter::protocol_errors);
        if (e.code == ws::close_too_big) {
          node_.stats().error(errc::message_too_large);
          spdlog::info("session {}: message over {} bytes, closing with 1009", client_id_,
                       node_.cfg().max_message_bytes);
        } else {
          spdlog::info("session {}: protocol error ({}), closing with {}", client_id_, e.what,
                       e.code);
        }
        close_with(e.code, e.what, false);
        // The peer's close frame could not be recognised any more: hang up once ours is out.
        close_received_ = true;
        return;
    }
  }
}

void websocket_session::check_idle(std::chrono::steady_clock::time_point now) {
  if (!open_) return;
  auto quiet = now - last_rx_;
  auto idle = node_.cfg().idle_timeout;
  if (quiet > idle) {
    spdlog::debug("session {}: no traffic for {} ms, dropping", client_id_, idle.count());
    node_.stats().add(counter::idle_disconnects);
    return terminate(nullptr);
  }
  if (authenticated_ && actor_.id.expires_at && !closing_) {
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
    if (secs > *actor_.id.expires_at + node_.cfg().auth_leeway.count()) {
      // A session lives no longer than its token: the client reconnects with a fresh one.
      node_.stats().add(counter::auth_failures);
      return close_with(protocol::close_code::unauthorized, "token expired", true);
    }
  }
  if (quiet > idle / 2 && !ping_outstanding_ && !closing_) {
    ping_outstanding_ = true;
    send(std::make_shared<const std::string>(ws::frame(ws::opcode::ping, "")), true);
  }
}

void websocket_session::handle(std::string_view frame) {
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
  if (cmd.kind == protocol::op::ping) return reply(cmd.id, "{}");
  if (cmd.kind == protocol::op::connect) return handle_connect(cmd);
  if (!connected_) return reply_error(cmd.id, errc::not_connected, "send connect first");
  if (cmd.kind == protocol::op::crisis) return handle_crisis(cmd);
  if (!permit(cmd)) return;
  switch (cmd.kind) {
    case protocol::op::subscribe:
      return handle_subscribe(cmd);
    case protocol::op::unsubscribe:
      return handle_unsubscribe(cmd);
    case protocol::op::publish:
      return handle_publish(cmd);
    case protocol::op::history:
      return handle_history(cmd);
    case protocol::op::presence:
      return handle_presence(cmd);
    default:
      break;
  }
}

bool websocket_session::permit(const protocol::command& cmd) {
  auto op = protocol::op_name(cmd.kind);
  if (!auth::allowed(actor_.id.role, op)) {
    reply_error(
        cmd.id, errc::forbidden,
        "role " + std::string(auth::role_name(actor_.id.role)) + " may not " + std::string(op));
    return false;
  }
  if (!cmd.channel.empty() && !actor_.id.may_access(cmd.channel)) {
    reply_error(cmd.id, errc::forbidden,
                "channel " + cmd.channel + " is not in the token's channel allow-list");
    return false;
  }
  return true;
}

void websocket_session::handle_crisis(protocol::command& cmd) {
  node_.crisis().run(cmd.crisis_op, cmd.frame, actor_,
                     [self = shared_from_this(), id = cmd.id](crisis::result r) {
                       auto& ioc = self->thread_.ioc;
                       net::dispatch(ioc, [self = std::move(self), id, r = std::move(r)] {
                         if (!self->open_) return;
                         if (r.ok) return self->reply(id, r.json);
                         self->reply_error(id, r.code, r.message, r.extra);
                       });
                     });
}

void websocket_session::handle_connect(protocol::command& cmd) {
  if (connected_) return reply_error(cmd.id, errc::already_connected, "already connected");
  const auto& cfg = node_.cfg();
  if (cfg.auth_enabled && (!cmd.token.empty() || !authenticated_)) {
    auth::identity who;
    std::error_code ec = cmd.token.empty()
                             ? make_error_code(auth::jwt_errc::malformed)
                             : auth::verify(cmd.token, cfg.auth_secret, who,
                                            std::chrono::system_clock::now(), cfg.auth_leeway);
    if (ec) {
      node_.stats().add(counter::auth_failures);
      reply_error(cmd.id, errc::unauthorized,
                  cmd.token.empty() ? "a token is required: connect with \"token\" or ?token="
                                    : "token refused: " + ec.message());
      return close_with(protocol::close_code::unauthorized, "unauthorized", true);
    }
    actor_.id = std::move(who);
    authenticated_ = true;
  }
  if (!cfg.auth_enabled) {
    // Without auth everyone is an admin known by the name they give.
    actor_.id.subject = cmd.name.empty() ? client_id_ : cmd.name;
    actor_.id.name = cmd.name.empty() ? client_id_ : cmd.name;
    actor_.id.role = auth::role::admin;
  }
  connected_ = true;
  name_ = actor_.id.name;
  std::string r = "{\"client\":";
  protocol::append_json_string(r, client_id_);
  r += ",\"user\":";
  protocol::append_json_string(r, actor_.id.subject);
  r += ",\"name\":";
  protocol::append_json_string(r, actor_.id.name);
  r += ",\"role\":";
  protocol::append_json_string(r, auth::role_name(actor_.id.role));
  r += ",\"node\":";
  protocol::append_json_string(r, node_.id());
  r += ",\"version\":\"" MUSTER_VERSION "\",\"limits\":{\"max_message_bytes\":";
  append_uint(r, cfg.max_message_bytes);
  r += ",\"max_subscriptions\":";
  append_uint(r, cfg.max_subscriptions);
  r += ",\"publish_rate\":" + format_number(cfg.publish_rate);
  r += ",\"publish_burst\":" + format_number(cfg.publish_burst) + "}}";
  reply(cmd.id, r);
}

websocket_session::subscription* websocket_session::find(std::string_view channel) {
  for (auto& s : subs_)
    if (s.channel == channel) return &s;
  return nullptr;
}

void websocket_session::handle_subscribe(protocol::command& cmd) {
  if (find(cmd.channel))
    return reply_error(cmd.id, errc::already_subscribed, "already subscribed to " + cmd.channel);
  if (subs_.size() >= node_.cfg().max_subscriptions)
    return reply_error(cmd.id, errc::too_many_subscriptions,
                       "at most " + std::to_string(node_.cfg().max_subscriptions) +
                           " subscriptions per connection");
  subscription sub;
  sub.channel = cmd.channel;
  sub.presence_events = cmd.join_leave;
  sub.pending_id = cmd.id;
  subs_.push_back(std::move(sub));
  // Registered before reading history: anything published from here on is buffered,
  // anything before is in history, and the merge drops what is in both.
  if (thread_.registry.add(cmd.channel, this, cmd.join_leave))
    node_.attach(cmd.channel, thread_.index);
  node_.eng().presence_join(cmd.channel, {client_id_, name_});
  node_.crisis().note_member(cmd.channel, actor_);

  history_query q;
  if (cmd.recover) {
    q.since = cmd.recover->offset;
    q.limit = node_.cfg().history_size;
  }
  node_.eng().history(
      cmd.channel, q,
      [self = shared_from_this(), id = cmd.id, channel = cmd.channel, from = cmd.recover](
          std::error_code ec, history_result h) mutable {
        auto& ioc = self->thread_.ioc;
        net::dispatch(ioc, [self = std::move(self), id, channel = std::move(channel),
                            from = std::move(from), ec, h = std::move(h)]() mutable {
          self->on_subscribe_history(id, std::move(channel), std::move(from), ec, std::move(h));
        });
      });
}

void websocket_session::on_subscribe_history(std::uint64_t id, std::string channel,
                                             std::optional<protocol::stream_position> from,
                                             std::error_code ec, history_result h) {
  if (!open_) return;
  subscription* sub = find(channel);
  if (!sub || !sub->recovering || sub->pending_id != id)
    return reply_error(id, errc::not_subscribed,
                       "the subscription to " + channel + " was cancelled before it completed");
  if (ec) {
    drop_subscription(channel);
    return reply_error(id, errc::unavailable, "cannot read channel state: " + ec.message());
  }
  bool recovered = from && can_recover(*from, h);
  std::string r = "{\"channel\":";
  protocol::append_json_string(r, channel);
  r += recovered ? ",\"recovered\":true" : ",\"recovered\":false";
  r += ",\"offset\":";
  append_uint(r, h.top.offset);
  r += ",\"epoch\":";
  protocol::append_json_string(r, h.top.epoch);
  if (recovered) {
    r += ",\"missed\":";
    append_uint(r, h.publications.size());
  }
  r += '}';
  reply(id, r);
  if (recovered)
    for (const auto& p : h.publications) send_json(*p.frame);
  sub->last_offset = h.top.offset;
  sub->epoch = h.top.epoch;
  finish_recovery(*sub);
}

void websocket_session::finish_recovery(subscription& sub) {
  sub.recovering = false;
  // Live events that arrived during the read: only those past what was just sent.
  auto pending = std::move(sub.pending);
  sub.pending.clear();
  sub.pending_bytes = 0;
  for (const auto& ev : pending) {
    if (sub.recovering) {  // a new gap started another resync: keep the rest for it
      sub.pending.push_back(ev);
      sub.pending_bytes += ev.frame->size();
    } else {
      deliver(sub, ev);
    }
  }
}

void websocket_session::start_resync(subscription& sub) {
  node_.stats().add(counter::resyncs);
  history_query q{sub.last_offset, node_.cfg().history_size};
  node_.eng().history(
      sub.channel, q,
      [self = shared_from_this(), channel = sub.channel,
       from = protocol::stream_position{sub.last_offset, sub.epoch}](std::error_code ec,
                                                                     history_result h) mutable {
        auto& ioc = self->thread_.ioc;
        net::dispatch(ioc, [self = std::move(self), channel = std::move(channel),
                            from = std::move(from), ec, h = std::move(h)]() mutable {
          if (!self->open_) return;
          subscription* s = self->find(channel);
          if (!s || !s->recovering) return;
          if (ec || !can_recover(from, h)) {
            // Cannot be filled: say so, so the client resubscribes and reloads; never a silent gap.
            spdlog::info("session {}: gap on {} after offset {} cannot be recovered",
                         self->client_id_, channel, from.offset);
            self->drop_subscription(channel);
            std::string e = "{\"event\":\"unsubscribed\",\"channel\":";
            protocol::append_json_string(e, channel);
            e += ",\"reason\":\"gap\"}";
            self->send_json(e);
            return;
          }
          for (const auto& p : h.publications)
            if (p.offset > s->last_offset)
              self->send(
                  std::make_shared<const std::string>(ws::frame(ws::opcode::text, *p.frame)));
          s->last_offset = h.top.offset;
          self->finish_recovery(*s);
        });
      });
}

void websocket_session::on_event(std::string_view channel, const channel_event& ev) {
  subscription* sub = find(channel);
  if (!sub || closing_) return;
  if (sub->recovering) {
    sub->pending_bytes += ev.frame->size();
    if (sub->pending_bytes > node_.cfg().max_queue_bytes) {
      // Reported, not dropped silently: the client is told to subscribe again.
      node_.stats().add(counter::recovery_buffer_overflows);
      std::string ch(channel);
      drop_subscription(ch);
      std::string e = "{\"event\":\"unsubscribed\",\"channel\":";
      protocol::append_json_string(e, ch);
      e += ",\"reason\":\"recovery_overflow\"}";
      send_json(e);
      return;
    }
    sub->pending.push_back(ev);
    return;
  }
  deliver(*sub, ev);
}

void websocket_session::deliver(subscription& sub, const channel_event& ev) {
  if (ev.offset != 0) {
    if (!ev.epoch.empty() && !sub.epoch.empty() && ev.epoch != sub.epoch) {
      // The engine lost the stream and started a new one (e.g. Redis restarted without
      // persistence): follow the new epoch from its start instead of taking its small
      // offsets for duplicates. The client sees the new epoch in the events.
      spdlog::info("session {}: channel {} restarted with epoch {}", client_id_, sub.channel,
                   ev.epoch);
      sub.epoch = ev.epoch;
      sub.last_offset = 0;
    }
    if (ev.offset <= sub.last_offset) return;  // already sent from history
    if (ev.offset != sub.last_offset + 1) {
      // An event went missing between the engine and this node (Redis pub/sub drops what is
      // published while a node's subscription connection is down): fetch it from history.
      sub.recovering = true;
      sub.pending.push_back(ev);
      sub.pending_bytes += ev.frame->size();
      return start_resync(sub);
    }
    sub.last_offset = ev.offset;
  }
  send(ev.frame);
}

void websocket_session::drop_subscription(std::string_view channel) {
  auto it = std::find_if(subs_.begin(), subs_.end(),
                         [&](const subscription& s) { return s.channel == channel; });
  if (it == subs_.end()) return;
  std::string ch = std::move(it->channel);
  subs_.erase(it);
  // Deferred: this may run inside the registry's delivery loop.
  net::post(thread_.ioc, [self = shared_from_this(), ch = std::move(ch)] {
    if (self->thread_.registry.remove(ch, self.get())) self->node_.detach(ch, self->thread_.index);
    self->node_.eng().presence_leave(ch, {self->client_id_, self->name_});
  });
}

void websocket_session::handle_unsubscribe(protocol::command& cmd) {
  if (!find(cmd.channel))
    return reply_error(cmd.id, errc::not_subscribed, "not subscribed to " + cmd.channel);
  drop_subscription(cmd.channel);
  reply(cmd.id, "{}");
}

void websocket_session::handle_publish(protocol::command& cmd) {
  if (!publish_limit_.try_take())
    return reply_error(cmd.id, errc::rate_limited,
                       "publish rate limit exceeded; retry after " +
                           std::to_string(publish_limit_.retry_after_ms()) + " ms");
  node_.stats().add(counter::publications);
  node_.eng().publish(
      cmd.channel, std::move(cmd.data), {client_id_, name_},
      [self = shared_from_this(), id = cmd.id](std::error_code ec, protocol::stream_position pos) {
        auto& ioc = self->thread_.ioc;
        net::dispatch(ioc, [self = std::move(self), id, ec, pos = std::move(pos)] {
          if (ec)
            return self->reply_error(id, errc::unavailable, "publish failed: " + ec.message());
          std::string r = "{\"offset\":";
          append_uint(r, pos.offset);
          r += ",\"epoch\":";
          protocol::append_json_string(r, pos.epoch);
          r += '}';
          self->reply(id, r);
        });
      });
}

void websocket_session::handle_history(protocol::command& cmd) {
  history_query q{cmd.since, cmd.limit};
  node_.eng().history(
      cmd.channel, q,
      [self = shared_from_this(), id = cmd.id, channel = cmd.channel](std::error_code ec,
                                                                      history_result h) mutable {
        auto& ioc = self->thread_.ioc;
        net::dispatch(
            ioc, [self = std::move(self), id, channel = std::move(channel), ec, h = std::move(h)] {
              if (ec)
                return self->reply_error(id, errc::unavailable, "history failed: " + ec.message());
              std::size_t size = 128;
              for (const auto& p : h.publications) size += p.frame->size() + 1;
              std::string r;
              r.reserve(size);
              r = "{\"channel\":";
              protocol::append_json_string(r, channel);
              r += ",\"offset\":";
              append_uint(r, h.top.offset);
              r += ",\"epoch\":";
              protocol::append_json_string(r, h.top.epoch);
              r += ",\"first_offset\":";
              append_uint(r, h.first_offset);
              r += ",\"publications\":[";
              for (std::size_t i = 0; i < h.publications.size(); ++i) {
                if (i) r += ',';
                r += *h.publications[i].frame;
              }
              r += "]}";
              self->reply(id, r);
            });
      });
}

void websocket_session::handle_presence(protocol::command& cmd) {
  node_.eng().presence(cmd.channel, [self = shared_from_this(), id = cmd.id, channel = cmd.channel](
                                        std::error_code ec, std::vector<client_info> who) mutable {
    auto& ioc = self->thread_.ioc;
    net::dispatch(
        ioc, [self = std::move(self), id, channel = std::move(channel), ec, who = std::move(who)] {
          if (ec)
            return self->reply_error(id, errc::unavailable, "presence failed: " + ec.message());
          std::string r = "{\"channel\":";
          protocol::append_json_string(r, channel);
          r += ",\"clients\":[";
          for (std::size_t i = 0; i < who.size(); ++i) {
            if (i) r += ',';
            r += "{\"client\":";
            protocol::append_json_string(r, who[i].client);
            r += ",\"name\":";
            protocol::append_json_string(r, who[i].name);
            r += '}';
          }
          r += "]}";
          self->reply(id, r);
        });
  });
}

void websocket_session::reply(std::uint64_t id, std::string_view result_json) {
  send_json(protocol::encode_reply(id, result_json));
}

void websocket_session::reply_error(std::optional<std::uint64_t> id, errc code,
                                    std::string_view message, std::string_view extra_fields) {
  node_.stats().error(code);
  send_json(protocol::encode_error(id, code, message, extra_fields));
}

void websocket_session::send_json(std::string_view json) {
  send(std::make_shared<const std::string>(ws::frame(ws::opcode::text, json)), true);
}

void websocket_session::send(std::shared_ptr<const std::string> framed, bool owed) {
  if (closing_ || !open_) return;
  queued_bytes_ += framed->size();
  if (owed) owed_bytes_ += framed->size();
  // Only live events count against the bound: replies and recovery replays were asked for,
  // and are bounded by the history and reply limits.
  if (queued_bytes_ - owed_bytes_ > node_.cfg().max_queue_bytes) {
    // A reader this slow would make the server hold unbounded memory for it.
    node_.stats().add(counter::slow_consumer_disconnects);
    spdlog::info("session {}: outbound queue over {} bytes, closing as slow consumer", client_id_,
                 node_.cfg().max_queue_bytes);
    return close_with(protocol::close_code::slow_consumer, "slow consumer", false);
  }
  node_.stats().add(counter::messages_out);
  queue_.push_back({std::move(framed), owed});
  if (!writing_ && !flush_pending_) {
    flush_pending_ = true;
    node::schedule_flush(thread_, shared_from_this());
  }
}

void websocket_session::start_write() {
  flush_pending_ = false;
  if (!writing_ && !queue_.empty() && open_) do_write();
}

void websocket_session::do_write() {
  writing_ = true;
  std::size_t take = 0, bytes = 0, owed = 0;
  while (take < queue_.size() && take < max_batch_frames &&
         (take == 0 || bytes + queue_[take].frame->size() <= max_batch_bytes)) {
    if (queue_[take].owed) owed += queue_[take].frame->size();
    bytes += queue_[take].frame->size();
    ++take;
  }
  net::const_buffer out;
  if (take == 1) {
    // One pre-framed buffer, shared with every other recipient: written without a copy.
    in_flight_ = std::move(queue_.front().frame);
    out = net::buffer(*in_flight_);
  } else {
    // Many small frames: one contiguous copy is cheaper than as many iovecs in the kernel.
    batch_.clear();
    batch_.reserve(bytes);
    for (std::size_t i = 0; i < take; ++i) batch_ += *queue_[i].frame;
    out = net::buffer(batch_);
  }
  queued_bytes_ -= bytes;
  owed_bytes_ -= owed;
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(take));
  net::async_write(socket_, out,
                   [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                     self->on_write(ec, n);
                   });
}

void websocket_session::on_write(boost::system::error_code ec, std::size_t bytes) {
  writing_ = false;
  in_flight_.reset();
  if (!open_) return;
  if (ec) return terminate(ec == net::error::operation_aborted ? nullptr : "write");
  node_.stats().add(counter::bytes_out, bytes);
  node_.stats().add(counter::writes);
  if (read_paused_ && owed_bytes_ <= node_.cfg().max_queue_bytes) {
    read_paused_ = false;
    process();
    if (!open_) return;
    do_wait_read();
  }
  if (!queue_.empty()) return do_write();
  // An idle connection keeps no batch memory.
  if (batch_.capacity() > 0) std::string().swap(batch_);
  if (queue_.capacity() > 8) decltype(queue_)().swap(queue_);
  if (close_queued_) {
    close_sent_ = true;
    if (close_received_) terminate(nullptr);
    // Otherwise keep reading until the client's close frame (or the grace timer) ends it.
  }
}

void websocket_session::go_away() {
  if (closing_ || !open_) return;
  close_with(protocol::close_code::going_away, "server shutting down", true);
}

void websocket_session::close_with(std::uint16_t code, std::string_view reason, bool flush) {
  if (closing_ || !open_) return;
  closing_ = true;
  if (!flush) {
    queue_.clear();
    queued_bytes_ = owed_bytes_ = 0;
  }
  // Queued behind what is kept; `closing_` stops everything else from being added. Counted
  // like any owed frame: do_write subtracts what it takes (an uncounted frame would wrap the
  // counters and pause reading, so the client's close reply went unread).
  auto frame = std::make_shared<const std::string>(ws::close_frame(code, reason));
  queued_bytes_ += frame->size();
  owed_bytes_ += frame->size();
  queue_.push_back({std::move(frame), true});
  close_queued_ = true;
  if (!writing_ && !flush_pending_) {
    flush_pending_ = true;
    node::schedule_flush(thread_, shared_from_this());
  }
  // A peer that never reads (or never answers) must not hold the connection: bound it.
  close_timer_ = std::make_unique<net::steady_timer>(thread_.ioc, close_grace);
  close_timer_->async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->terminate(nullptr);
  });
}

void websocket_session::terminate(const char* why) {
  if (!open_) return;
  if (why) spdlog::debug("session {}: {} failed, closing", client_id_, why);
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  if (close_timer_) close_timer_->cancel();
  cleanup();
}

void websocket_session::cleanup() {
  if (!open_) return;
  open_ = false;
  closing_ = true;
  queue_.clear();
  queued_bytes_ = owed_bytes_ = 0;
  for (auto& s : subs_) {
    if (thread_.registry.remove(s.channel, this)) node_.detach(s.channel, thread_.index);
    node_.eng().presence_leave(s.channel, {client_id_, name_});
  }
  subs_.clear();
  if (prev_)
    prev_->next_ = next_;
  else
    thread_.sessions = next_;
  if (next_) next_->prev_ = prev_;
  prev_ = next_ = nullptr;
  node_.stats().connections.fetch_sub(1, std::memory_order_relaxed);
  node_.session_closed();
}

}  // namespace muster::server
