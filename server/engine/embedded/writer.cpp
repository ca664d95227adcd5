// The embedded engine's writer thread: every change goes through here, a group of them per
// transaction; only a committed group becomes visible, reaches the sink and is answered.
#include <spdlog/spdlog.h>

#include "protocol/event_frame.hpp"
#include "server/engine/embedded/embedded_engine.hpp"
#include "server/engine/embedded/sqlite.hpp"

namespace muster::server::embedded {

struct embedded_engine::statements {
  explicit statements(database& db)
      : insert_channel(db.prepare(
            "INSERT INTO channels (name, epoch, top, keep_size, keep_ttl_s) VALUES (?1, ?2, ?3, "
            "?4, ?5)")),
        update_channel(db.prepare(
            "UPDATE channels SET top = ?2, keep_size = ?3, keep_ttl_s = ?4 WHERE id = ?1")),
        insert_event(
            db.prepare("INSERT INTO events (channel, seq, ts, frame) VALUES (?1, ?2, ?3, ?4)")),
        delete_events_upto(db.prepare("DELETE FROM events WHERE channel = ?1 AND seq <= ?2")),
        oldest_events(
            db.prepare("SELECT seq, ts FROM events WHERE channel = ?1 ORDER BY seq LIMIT ?2")),
        upsert_doc(db.prepare(
            "INSERT INTO docs (channel, key, version, value, cold) VALUES (?1, ?2, ?3, ?4, ?5) "
            "ON CONFLICT (channel, key) DO UPDATE SET version = excluded.version, "
            "value = excluded.value, cold = excluded.cold")),
        select_doc(db.prepare("SELECT version, value FROM docs WHERE channel = ?1 AND key = ?2")),
        delete_doc(db.prepare("DELETE FROM docs WHERE channel = ?1 AND key = ?2")),
        upsert_index(db.prepare("INSERT INTO indexes (name, member, score) VALUES (?1, ?2, ?3) "
                                "ON CONFLICT (name, member) DO UPDATE SET score = excluded.score")),
        delete_index(db.prepare("DELETE FROM indexes WHERE name = ?1 AND member = ?2")),
        upsert_key(db.prepare(
            "INSERT OR REPLACE INTO idempotency (channel, key, seq, expires) VALUES (?1, ?2, ?3, "
            "?4)")),
        expire_keys(db.prepare("DELETE FROM idempotency WHERE expires <= ?1")) {}
  statement insert_channel, update_channel, insert_event, delete_events_upto, oldest_events,
      upsert_doc, select_doc, delete_doc, upsert_index, delete_index, upsert_key, expire_keys;
};

embedded_engine::~embedded_engine() {
  stop();
}

void embedded_engine::write_loop() {
  sql_ = std::make_shared<statements>(*db_);
  for (;;) {
    std::vector<std::unique_ptr<request>> todo;
    {
      std::unique_lock lock(queue_mutex_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) break;
      // Everything asked for since the last commit, bounded: one transaction, one sync.
      auto n = std::min(queue_.size(), opts_.max_batch);
      todo.assign(std::make_move_iterator(queue_.begin()),
                  std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(n)));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    }
    run_batch(todo);
  }
  sql_.reset();  // statements are finalized on the thread that used them
}

void embedded_engine::run_batch(std::vector<std::unique_ptr<request>>& todo) {
  batch b;
  auto now = now_ms();
  try {
    db_->exec("BEGIN IMMEDIATE");
    for (auto& r : todo) {
      switch (r->kind) {
        case request::publish:
          run_publish(b, *r, now);
          break;
        case request::commit:
          run_commit(b, *r, now);
          break;
        case request::index_put:
        case request::index_remove:
        case request::index_put_earlier:
        case request::index_replace:
          run_index(b, *r);
          break;
        case request::expire:
          run_expire(b, now);
          break;
      }
    }
    finish_channels(b);
    db_->exec("COMMIT");
  } catch (const sqlite_error& e) {
    // Nothing of this group was stored: each request is refused, none half-done.
    failures_.fetch_add(1, std::memory_order_relaxed);
    if (healthy_.exchange(false) || failures_.load() % 100 == 1)
      spdlog::error("embedded engine: {} changes not stored: {}", todo.size(), e.what());
    try {
      db_->exec("ROLLBACK");
    } catch (const sqlite_error&) {
      // The transaction is already gone (SQLite rolled it back itself).
    }
    if (!opts_.complete) return fail_all(todo, make_error_code(engine_errc::unavailable));
    auto refused = std::make_shared<std::vector<std::unique_ptr<request>>>(std::move(todo));
    return opts_.complete(
        [refused] { fail_all(*refused, make_error_code(engine_errc::unavailable)); });
  }
  commits_.fetch_add(1, std::memory_order_relaxed);
  if (!healthy_.exchange(true)) spdlog::info("embedded engine: {} writable again", opts_.path);
  apply(b);
  // Durable from here: subscribers see it, then the requesters hear of it.
  if (sink_)
    for (const auto& [channel, ev] : b.events) sink_->on_event(channel, ev);
  if (!opts_.complete) return answer(todo);
  auto answers = std::make_shared<std::vector<std::unique_ptr<request>>>(std::move(todo));
  opts_.complete([answers] { answer(*answers); });
}

