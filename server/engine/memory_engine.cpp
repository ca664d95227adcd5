#include "server/engine/memory_engine.hpp"

#include <algorithm>
#include <random>

namespace muster::server {

namespace {}  // namespace

memory_engine::memory_engine(options opts, clock_fn clock)
    : opts_(opts), clock_(std::move(clock)) {}

void memory_engine::start(engine_sink& sink) {
  sink_ = &sink;
  presence_.set_sink(&sink);
  ephemeral_.set_sink(&sink);
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
  auto size = st.keep ? st.keep->size : opts_.history_size;
  while (st.history.size() > size) st.history.pop_front();
  auto ttl_ms = std::chrono::duration_cast<std::chrono::milliseconds>(st.keep ? st.keep->ttl
                                                                              : opts_.history_ttl)
                    .count();
  while (!st.history.empty() && st.history.front().ts_ms + ttl_ms <= now) st.history.pop_front();
}

protocol::stream_position memory_engine::append(channel_state& st, std::string_view channel,
                                                std::string event, std::string data,
                                                const client_info& by) {
  protocol::publication p{++st.top, st.epoch,        now_ms(),        by.client,
                          by.name,  std::move(data), std::move(event)};
  channel_event ev{p.offset,
                   std::make_shared<const std::string>(protocol::encode_message_event(channel, p)),
                   false, st.epoch};
  if ((st.keep ? st.keep->size : opts_.history_size) > 0)
    st.history.push_back({p.offset, p.ts_ms, ev.frame});
  trim(st, p.ts_ms);
  // Handed to the sink under the lock, so concurrent publishers cannot reorder a channel.
  if (sink_) sink_->on_event(channel, ev);
  return {p.offset, st.epoch};
}

void memory_engine::publish(std::string_view channel, std::string data, const client_info& sender,
                            std::string_view idempotency_key, publish_handler h) {
  auto& sh = shard_for(channel);
  protocol::stream_position pos;
  {
    std::lock_guard lock(sh.mutex);
    auto& st = state(sh, channel);
    auto now = now_ms();
    auto seen = idempotency_key.empty() ? st.keys.end() : st.keys.find(idempotency_key);
    if (seen != st.keys.end() && seen->second.second > now) {
      pos = {seen->second.first, st.epoch};  // a retry: the first answer, nothing appended
    } else {
      pos = append(st, channel, "message", std::move(data), sender);
      auto window = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.idempotency_window);
      if (!idempotency_key.empty())
        st.keys.insert_or_assign(std::string(idempotency_key),
                                 std::make_pair(pos.offset, now + window.count()));
    }
  }
  h({}, std::move(pos));
}

void memory_engine::read_docs(std::string_view channel, std::vector<std::string> keys,
                              docs_handler h) {
  auto& sh = shard_for(channel);
  std::vector<doc> out;
  {
    std::lock_guard lock(sh.mutex);
    auto& st = state(sh, channel);
    for (auto& k : keys) {
      auto it = st.docs.find(k);
      if (it == st.docs.end())
        out.push_back({std::move(k), {}, 0});
      else
        out.push_back({std::move(k), it->second.second, it->second.first});
    }
  }
  h({}, std::move(out));
}

void memory_engine::list_docs(std::string_view channel, std::string prefix, docs_handler h) {
  auto& sh = shard_for(channel);
  std::vector<doc> out;
  {
    std::lock_guard lock(sh.mutex);
    auto& st = state(sh, channel);
    for (auto it = st.docs.lower_bound(prefix);
         it != st.docs.end() && std::string_view(it->first).starts_with(prefix); ++it)
      out.push_back({it->first, it->second.second, it->second.first});
  }
  h({}, std::move(out));
}

void memory_engine::commit(std::string_view channel, std::vector<doc_write> writes,
                           std::vector<event_spec> events, std::optional<retention> keep,
                           commit_handler h) {
  commit_with_indexes(channel, std::move(writes), std::move(events), keep, {}, std::move(h));
}

