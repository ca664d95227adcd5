#include "server/engine/embedded/embedded_engine.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "server/engine/embedded/sqlite.hpp"

namespace muster::server::embedded {

namespace {

constexpr const char* schema_sql = R"(
CREATE TABLE IF NOT EXISTS channels (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  epoch TEXT NOT NULL,
  top INTEGER NOT NULL,
  keep_size INTEGER,
  keep_ttl_s INTEGER);
CREATE TABLE IF NOT EXISTS events (
  channel INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  frame TEXT NOT NULL,
  PRIMARY KEY (channel, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS docs (
  channel INTEGER NOT NULL,
  key TEXT NOT NULL,
  version INTEGER NOT NULL,
  value TEXT NOT NULL,
  cold INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (channel, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS indexes (
  name TEXT NOT NULL,
  member TEXT NOT NULL,
  score INTEGER NOT NULL,
  PRIMARY KEY (name, member)) WITHOUT ROWID;
-- Schema 2.
CREATE TABLE IF NOT EXISTS idempotency (
  channel INTEGER NOT NULL,
  key TEXT NOT NULL,
  seq INTEGER NOT NULL,
  expires INTEGER NOT NULL,
  PRIMARY KEY (channel, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_expiry ON idempotency (expires);
)";

}  // namespace

embedded_engine::embedded_engine(options opts, clock_fn clock)
    : opts_(std::move(opts)), clock_(std::move(clock)) {
  db_ = std::make_unique<database>(opts_.path, false, opts_.busy_timeout);
  db_->exec("PRAGMA journal_mode=WAL");
  db_->exec(opts_.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  // Hot B-tree pages stay cached (a bounded part of RSS); the WAL is folded into the file by
  // the reader thread's passive checkpoints, not inside the writer's commits.
  db_->exec("PRAGMA cache_size=-" + std::to_string(opts_.cache_mb * 1024));
  db_->exec("PRAGMA wal_autocheckpoint=0");
  db_->exec("PRAGMA journal_size_limit=67108864");  // a WAL that was reset shrinks to 64 MiB
  // Passive checkpoints cannot catch up with a writer that never pauses: past 64 MiB of WAL
  // the writer itself finishes one (most of it is already copied) and restarts the log.
  sqlite3_wal_hook(
      db_->handle(),
      [](void*, sqlite3* db, const char*, int pages) {
        if (pages >= 16384)
          sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
        return SQLITE_OK;
      },
      nullptr);
  auto version = db_->prepare("PRAGMA user_version");
  version.step();
  auto found = version.int64(0);
  version.reset();
  if (found > schema_version)
    throw sqlite_error(opts_.path + ": written by a newer musterd (schema " +
                           std::to_string(found) + "; this one knows up to " +
                           std::to_string(schema_version) + "): refusing to open it",
                       SQLITE_ERROR);
  // Every table is created if absent: that is also the migration of an older file (schema 1
  // lacks `idempotency`), in one transaction with the version it brings the file to.
  db_->exec("BEGIN IMMEDIATE");
  // Schema 3 added docs.cold; a file of 1 or 2 has the table without it.
  if (found > 0 && found < 3)
    db_->exec("ALTER TABLE docs ADD COLUMN cold INTEGER NOT NULL DEFAULT 0");
  db_->exec(schema_sql);
  db_->exec("PRAGMA user_version=" + std::to_string(schema_version));
  db_->exec("COMMIT");
  if (found > 0 && found < schema_version)
    spdlog::info("embedded engine: {} migrated from schema {} to {}", opts_.path, found,
                 schema_version);
  load();
  // Read-write only so that it can checkpoint; it never writes rows.
  read_ = std::make_unique<database>(opts_.path, false, opts_.busy_timeout);
  // A first read makes the connection see the WAL (its checkpoints do nothing before that).
  read_->exec("SELECT 1 FROM channels LIMIT 1");
}

void embedded_engine::load() {
  std::map<std::int64_t, std::string> names;
  auto channels = db_->prepare("SELECT id, name, epoch, top, keep_size, keep_ttl_s FROM channels");
  auto first = db_->prepare("SELECT MIN(seq) FROM events WHERE channel = ?1");
  std::size_t n = 0;
  while (channels.step()) {
    std::string name(channels.text(1));
    auto& sh = shard_for(name);
    channel_state st;
    st.id = channels.int64(0);
    st.epoch = std::string(channels.text(2));
    st.top = static_cast<std::uint64_t>(channels.int64(3));
    if (!channels.is_null(4))
      st.keep = retention{static_cast<std::size_t>(channels.int64(4)),
                          std::chrono::seconds(channels.int64(5))};
    first.bind(1, st.id);
    first.step();
    st.first = first.is_null(0) ? st.top + 1 : static_cast<std::uint64_t>(first.int64(0));
    first.reset();
    st.touched_ms = now_ms();
    names[st.id] = name;
    sh.channels.emplace(std::move(name), std::move(st));
    ++n;
  }
  // Cold documents stay on disk: memory only learns which keys may be there.
  auto docs = db_->prepare(
      "SELECT channel, key, version, CASE cold WHEN 0 THEN value ELSE '' END, cold FROM docs");
  std::size_t ndocs = 0, ncold = 0;
  while (docs.step()) {
    auto it = names.find(docs.int64(0));
    if (it == names.end()) continue;
    auto& st = shard_for(it->second).channels[it->second];
    if (docs.int64(4)) {
      st.cold.add(docs.text(1));
      ++ncold;
      continue;
    }
    st.docs.emplace(
        std::string(docs.text(1)),
        std::make_pair(static_cast<std::uint64_t>(docs.int64(2)), std::string(docs.text(3))));
    ++ndocs;
  }
  memory_docs_ = static_cast<std::int64_t>(ndocs);
  cold_docs_ = static_cast<std::int64_t>(ncold);
  auto keys = db_->prepare("SELECT channel, key, seq, expires FROM idempotency WHERE expires > ?1");
  keys.bind(1, now_ms());
  while (keys.step()) {
    auto it = names.find(keys.int64(0));
    if (it == names.end()) continue;
    shard_for(it->second)
        .channels[it->second]
        .keys.emplace(std::string(keys.text(1)),
                      std::make_pair(static_cast<std::uint64_t>(keys.int64(2)), keys.int64(3)));
  }
  auto idx = db_->prepare("SELECT name, member, score FROM indexes");
  while (idx.step()) indexes_[std::string(idx.text(0))][std::string(idx.text(1))] = idx.int64(2);
  spdlog::info("embedded engine: {} with {} channels, {} documents in memory, {} on disk only",
               opts_.path, n, ndocs, ncold);
}

void embedded_engine::start(engine_sink& sink) {
  sink_ = &sink;
  presence_.set_sink(&sink);
  ephemeral_.set_sink(&sink);
  writer_ = std::thread([this] { write_loop(); });
  reader_ = std::thread([this] { read_loop(); });
}

void embedded_engine::stop() {
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  {
    std::lock_guard lock(read_mutex_);
    read_stopping_ = true;
  }
  read_cv_.notify_all();
  // The writer commits what was queued before it stops: nothing asked for is dropped.
  if (writer_.joinable()) writer_.join();
  if (reader_.joinable()) reader_.join();
}

embedded_engine::shard& embedded_engine::shard_for(std::string_view channel) {
  return shards_[string_hash{}(channel) % shards_.size()];
}

embedded_engine::channel_state& embedded_engine::state(shard& s, std::string_view channel) {
  auto it = s.channels.find(channel);
  if (it == s.channels.end()) {
    // Not stored until something is written; the epoch is kept from now on.
    it = s.channels.emplace(std::string(channel), channel_state{}).first;
    it->second.epoch = new_epoch();
  }
  it->second.touched_ms = now_ms();
  return it->second;
}

std::int64_t embedded_engine::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_().time_since_epoch()).count();
}

std::size_t embedded_engine::keep_size(const channel_state& st) const {
  return st.keep ? st.keep->size : opts_.history_size;
}

std::int64_t embedded_engine::keep_ttl_ms(const channel_state& st) const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(st.keep ? st.keep->ttl
                                                                       : opts_.history_ttl)
      .count();
}

void embedded_engine::trim_window(channel_state& st, std::int64_t now) {
  while (st.window.size() > opts_.window) st.window.pop_front();
  auto ttl = keep_ttl_ms(st);
  // Expired in memory means expired on disk too (the sweep deletes those rows later).
  while (!st.window.empty() && st.window.front().ts_ms + ttl <= now) {
    st.first = std::max(st.first, st.window.front().offset + 1);
    st.window.pop_front();
  }
}

void embedded_engine::enqueue(std::unique_ptr<request> r) {
  {
    std::lock_guard lock(queue_mutex_);
    if (!stopping_) {
      queue_.push_back(std::move(r));
      if (queue_.size() == 1) queue_cv_.notify_one();
      return;
    }
  }
  std::vector<std::unique_ptr<request>> refused;
  refused.push_back(std::move(r));
  fail_all(refused, make_error_code(engine_errc::unavailable));
}

void embedded_engine::publish(std::string_view channel, std::string data, const client_info& sender,
                              std::string_view idempotency_key, publish_handler h) {
  auto r = std::make_unique<request>();
  r->kind = request::publish;
  r->channel.assign(channel);
  r->data = std::move(data);
  r->key.assign(idempotency_key);
  r->sender = sender;
  r->on_publish = std::move(h);
  enqueue(std::move(r));
}

void embedded_engine::commit(std::string_view channel, std::vector<doc_write> writes,
                             std::vector<event_spec> events, std::optional<retention> keep,
                             commit_handler h) {
  commit_with_indexes(channel, std::move(writes), std::move(events), keep, {}, std::move(h));
}

void embedded_engine::commit_with_indexes(std::string_view channel, std::vector<doc_write> writes,
                                          std::vector<event_spec> events,
                                          std::optional<retention> keep,
                                          std::vector<index_write> indexes, commit_handler h) {
  auto r = std::make_unique<request>();
  r->kind = request::commit;
  r->channel.assign(channel);
  r->writes = std::move(writes);
  r->events = std::move(events);
  r->indexes = std::move(indexes);
  r->keep = keep;
  r->on_commit = std::move(h);
  enqueue(std::move(r));
}

void embedded_engine::index_put(std::string index, std::string member, std::int64_t score,
                                done_handler h) {
  auto r = std::make_unique<request>();
  r->kind = request::index_put;
  r->index = std::move(index);
  r->member = std::move(member);
  r->score = score;
  r->on_done = std::move(h);
  enqueue(std::move(r));
}

void embedded_engine::index_remove(std::string index, std::string member, done_handler h) {
  auto r = std::make_unique<request>();
  r->kind = request::index_remove;
  r->index = std::move(index);
  r->member = std::move(member);
  r->on_done = std::move(h);
  enqueue(std::move(r));
}

void embedded_engine::index_put_earlier(std::string index, std::string member, std::int64_t score,
                                        done_handler h) {
  auto r = std::make_unique<request>();
  r->kind = request::index_put_earlier;
  r->index = std::move(index);
  r->member = std::move(member);
  r->score = score;
  r->on_done = std::move(h);
  enqueue(std::move(r));
}

void embedded_engine::index_replace(std::string index, std::string member, std::int64_t expect,
                                    std::optional<std::int64_t> score, done_handler h) {
  auto r = std::make_unique<request>();
  r->kind = request::index_replace;
  r->index = std::move(index);
  r->member = std::move(member);
  r->expect = expect;
  r->to = score;
  r->on_done = std::move(h);
  enqueue(std::move(r));
}

void embedded_engine::index_range(std::string index, std::int64_t max_score, std::size_t limit,
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

void embedded_engine::read_docs(std::string_view channel, std::vector<std::string> keys,
                                docs_handler h) {
  auto& sh = shard_for(channel);
  std::vector<doc> out;
  {
    std::lock_guard lock(sh.mutex);
    auto& st = state(sh, channel);
    out.reserve(keys.size());
    for (auto& k : keys) {
      auto it = st.docs.find(k);
      if (it != st.docs.end())
        out.push_back({std::move(k), it->second.second, it->second.first});
      else if (st.cold.may_hold(k))
        break;  // on disk: the reader thread answers them all
      else
        out.push_back({std::move(k), {}, 0});
    }
  }
  if (out.size() == keys.size()) return h({}, std::move(out));
  for (std::size_t i = 0; i < out.size(); ++i) keys[i] = std::move(out[i].key);
  // A cold document is read on the reader thread, never on the caller's.
  disk_read r;
  r.channel.assign(channel);
  r.docs = true;
  r.keys = std::move(keys);
  r.on_docs = std::move(h);
  queue_read(std::move(r));
}

void embedded_engine::list_docs(std::string_view channel, std::string prefix, docs_handler h) {
  auto& sh = shard_for(channel);
  std::vector<doc> out;
  bool on_disk;
  {
    std::lock_guard lock(sh.mutex);
    auto& st = state(sh, channel);
    on_disk = st.cold.may_hold_prefix(prefix);
    if (!on_disk)
      for (auto it = st.docs.lower_bound(prefix);
           it != st.docs.end() && std::string_view(it->first).starts_with(prefix); ++it)
        out.push_back({it->first, it->second.second, it->second.first});
  }
  if (!on_disk) return h({}, std::move(out));
  disk_read r;
  r.channel.assign(channel);
  r.docs = r.by_prefix = true;
  r.prefix = std::move(prefix);
  r.on_docs = std::move(h);
  queue_read(std::move(r));
}

void embedded_engine::queue_read(disk_read r) {
  {
    std::lock_guard lock(read_mutex_);
    if (!read_stopping_) {
      reads_.push_back(std::move(r));
      read_cv_.notify_one();
      return;
    }
  }
  auto ec = make_error_code(engine_errc::unavailable);
  if (r.docs)
    r.on_docs(ec, {});
  else
    r.h(ec, {});
}

void embedded_engine::read_docs_from_disk(const std::string& channel,
                                          const std::vector<std::string>& keys,
                                          const std::string& prefix, bool by_prefix,
                                          docs_handler& h) {
  disk_reads_.fetch_add(1, std::memory_order_relaxed);
  std::vector<doc> out;
  try {
    read_->exec("BEGIN");
    auto ch = read_->prepare("SELECT id FROM channels WHERE name = ?1");
    ch.bind(1, channel);
    auto id = ch.step() ? ch.int64(0) : 0;
    if (by_prefix) {
      auto q = read_->prepare(
          "SELECT key, version, value FROM docs WHERE channel = ?1 AND key >= ?2 ORDER BY key");
      q.bind(1, id).bind(2, prefix);
      while (q.step() && q.text(0).starts_with(prefix))
        out.push_back({std::string(q.text(0)), std::string(q.text(2)),
                       static_cast<std::uint64_t>(q.int64(1))});
    } else {
      auto q = read_->prepare("SELECT version, value FROM docs WHERE channel = ?1 AND key = ?2");
      for (const auto& k : keys) {
        q.bind(1, id).bind(2, k);
        if (q.step())
          out.push_back({k, std::string(q.text(1)), static_cast<std::uint64_t>(q.int64(0))});
        else
          out.push_back({k, {}, 0});
        q.reset();
      }
    }
    read_->exec("COMMIT");
  } catch (const sqlite_error& e) {
    spdlog::error("embedded engine: documents of {} not read: {}", channel, e.what());
    try {
      read_->exec("ROLLBACK");
    } catch (const sqlite_error&) {
    }
    return h(make_error_code(engine_errc::unavailable), {});
  }
  h({}, std::move(out));
}

namespace {

// Answers `q` from the newest events held in memory when they cover it.
bool from_window(const embedded_engine::channel_state& st, const history_query& q,
                 history_result& r) {
  r.top = {st.top, st.epoch};
  r.first_offset = st.first;
  if (q.limit == 0) return true;
  const auto& w = st.window;
  auto window_first = w.empty() ? st.top + 1 : w.front().offset;
  // Memory holds everything still retained, or at least what was asked for.
  bool whole = window_first <= st.first;
  std::size_t begin;
  if (q.since) {
    if (*q.since >= st.top) return true;
    auto from = *q.since + 1;
    if (from < window_first && !whole) return false;
    begin = from < window_first ? 0 : static_cast<std::size_t>(from - window_first);
  } else {
    if (w.size() < q.limit && !whole) return false;
    begin = w.size() > q.limit ? w.size() - q.limit : 0;
  }
  auto end = std::min(w.size(), begin + q.limit);
  r.publications.assign(w.begin() + static_cast<std::ptrdiff_t>(begin),
                        w.begin() + static_cast<std::ptrdiff_t>(end));
  return true;
}

}  // namespace

void embedded_engine::history(std::string_view channel, history_query q, history_handler h) {
  auto& sh = shard_for(channel);
  history_result r;
  bool answered;
  {
    std::lock_guard lock(sh.mutex);
    auto& st = state(sh, channel);
    trim_window(st, now_ms());
    answered = from_window(st, q, r);
  }
  if (answered) return h({}, std::move(r));
  // Older than memory holds: read on the reader thread, never on the caller's.
  disk_read read;
  read.channel.assign(channel);
  read.q = q;
  read.h = std::move(h);
  queue_read(std::move(read));
}

void embedded_engine::read_loop() {
  constexpr auto checkpoint_every = std::chrono::milliseconds(500);
  auto next_checkpoint = std::chrono::steady_clock::now() + checkpoint_every;
  for (;;) {
    disk_read next;
    {
      std::unique_lock lock(read_mutex_);
      bool woken = read_cv_.wait_until(lock, next_checkpoint,
                                       [this] { return read_stopping_ || !reads_.empty(); });
      if (woken && reads_.empty()) return;  // stopping
      if (woken) {
        next = std::move(reads_.front());
        reads_.pop_front();
      }
    }
    if (std::chrono::steady_clock::now() >= next_checkpoint) {
      checkpoint();
      next_checkpoint = std::chrono::steady_clock::now() + checkpoint_every;
    }
    if (next.docs)
      read_docs_from_disk(next.channel, next.keys, next.prefix, next.by_prefix, next.on_docs);
    else if (next.h)
      read_from_disk(next.channel, next.q, next.h);
  }
}

void embedded_engine::checkpoint() {
  // Passive: copies what it can of the WAL into the file without ever blocking the writer.
  int frames = 0, copied = 0;
  int rc = sqlite3_wal_checkpoint_v2(read_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames,
                                     &copied);
  if (rc != SQLITE_OK && rc != SQLITE_BUSY)
    spdlog::warn("embedded engine: checkpoint of {} failed: {}", opts_.path,
                 sqlite3_errmsg(read_->handle()));
}

void embedded_engine::read_from_disk(const std::string& channel, history_query q,
                                     history_handler& h) {
  disk_reads_.fetch_add(1, std::memory_order_relaxed);
  history_result r;
  try {
    // One read transaction: the position and the events are one snapshot.
    read_->exec("BEGIN");
    auto ch = read_->prepare("SELECT id, epoch, top, keep_ttl_s FROM channels WHERE name = ?1");
    ch.bind(1, channel);
    if (!ch.step()) {
      read_->exec("COMMIT");
      return h(make_error_code(engine_errc::bad_reply), {});
    }
    auto id = ch.int64(0);
    r.top = {static_cast<std::uint64_t>(ch.int64(2)), std::string(ch.text(1))};
    auto ttl_ms =
        ch.is_null(3)
            ? std::chrono::duration_cast<std::chrono::milliseconds>(opts_.history_ttl).count()
            : ch.int64(3) * 1000;
    auto cutoff = now_ms() - ttl_ms;
    auto first = read_->prepare("SELECT MIN(seq) FROM events WHERE channel = ?1 AND ts > ?2");
    first.bind(1, id).bind(2, cutoff);
    first.step();
    r.first_offset =
        first.is_null(0) ? r.top.offset + 1 : static_cast<std::uint64_t>(first.int64(0));
    auto rows = q.since ? read_->prepare(
                              "SELECT seq, ts, frame FROM events WHERE channel = ?1 AND ts > ?2 "
                              "AND seq > ?3 ORDER BY seq LIMIT ?4")
                        : read_->prepare(
                              "SELECT seq, ts, frame FROM events WHERE channel = ?1 AND ts > ?2 "
                              "ORDER BY seq DESC LIMIT ?4");
    rows.bind(1, id).bind(2, cutoff).bind(4, static_cast<std::int64_t>(q.limit));
    if (q.since) rows.bind(3, static_cast<std::int64_t>(*q.since));
    while (rows.step())
      r.publications.push_back({static_cast<std::uint64_t>(rows.int64(0)), rows.int64(1),
                                std::make_shared<const std::string>(rows.text(2))});
    if (!q.since) std::reverse(r.publications.begin(), r.publications.end());
    read_->exec("COMMIT");
  } catch (const sqlite_error& e) {
    spdlog::error("embedded engine: history of {} not read: {}", channel, e.what());
    try {
      read_->exec("ROLLBACK");
    } catch (const sqlite_error&) {
    }
    return h(make_error_code(engine_errc::unavailable), {});
  }
  h({}, std::move(r));
}

void embedded_engine::presence(std::string_view channel, presence_handler h) {
  h({}, presence_.list(channel));
}

void embedded_engine::presence_join(std::string_view channel, const client_info& who) {
  presence_.join(channel, who);
}

void embedded_engine::presence_leave(std::string_view channel, const client_info& who) {
  presence_.leave(channel, who);
}

void embedded_engine::ephemeral_set(std::string_view channel, std::string key, std::string value,
                                    std::chrono::milliseconds ttl, std::string event,
                                    set_handler h) {
  ephemeral_.set(channel, std::move(key), std::move(value), ttl, std::move(event));
  h({});
}

void embedded_engine::ephemeral_list(std::string_view channel, std::string prefix,
                                     entries_handler h) {
  h({}, ephemeral_.list(channel, prefix));
}

void embedded_engine::sweep() {
  ephemeral_.sweep();
  auto now = now_ms();
  constexpr std::int64_t unused_ms = 60'000;
  for (auto& sh : shards_) {
    std::lock_guard lock(sh.mutex);
    for (auto it = sh.channels.begin(); it != sh.channels.end();) {
      auto& st = it->second;
      trim_window(st, now);
      std::erase_if(st.keys, [now](const auto& k) { return k.second.second <= now; });
      // Channels that were only read (never stored) are forgotten like the memory engine's.
      bool unused = st.id == 0 && st.docs.empty() && st.cold.empty() &&
                    presence_.empty(it->first) && now - st.touched_ms > unused_ms;
      it = unused ? sh.channels.erase(it) : std::next(it);
    }
  }
  auto r = std::make_unique<request>();
  r->kind = request::expire;
  r->on_done = [](std::error_code) {};
  enqueue(std::move(r));
}

void embedded_engine::append_metrics(std::string& out) const {
  out +=
      "# HELP muster_storage_up Whether the last commit to the database succeeded (1) or not (0)\n"
      "# TYPE muster_storage_up gauge\n";
  out += std::string("muster_storage_up ") + (healthy_ ? "1" : "0") + "\n";
  out +=
      "# HELP muster_storage_commits_total Transactions committed (each holds a group of "
      "changes)\n# TYPE muster_storage_commits_total counter\n";
  out += "muster_storage_commits_total " + std::to_string(commits_.load()) + "\n";
  out +=
      "# HELP muster_storage_commit_failures_total Transactions that failed (their changes were "
      "refused)\n# TYPE muster_storage_commit_failures_total counter\n";
  out += "muster_storage_commit_failures_total " + std::to_string(failures_.load()) + "\n";
  out +=
      "# HELP muster_storage_disk_reads_total Reads from the file: history older than the "
      "in-memory window, documents kept on disk only\n"
      "# TYPE muster_storage_disk_reads_total counter\n";
  out += "muster_storage_disk_reads_total " + std::to_string(disk_reads_.load()) + "\n";
  out +=
      "# HELP muster_storage_documents Documents held in memory, and only on disk (cold: "
      "closed alerts)\n# TYPE muster_storage_documents gauge\n";
  out += "muster_storage_documents{where=\"memory\"} " + std::to_string(memory_docs_.load()) + "\n";
  out += "muster_storage_documents{where=\"disk\"} " + std::to_string(cold_docs_.load()) + "\n";
}

}  // namespace muster::server::embedded