void embedded_engine::answer(std::vector<std::unique_ptr<request>>& todo) {
  for (auto& r : todo) {
    switch (r->kind) {
      case request::publish:
        r->on_publish({}, std::move(r->position));
        break;
      case request::commit:
        r->on_commit({}, std::move(r->result));
        break;
      default:
        r->on_done({});
    }
  }
}

embedded_engine::batch::channel_change& embedded_engine::change_for(batch& b,
                                                                    const std::string& channel) {
  auto it = b.channels.find(channel);
  if (it != b.channels.end()) return it->second;
  batch::channel_change c;
  {
    auto& sh = shard_for(channel);
    std::lock_guard lock(sh.mutex);
    auto& st = state(sh, channel);
    c.id = st.id;
    c.epoch = st.epoch;
    c.top = st.top;
    c.first = st.first;
    c.keep = st.keep;
  }
  return b.channels.emplace(channel, std::move(c)).first->second;
}

void embedded_engine::store_channel(batch::channel_change& c, const std::string& channel) {
  if (c.id != 0) return;
  auto& q = sql_->insert_channel;
  q.bind(1, channel).bind(2, c.epoch).bind(3, static_cast<std::int64_t>(c.top));
  if (c.keep) q.bind(4, static_cast<std::int64_t>(c.keep->size)).bind(5, c.keep->ttl.count());
  q.run();
  c.id = sqlite3_last_insert_rowid(db_->handle());
}

void embedded_engine::append_event(batch& b, batch::channel_change& c, const std::string& channel,
                                   std::string_view event, std::string_view data,
                                   const client_info& by, std::int64_t now) {
  store_channel(c, channel);
  ++c.top;
  c.dirty = true;
  auto frame = std::make_shared<const std::string>(
      protocol::make_event_frame(channel, event, now, by.client, by.name, data)
          .assemble(c.top, c.epoch));
  if ((c.keep ? c.keep->size : opts_.history_size) > 0) {
    sql_->insert_event.bind(1, c.id).bind(2, static_cast<std::int64_t>(c.top)).bind(3, now);
    sql_->insert_event.bind_static(4, *frame).run();
    c.appended.push_back({c.top, now, frame});
  }
  b.events.push_back({channel, channel_event{c.top, frame, false, c.epoch}});
}

void embedded_engine::run_publish(batch& b, request& r, std::int64_t now) {
  auto& c = change_for(b, r.channel);
  if (!r.key.empty()) {
    // A retry of a publish this window remembers: its first answer, nothing appended.
    std::optional<std::uint64_t> seen;
    if (auto it = c.keys.find(r.key); it != c.keys.end()) {
      seen = it->second.first;
    } else {
      auto& sh = shard_for(r.channel);
      std::lock_guard lock(sh.mutex);
      auto& st = state(sh, r.channel);
      if (auto k = st.keys.find(r.key); k != st.keys.end() && k->second.second > now)
        seen = k->second.first;
    }
    if (seen) {
      r.position = {*seen, c.epoch};
      return;
    }
  }
  append_event(b, c, r.channel, "message", r.data, r.sender, now);
  r.position = {c.top, c.epoch};
  if (r.key.empty()) return;
  auto expires =
      now + std::chrono::duration_cast<std::chrono::milliseconds>(opts_.idempotency_window).count();
  sql_->upsert_key.bind(1, c.id).bind(2, r.key).bind(3, static_cast<std::int64_t>(c.top));
  sql_->upsert_key.bind(4, expires).run();
  c.keys[r.key] = {c.top, expires};
}