void memory_engine::commit_with_indexes(std::string_view channel, std::vector<doc_write> writes,
                                        std::vector<event_spec> events,
                                        std::optional<retention> keep,
                                        std::vector<index_write> indexes, commit_handler h) {
  // Every shard the commit touches is locked, always in the same order, for all of it.
  std::vector<shard*> shards{&shard_for(channel)};
  for (const auto& w : writes)
    if (!w.channel.empty()) shards.push_back(&shard_for(w.channel));
  std::sort(shards.begin(), shards.end());
  shards.erase(std::unique(shards.begin(), shards.end()), shards.end());
  std::vector<std::unique_lock<std::mutex>> locks;
  for (auto* s : shards) locks.emplace_back(s->mutex);
  auto& st = state(shard_for(channel), channel);
  auto docs_of = [&](const doc_write& w) -> auto& {
    return (w.channel.empty() ? st : state(shard_for(w.channel), w.channel)).docs;
  };
  auto version_of = [&](const doc_write& w) -> std::uint64_t {
    auto& docs = docs_of(w);
    auto it = docs.find(w.key);
    return it == docs.end() ? 0 : it->second.first;
  };
  commit_result r;
  bool ok = true;
  for (const auto& w : writes) ok &= w.expect == doc_write::any || w.expect == version_of(w);
  if (!ok) {
    for (const auto& w : writes) {
      auto& docs = docs_of(w);
      auto it = docs.find(w.key);
      r.current.push_back(it == docs.end() ? doc{w.key, {}, 0}
                                           : doc{w.key, it->second.second, it->second.first});
    }
  } else {
    r.applied = true;
    if (keep) st.keep = keep;
    for (auto& w : writes) {
      auto v = version_of(w) + 1;
      if (w.value.empty())
        docs_of(w).erase(w.key);
      else
        docs_of(w).insert_or_assign(w.key, std::make_pair(v, std::move(w.value)));
      r.versions.push_back(v);
    }
    for (auto& e : events)
      r.offsets.push_back(append(st, channel, std::move(e.event), std::move(e.data), e.by).offset);
    r.epoch = st.epoch;
    std::lock_guard index_lock(index_mutex_);
    for (auto& i : indexes) {
      if (i.score)
        indexes_[i.index][std::move(i.member)] = *i.score;
      else if (auto it = indexes_.find(i.index); it != indexes_.end())
        it->second.erase(i.member);
    }
  }
  locks.clear();
  h({}, std::move(r));
}

void memory_engine::index_put(std::string index, std::string member, std::int64_t score,
                              done_handler h) {
  {
    std::lock_guard lock(index_mutex_);
    indexes_[index].insert_or_assign(std::move(member), score);
  }
  h({});
}

void memory_engine::index_remove(std::string index, std::string member, done_handler h) {
  {
    std::lock_guard lock(index_mutex_);
    auto it = indexes_.find(index);
    if (it != indexes_.end()) it->second.erase(member);
  }
  h({});
}

void memory_engine::index_put_earlier(std::string index, std::string member, std::int64_t score,
                                      done_handler h) {
  {
    std::lock_guard lock(index_mutex_);
    auto [it, added] = indexes_[index].try_emplace(std::move(member), score);
    if (!added) it->second = std::min(it->second, score);
  }
  h({});
}

void memory_engine::index_replace(std::string index, std::string member, std::int64_t expect,
                                  std::optional<std::int64_t> score, done_handler h) {
  {
    std::lock_guard lock(index_mutex_);
    auto it = indexes_.find(index);
    auto m = it == indexes_.end() ? decltype(it->second.end()){} : it->second.find(member);
    if (it != indexes_.end() && m != it->second.end() && m->second == expect) {
      if (score)
        m->second = *score;
      else
        it->second.erase(m);
    }
  }
  h({});
}

void memory_engine::index_range(std::string index, std::int64_t max_score, std::size_t limit,
                                index_handler h) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  {
    std::lock_guard lock(index_mutex_);
    auto it = indexes_.find(index);
    if (it != indexes_.end())
      for (const auto& [m, score] : it->second)
        if (score <= max_score) out.emplace_back(m, score);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.second < b.second; });
  if (out.size() > limit) out.resize(limit);
  h({}, std::move(out));
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
  h({}, presence_.list(channel));
}

void memory_engine::presence_join(std::string_view channel, const client_info& who) {
  {
    // A channel someone is in is a channel in use (kept by the sweep).
    auto& sh = shard_for(channel);
    std::lock_guard lock(sh.mutex);
    state(sh, channel);
  }
  presence_.join(channel, who);
}

void memory_engine::presence_leave(std::string_view channel, const client_info& who) {
  presence_.leave(channel, who);
}

void memory_engine::ephemeral_set(std::string_view channel, std::string key, std::string value,
                                  std::chrono::milliseconds ttl, std::string event, set_handler h) {
  ephemeral_.set(channel, std::move(key), std::move(value), ttl, std::move(event));
  h({});
}

void memory_engine::ephemeral_list(std::string_view channel, std::string prefix,
                                   entries_handler h) {
  h({}, ephemeral_.list(channel, prefix));
}

void memory_engine::sweep() {
  ephemeral_.sweep();
  auto now = now_ms();
  auto ttl_ms = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.history_ttl).count();
  constexpr std::int64_t unused_ms = 60'000;
  for (auto& sh : shards_) {
    std::lock_guard lock(sh.mutex);
    for (auto it = sh.channels.begin(); it != sh.channels.end();) {
      auto& st = it->second;
      trim(st, now);
      std::erase_if(st.keys, [now](const auto& k) { return k.second.second <= now; });
      auto idle = now - st.touched_ms;
      bool unused = st.history.empty() && presence_.empty(it->first) && st.docs.empty() &&
                    st.keys.empty() && (idle > ttl_ms || (st.top == 0 && idle > unused_ms));
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
