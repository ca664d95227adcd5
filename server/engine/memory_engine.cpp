#include "server/engine/memory_engine.hpp"

#include <random>

namespace muster::server {

namespace {}  // namespace

memory_engine::memory_engine(options opts, clock_fn clock)
    : opts_(opts), clock_(std::move(clock)) {}

void memory_engine::start(engine_sink& sink) {
  sink_ = &sink;
}
void memory_engine::stop() {}

std::int64_t memory_engine::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_().time_since_epoch()).count();
}

memory_engine::shard& memory_engine::shard_for(std::string_view channel) {
  return shards_[string_hash{}(channel) % shards_.size()];
}

memory_engine::channel_state& memory_engine::state(shard& s, std::string_view channel) {
  auto it = s.channels.find(channel);
  if (it == s.channels.end()) {
    it = s.channels.emplace(std::string(channel), channel_state{}).first;
    it->second.epoch = new_epoch();
  }
  it->second.touched_ms = now_ms();
  return it->second;
}

void memory_engine::trim(channel_state& st, std::int64_t now) {
  while (st.history.size() > opts_.history_size) st.history.pop_front();
  auto ttl_ms = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.history_ttl).count();
  while (!st.history.empty() && st.history.front().ts_ms + ttl_ms <= now) st.history.pop_front();
}

void memory_engine::publish(std::string_view channel, std::string data, const client_info& sender,
                            publish_handler h) {
  auto& sh = shard_for(channel);
  protocol::stream_position pos;
  {
    std::lock_guard lock(sh.mutex);
    auto& st = state(sh, channel);
    protocol::publication p{++st.top,      st.epoch,    now_ms(),
                            sender.client, sender.name, std::move(data)};
    channel_event ev{
        p.offset, std::make_shared<const std::string>(protocol::encode_message_event(channel, p)),
        false, st.epoch};
    if (opts_.history_size > 0) st.history.push_back({p.offset, p.ts_ms, ev.frame});
    trim(st, p.ts_ms);
    pos = {p.offset, st.epoch};
    // Handed to the sink under the lock, so concurrent publishers cannot reorder a channel.
    if (sink_) sink_->on_event(channel, ev);
  }
  h({}, std::move(pos));
}

void memory_engine::history(std::string_view channel, history_query q, history_handler h) {
  auto& sh = shard_for(channel);
  history_result r;
  {
    std::lock_guard lock(sh.mutex);
    auto& st = state(sh, channel);
    trim(st, now_ms());
    r.top = {st.top, st.epoch};
    r.first_offset = st.history.empty() ? st.top + 1 : st.history.front().offset;
    if (q.limit > 0 && !st.history.empty()) {
      auto begin = st.history.begin();
      if (q.since) {
        // Offsets in history are contiguous, so the position is arithmetic.
        auto skip = *q.since >= r.first_offset ? *q.since - r.first_offset + 1 : 0;
        begin += static_cast<std::ptrdiff_t>(std::min<std::uint64_t>(skip, st.history.size()));
        auto end = begin + static_cast<std::ptrdiff_t>(
                               std::min<std::size_t>(q.limit, st.history.end() - begin));
        r.publications.assign(begin, end);
      } else {
        auto n = std::min<std::size_t>(q.limit, st.history.size());
        r.publications.assign(st.history.end() - static_cast<std::ptrdiff_t>(n), st.history.end());
      }
    }
  }
  h({}, std::move(r));
}

void memory_engine::presence(std::string_view channel, presence_handler h) {
  auto& sh = shard_for(channel);
  std::vector<client_info> out;
  {
    std::lock_guard lock(sh.mutex);
    auto it = sh.channels.find(channel);
    if (it != sh.channels.end())
      for (const auto& [client, name] : it->second.presence) out.push_back({client, name});
  }
  h({}, std::move(out));
}

void memory_engine::emit_presence(bool join, std::string_view channel, const client_info& who) {
  if (!sink_) return;
  channel_event ev{0,
                   std::make_shared<const std::string>(
                       protocol::encode_presence_event(join, channel, who.client, who.name)),
                   true,
                   {}};
  sink_->on_event(channel, ev);
}

void memory_engine::presence_join(std::string_view channel, const client_info& who) {
  auto& sh = shard_for(channel);
  std::lock_guard lock(sh.mutex);
  state(sh, channel).presence.insert_or_assign(who.client, who.name);
  emit_presence(true, channel, who);
}

void memory_engine::presence_leave(std::string_view channel, const client_info& who) {
  auto& sh = shard_for(channel);
  std::lock_guard lock(sh.mutex);
  auto it = sh.channels.find(channel);
  if (it == sh.channels.end()) return;
  if (it->second.presence.erase(who.client) > 0) emit_presence(false, channel, who);
}

void memory_engine::sweep() {
  auto now = now_ms();
  auto ttl_ms = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.history_ttl).count();
  constexpr std::int64_t unused_ms = 60'000;
  for (auto& sh : shards_) {
    std::lock_guard lock(sh.mutex);
    for (auto it = sh.channels.begin(); it != sh.channels.end();) {
      auto& st = it->second;
      trim(st, now);
      auto idle = now - st.touched_ms;
      bool unused = st.history.empty() && st.presence.empty() &&
                    (idle > ttl_ms || (st.top == 0 && idle > unused_ms));
      it = unused ? sh.channels.erase(it) : std::next(it);
    }
  }
}

std::size_t memory_engine::channel_count() {
  std::size_t n = 0;
  for (auto& sh : shards_) {
    std::lock_guard lock(sh.mutex);
    n += sh.channels.size();
  }
  return n;
}

}  // namespace muster::server
