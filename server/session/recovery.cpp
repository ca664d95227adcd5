#include "server/session/recovery.hpp"

namespace muster::server::session {

void recovery::start(std::optional<protocol::stream_position> from, actions& out) {
  phase_ = phase::subscribing;
  recovering_ = from.has_value();
  if (from) pos_ = std::move(*from);
  // Without `recover`, only the position; with it, what was missed (as much as may be held).
  history_query q;
  if (recovering_) q = {pos_.offset, limits_->history_size};
  read(q, false, out);
}

void recovery::read(history_query q, bool resync, actions& out) {
  auto a = action::of(action::read_history);
  a.query = q;
  a.read = ++read_;
  a.resync = resync;
  out.push_back(std::move(a));
}

void recovery::on_history(std::uint64_t read, std::error_code ec, const history_result& h,
                          actions& out) {
  if (read != read_) return;
  if (phase_ == phase::subscribing) {
    if (ec) {
      phase_ = phase::ended;
      auto a = action::of(action::fail);
      a.ec = ec;
      out.push_back(std::move(a));
      return;
    }
    return subscribed(h, out);
  }
  if (phase_ != phase::resyncing) return;
  // Cannot be filled: said, so the client resubscribes and reloads; never a silent gap.
  if (ec || !can_recover(pos_, h)) return end("gap", out);
  filled(h, out);
}

void recovery::subscribed(const history_result& h, actions& out) {
  bool recovered = recovering_ && can_recover(pos_, h);
  auto reply = action::of(action::reply_subscribed);
  reply.recovered = recovered;
  reply.position = h.top;
  reply.missed = recovered ? h.publications.size() : 0;
  out.push_back(std::move(reply));
  if (recovered)
    for (const auto& p : h.publications) {
      auto a = action::of(action::send_replay);
      a.frame = p.frame;
      out.push_back(std::move(a));
    }
  pos_ = h.top;
  drain(out);
}

void recovery::filled(const history_result& h, actions& out) {
  for (const auto& p : h.publications)
    if (p.offset > pos_.offset) {
      auto a = action::of(action::send_fill);
      a.frame = p.frame;
      out.push_back(std::move(a));
    }
  pos_.offset = h.top.offset;
  drain(out);
}

void recovery::drain(actions& out) {
  phase_ = phase::live;
  // Live events that arrived during the read: only those past what was just sent go out.
  auto held = std::move(buffer_);
  buffer_.clear();
  buffer_bytes_ = 0;
  for (const auto& ev : held) {
    if (phase_ == phase::live)
      deliver(ev, out);
    else
      hold(ev);  // a new gap started another read: the rest waits for it
  }
}

void recovery::hold(const channel_event& ev) {
  buffer_bytes_ += ev.frame->size();
  buffer_.push_back(ev);
}

void recovery::on_live(const channel_event& ev, actions& out) {
  if (phase_ == phase::ended) return;
  if (phase_ == phase::live) return deliver(ev, out);
  hold(ev);
  // Reported, never dropped silently: the client is told to subscribe again.
  if (buffer_bytes_ > limits_->max_buffer_bytes) end("recovery_overflow", out);
}

void recovery::deliver(const channel_event& ev, actions& out) {
  if (ev.offset != 0) {
    if (!ev.epoch.empty() && !pos_.epoch.empty() && ev.epoch != pos_.epoch) {
      // The engine lost the stream and started a new one (e.g. Redis restarted without
      // persistence): follow the new epoch from its start instead of taking its small offsets
      // for duplicates. The client sees the new epoch in the events.
      pos_ = {0, ev.epoch};
    }
    if (ev.offset <= pos_.offset) return;  // already sent from history
    if (ev.offset != pos_.offset + 1) {
      // An event went missing between the engine and this node (Redis pub/sub drops what is
      // published while a node's subscription connection is down): fetch it from history.
      phase_ = phase::resyncing;
      hold(ev);
      return read({pos_.offset, limits_->history_size}, true, out);
    }
    pos_.offset = ev.offset;
  }
  auto a = action::of(action::send_live);
  a.frame = ev.frame;
  out.push_back(std::move(a));
}

void recovery::end(std::string_view reason, actions& out) {
  phase_ = phase::ended;
  buffer_.clear();
  buffer_bytes_ = 0;
  auto a = action::of(action::end);
  a.reason = reason;
  out.push_back(std::move(a));
}

}  // namespace muster::server::session