std::pair<std::uint64_t, std::string> embedded_engine::current_doc(batch::channel_change& c,
                                                                   const std::string& channel,
                                                                   const std::string& key) {
  auto it = c.docs.find(key);
  // Deleted earlier in this transaction: absent, version 0, as for a document never written.
  if (it != c.docs.end())
    return it->second.second.empty() ? std::pair<std::uint64_t, std::string>{0, {}} : it->second;
  {
    auto& sh = shard_for(channel);
    std::lock_guard lock(sh.mutex);
    auto& st = state(sh, channel);
    if (auto d = st.docs.find(key); d != st.docs.end()) return d->second;
    if (!st.cold.may_hold(key)) return {0, {}};
  }
  // Only this thread changes `cold`, so what the file says still holds after the lock is
  // released; a row of a key that is not in memory is a cold one.
  auto found = cold_doc(c.id, key);
  if (found.first != 0) c.was_cold.insert(key);
  return found;
}

std::pair<std::uint64_t, std::string> embedded_engine::cold_doc(std::int64_t channel_id,
                                                                const std::string& key) {
  auto& q = sql_->select_doc;
  q.bind(1, channel_id).bind(2, key);
  std::pair<std::uint64_t, std::string> found{0, {}};
  if (q.step()) found = {static_cast<std::uint64_t>(q.int64(0)), std::string(q.text(1))};
  q.reset();
  return found;
}

void embedded_engine::run_commit(batch& b, request& r, std::int64_t now) {
  auto& c = change_for(b, r.channel);
  // A linked write (doc_write::channel) goes to its own channel, in this same transaction.
  auto current = [&](const doc_write& w) {
    return w.channel.empty() ? current_doc(c, r.channel, w.key)
                             : current_doc(change_for(b, w.channel), w.channel, w.key);
  };
  bool ok = true;
  for (const auto& w : r.writes) ok &= w.expect == doc_write::any || w.expect == current(w).first;
  if (!ok) {
    for (const auto& w : r.writes) {
      auto [version, value] = current(w);
      r.result.current.push_back({w.key, std::move(value), version});
    }
    return;
  }
  store_channel(c, r.channel);
  if (r.keep) {
    c.keep = r.keep;
    c.keep_changed = c.dirty = true;
  }
  for (auto& w : r.writes) {
    auto& target = w.channel.empty() ? c : change_for(b, w.channel);
    store_channel(target, w.channel.empty() ? r.channel : w.channel);
    r.result.versions.push_back(write_doc(target, current(w).first + 1, w));
  }
  for (auto& e : r.events) {
    append_event(b, c, r.channel, e.event, e.data, e.by, now);
    r.result.offsets.push_back(c.top);
  }
  for (auto& i : r.indexes) write_index(b, std::move(i));
  r.result.applied = true;
  r.result.epoch = c.epoch;
}

std::uint64_t embedded_engine::write_doc(batch::channel_change& c, std::uint64_t version,
                                         doc_write& w) {
  if (w.value.empty())
    sql_->delete_doc.bind(1, c.id).bind(2, w.key).run();
  else
    sql_->upsert_doc.bind(1, c.id)
        .bind_static(2, w.key)
        .bind(3, static_cast<std::int64_t>(version))
        .bind_static(4, w.value)
        .bind(5, std::int64_t{w.cold ? 1 : 0})
        .run();
  if (w.cold && !w.value.empty())
    c.cold.insert(w.key);
  else
    c.cold.erase(w.key);
  c.docs.insert_or_assign(std::move(w.key), std::pair{version, std::move(w.value)});
  return version;
}

void embedded_engine::run_index(batch& b, request& r) {
  if (r.kind == request::index_put || r.kind == request::index_remove)
    return write_index(b, {std::move(r.index), std::move(r.member),
                           r.kind == request::index_put ? std::optional{r.score} : std::nullopt});
  // The conditional ones compare with the score as this transaction leaves it so far.
  std::optional<std::int64_t> now;
  auto pending = b.indexes.find({r.index, r.member});
  if (pending != b.indexes.end()) {
    now = pending->second;
  } else {
    std::lock_guard lock(index_mutex_);
    auto it = indexes_.find(r.index);
    if (it != indexes_.end())
      if (auto m = it->second.find(r.member); m != it->second.end()) now = m->second;
  }
  if (r.kind == request::index_put_earlier) {
    if (!now || r.score < *now) write_index(b, {std::move(r.index), std::move(r.member), r.score});
  } else if (now && *now == r.expect) {
    write_index(b, {std::move(r.index), std::move(r.member), r.to});
  }
}

void embedded_engine::write_index(batch& b, index_write i) {
  if (i.score)
    sql_->upsert_index.bind(1, i.index).bind(2, i.member).bind(3, *i.score).run();
  else
    sql_->delete_index.bind(1, i.index).bind(2, i.member).run();
  b.indexes[{std::move(i.index), std::move(i.member)}] = i.score;
}

void embedded_engine::run_expire(batch& b, std::int64_t now) {
  sql_->expire_keys.bind(1, now).run();
  // Bounded work per sweep: a TTL boundary never stalls the writer for long.
  constexpr std::int64_t per_channel = 500;
  std::size_t budget = 20000;
  std::vector<std::string> stored;
  for (auto& sh : shards_) {
    std::lock_guard lock(sh.mutex);
    for (auto& [name, st] : sh.channels)
      if (st.id != 0 && st.first <= st.top) stored.push_back(name);
  }
  for (const auto& name : stored) {
    if (budget == 0) break;
    auto& c = change_for(b, name);
    auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(c.keep ? c.keep->ttl
                                                                            : opts_.history_ttl)
                   .count();
    auto& q = sql_->oldest_events;
    q.bind(1, c.id).bind(2, per_channel);
    std::int64_t last = 0;
    while (q.step() && q.int64(1) + ttl <= now) last = q.int64(0);
    q.reset();
    if (last == 0) continue;
    sql_->delete_events_upto.bind(1, c.id).bind(2, last).run();
    c.first = std::max(c.first, static_cast<std::uint64_t>(last) + 1);
    budget -= std::min<std::size_t>(budget, static_cast<std::size_t>(per_channel));
  }
}

void embedded_engine::finish_channels(batch& b) {
  for (auto& [name, c] : b.channels) {
    if (c.id == 0 || !c.dirty) continue;
    auto& q = sql_->update_channel;
    q.bind(1, c.id).bind(2, static_cast<std::int64_t>(c.top));
    if (c.keep) q.bind(3, static_cast<std::int64_t>(c.keep->size)).bind(4, c.keep->ttl.count());
    q.run();
    // Size retention: only the newest `size` entries stay.
    auto size = c.keep ? c.keep->size : opts_.history_size;
    if (size == 0) {
      c.first = c.top + 1;
    } else if (c.top >= size && c.top - size + 1 > c.first) {
      sql_->delete_events_upto.bind(1, c.id).bind(2, static_cast<std::int64_t>(c.top - size)).run();
      c.first = c.top - size + 1;
    }
  }
}

void embedded_engine::apply(batch& b) {
  auto now = now_ms();
  for (auto& [name, c] : b.channels) {
    auto& sh = shard_for(name);
    std::lock_guard lock(sh.mutex);
    auto& st = state(sh, name);
    st.id = c.id;
    st.top = c.top;
    st.first = std::max(st.first, c.first);
    if (c.keep_changed) st.keep = c.keep;
    for (auto& p : c.appended) st.window.push_back(std::move(p));
    for (auto& [key, seen] : c.keys) st.keys.insert_or_assign(key, seen);
    while (!c.docs.empty()) apply_doc(st, c, c.docs.extract(c.docs.begin()));
    trim_window(st, now);
  }
  std::lock_guard lock(index_mutex_);
  for (auto& [key, score] : b.indexes) {
    if (score)
      indexes_[key.first][key.second] = *score;
    else if (auto it = indexes_.find(key.first); it != indexes_.end())
      it->second.erase(key.second);
  }
}

// Each document ends up in exactly one place: memory, disk only, or nowhere. The batch's node
// moves into memory as it is (no copy of key or value).
void embedded_engine::apply_doc(channel_state& st, batch::channel_change& c,
                                doc_map::node_type node) {
  const std::string& key = node.key();
  if (c.was_cold.contains(key)) {
    st.cold.remove(key);
    --cold_docs_;
  }
  bool deleted = node.mapped().second.empty();
  bool cold = !deleted && c.cold.contains(key);
  if (auto hot = st.docs.find(key); hot != st.docs.end()) {
    if (!deleted && !cold) {
      hot->second = std::move(node.mapped());
      return;
    }
    st.docs.erase(hot);
    --memory_docs_;
  }
  if (deleted) return;
  if (cold) {
    st.cold.add(key);
    ++cold_docs_;
  } else {
    st.docs.insert(std::move(node));
    ++memory_docs_;
  }
}

void embedded_engine::fail_all(std::vector<std::unique_ptr<request>>& todo, std::error_code ec) {
  for (auto& r : todo) {
    switch (r->kind) {
      case request::publish:
        r->on_publish(ec, {});
        break;
      case request::commit:
        r->on_commit(ec, {});
        break;
      default:
        r->on_done(ec);
    }
  }
}

}  // namespace muster::server::embedded
