// What only the durable engine promises: state survives a new engine on the same file, an
// unusable file is refused with its name, and a failed write is refused, not half-done.
#include <sqlite3.h>

#include <fstream>

#include "server/engine/embedded/sqlite.hpp"
#include "tests/integration/engines/engine_fixture.hpp"

using namespace muster::server;
using namespace muster::test;
using namespace std::chrono_literals;
using muster::server::embedded::embedded_engine;

namespace {

class embedded_file : public engine_fixture {
 protected:
  std::string file() const { return (dir.path() / "durable.db").string(); }
  void open(std::size_t window = 4) {
    if (eng) eng->stop();
    eng.reset();
    embedded_engine::options o;
    o.path = file();
    o.history_size = 100;
    o.window = window;
    o.busy_timeout = 100ms;
    eng = std::make_unique<embedded_engine>(o);
    eng->start(sink);
  }
  void sql(const std::string& statement) {
    muster::server::embedded::database db(file(), false);
    db.exec(statement);
  }
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(engines, embedded_file, ::testing::Values("embedded"), engine_name);

TEST_P(embedded_file, a_new_engine_on_the_file_has_every_stream_document_and_index) {
  open();
  for (int i = 1; i <= 10; ++i) publish("a", std::to_string(i));
  publish("b", "\"x\"");
  auto before_a = history("a", 0, 100);
  ASSERT_EQ(before_a.publications.size(), 10u);
  auto c = commit("crisis", {{"alert:1", 0, R"({"id":"1"})"}, {"meta", 0, "{}"}},
                  {{"alert.new", R"({"n":1})", {"c1", "alice"}}}, retention{50, 3600s});
  ASSERT_TRUE(c.applied);
  ASSERT_TRUE(commit("crisis", {{"meta", 1, ""}}).applied) << "a deletion";
  index_op(true, "due", "crisis 1", 42);
  index_op(true, "due", "crisis 2", 7);
  index_op(false, "due", "crisis 2", 0);

  open();  // the same file, a fresh process's view
  auto a = history("a", 0, 100);
  EXPECT_EQ(a.top, before_a.top) << "same offset and epoch";
  ASSERT_EQ(a.publications.size(), 10u);
  for (std::size_t i = 0; i < 10; ++i)
    EXPECT_EQ(*a.publications[i].frame, *before_a.publications[i].frame);
  EXPECT_TRUE(can_recover({3, before_a.top.epoch}, history("a", 3, 100)))
      << "a client that saw offset 3 before the restart recovers";
  EXPECT_EQ(publish("a", "11").offset, 11u) << "offsets go on";
  auto docs = read_docs("crisis", {"alert:1", "meta"});
  EXPECT_EQ(docs[0].version, 1u);
  EXPECT_EQ(docs[0].value, R"({"id":"1"})");
  EXPECT_EQ(docs[1].version, 0u) << "deleted stays deleted";
  auto due = index_range("due", 1000, 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0], (std::pair<std::string, std::int64_t>{"crisis 1", 42}));
  auto crisis = history("crisis", 0, 100);
  ASSERT_EQ(crisis.publications.size(), 1u);
  EXPECT_NE(crisis.publications[0].frame->find("alert.new"), std::string::npos);
}

TEST_P(embedded_file, retention_outlives_a_restart) {
  open();
  for (int i = 1; i <= 130; ++i) publish("r", std::to_string(i));  // history_size is 100
  open();
  auto h = history("r", 0, 1000);
  EXPECT_EQ(h.first_offset, 31u);
  ASSERT_EQ(h.publications.size(), 100u);
  EXPECT_EQ(h.publications.front().offset, 31u);
  EXPECT_EQ(h.publications.back().offset, 130u);
}

TEST_P(embedded_file, a_file_from_a_newer_musterd_is_refused_by_name) {
  open();
  eng->stop();
  eng.reset();
  sql("PRAGMA user_version=99");
  embedded_engine::options o;
  o.path = file();
  try {
    embedded_engine e(o);
    FAIL() << "opened a newer schema";
  } catch (const muster::server::embedded::sqlite_error& e) {
    EXPECT_NE(std::string(e.what()).find(file()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }
}

TEST_P(embedded_file, a_file_that_is_not_a_database_is_refused_by_name) {
  {
    std::ofstream f(file());
    f << std::string(4096, 'x');
  }
  embedded_engine::options o;
  o.path = file();
  try {
    embedded_engine e(o);
    FAIL() << "opened garbage";
  } catch (const muster::server::embedded::sqlite_error& e) {
    EXPECT_NE(std::string(e.what()).find(file()), std::string::npos) << e.what();
  }
}

TEST_P(embedded_file, a_write_that_cannot_be_stored_is_refused_whole_and_the_engine_recovers) {
  open();
  publish("w", "1");
  // Another process holds the database: the writer cannot commit.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(file().c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto failed = await<std::error_code>([&](auto set) {
    eng->commit("w", {{"k", 0, "v"}}, {{"e", "{}", {"c", "n"}}}, std::nullopt,
                [set](std::error_code ec, commit_result) { set(ec); });
  });
  EXPECT_EQ(failed, make_error_code(engine_errc::unavailable)) << "refused, not applied";
  EXPECT_FALSE(eng->ready()) << "/readyz says so";
  std::string metrics;
  eng->append_metrics(metrics);
  EXPECT_NE(metrics.find("muster_storage_up 0"), std::string::npos) << metrics;
  EXPECT_EQ(read_docs("w", {"k"})[0].version, 0u) << "nothing of it is visible";
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  EXPECT_EQ(publish("w", "2").offset, 2u) << "the refused event took no offset";
  EXPECT_TRUE(eng->ready());
  ASSERT_TRUE(commit("w", {{"k", 0, "v"}}).applied);
}

TEST_P(embedded_file, requests_queued_before_stop_are_still_committed) {
  open();
  std::atomic<int> done{0};
  for (int i = 0; i < 200; ++i)
    eng->publish("q", std::to_string(i), {"c", "n"}, [&](std::error_code ec, auto) {
      EXPECT_FALSE(ec);
      ++done;
    });
  eng->stop();
  EXPECT_EQ(done.load(), 200);
  open();
  EXPECT_EQ(history("q", 0, 1000).top.offset, 200u);
}

TEST_P(embedded_file, an_idempotency_key_outlives_a_restart) {
  open();
  auto keyed = [&](const std::string& data) {
    return await<muster::protocol::stream_position>([&](auto set) {
      eng->publish("k", data, {"c", "n"}, "retry-me", [set](std::error_code ec, auto p) {
        EXPECT_FALSE(ec);
        set(std::move(p));
      });
    });
  };
  auto first = keyed("1");
  open();
  EXPECT_EQ(keyed("1"), first) << "a client retrying after the restart is not published twice";
  EXPECT_EQ(history("k", 0, 10).publications.size(), 1u);
}

TEST_P(embedded_file, a_file_of_the_previous_schema_is_migrated_and_keeps_its_data) {
  {
    // What schema 1 wrote: no idempotency table, user_version 1.
    muster::server::embedded::database db(file(), false);
    db.exec(
        "CREATE TABLE channels (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, epoch TEXT "
        "NOT NULL, top INTEGER NOT NULL, keep_size INTEGER, keep_ttl_s INTEGER);"
        "CREATE TABLE events (channel INTEGER NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT "
        "NULL, frame TEXT NOT NULL, PRIMARY KEY (channel, seq)) WITHOUT ROWID;"
        "CREATE TABLE docs (channel INTEGER NOT NULL, key TEXT NOT NULL, version INTEGER NOT "
        "NULL, value TEXT NOT NULL, PRIMARY KEY (channel, key)) WITHOUT ROWID;"
        "CREATE TABLE indexes (name TEXT NOT NULL, member TEXT NOT NULL, score INTEGER NOT NULL, "
        "PRIMARY KEY (name, member)) WITHOUT ROWID;"
        "INSERT INTO channels VALUES (1, 'old', 'abcd1234', 1, NULL, NULL);"
        "INSERT INTO events VALUES (1, 1, " +
        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count()) +
        ", '{\"event\":\"message\",\"offset\":1}');"
        "INSERT INTO docs VALUES (1, 'meta', 3, '{}');"
        "PRAGMA user_version=1;");
  }
  open();
  auto h = history("old", 0, 10);
  EXPECT_EQ(h.top, (muster::protocol::stream_position{1, "abcd1234"}));
  ASSERT_EQ(h.publications.size(), 1u);
  EXPECT_EQ(read_docs("old", {"meta"})[0].version, 3u);
  eng->stop();
  eng.reset();
  muster::server::embedded::database db(file(), false);
  auto v = db.prepare("PRAGMA user_version");
  ASSERT_TRUE(v.step());
  EXPECT_EQ(v.int64(0), embedded_engine::schema_version);
  v.reset();
  db.exec("SELECT count(*) FROM idempotency");  // the table schema 2 added exists
  db.exec("SELECT cold FROM docs");             // the column schema 3 added exists
}

namespace {
std::string stored_documents(embedded_engine& e) {
  std::string m;
  e.append_metrics(m);
  auto from = m.find("muster_storage_documents{where=\"memory\"}");
  return from == std::string::npos ? m : m.substr(from, m.find('\n', m.find("disk", from)) - from);
}
std::string disk_reads(embedded_engine& e) {
  std::string m;
  e.append_metrics(m);
  auto from = m.find("muster_storage_disk_reads_total ");
  return from == std::string::npos ? m : m.substr(from, m.find('\n', from) - from);
}
}  // namespace

TEST_P(embedded_file, cold_documents_leave_memory_and_are_still_read_written_and_restored) {
  open();
  ASSERT_TRUE(
      commit("c", {{"alert:1", 0, R"({"n":1})"}, {"alert:2", 0, R"({"n":2})"}, {"meta", 0, "{}"}})
          .applied);
  // Closing alert 1 and 2: written cold, the memory holds only "meta".
  ASSERT_TRUE(commit("c", {{"alert:1", 1, R"({"n":1,"closed":true})", true},
                           {"alert:2", 1, R"({"n":2,"closed":true})", true}})
                  .applied);
  auto* embedded = dynamic_cast<embedded_engine*>(eng.get());
  ASSERT_NE(embedded, nullptr);
  EXPECT_EQ(stored_documents(*embedded),
            "muster_storage_documents{where=\"memory\"} 1\n"
            "muster_storage_documents{where=\"disk\"} 2");
  auto both = read_docs("c", {"alert:1", "meta", "alert:9"});
  ASSERT_EQ(both.size(), 3u);
  EXPECT_EQ(both[0].value, R"({"n":1,"closed":true})");
  EXPECT_EQ(both[0].version, 2u);
  EXPECT_EQ(both[1].value, "{}");
  EXPECT_EQ(both[2].version, 0u) << "absent stays absent";
  // Keys that cannot be cold are answered from memory, without a read of the file.
  auto reads = disk_reads(*embedded);
  EXPECT_EQ(read_docs("c", {"meta", "member:x"})[0].value, "{}");
  ASSERT_EQ(list_docs("c", "me").size(), 1u);
  EXPECT_TRUE(list_docs("c", "member:").empty());
  EXPECT_EQ(disk_reads(*embedded), reads);
  auto listed = list_docs("c", "alert:");
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[1].key, "alert:2");
  EXPECT_EQ(listed[1].version, 2u);

  // Compare-and-set against the version on disk: a stale write is refused with the current.
  auto stale = commit("c", {{"alert:2", 1, R"({"n":2,"reopened":true})"}});
  EXPECT_FALSE(stale.applied);
  ASSERT_EQ(stale.current.size(), 1u);
  EXPECT_EQ(stale.current[0].version, 2u);
  EXPECT_EQ(stale.current[0].value, R"({"n":2,"closed":true})");
  // Reopened (written hot): back in memory. Deleted while cold: gone from both.
  ASSERT_TRUE(commit("c", {{"alert:2", 2, R"({"n":2,"reopened":true})"}}).applied);
  ASSERT_TRUE(commit("c", {{"alert:1", 2, ""}}).applied);
  EXPECT_EQ(stored_documents(*embedded),
            "muster_storage_documents{where=\"memory\"} 2\n"
            "muster_storage_documents{where=\"disk\"} 0");
  ASSERT_TRUE(commit("c", {{"alert:2", 3, R"({"n":2,"closed":true})", true}}).applied);

  open();  // a fresh process loads only the keys of cold documents
  embedded = dynamic_cast<embedded_engine*>(eng.get());
  EXPECT_EQ(stored_documents(*embedded),
            "muster_storage_documents{where=\"memory\"} 1\n"
            "muster_storage_documents{where=\"disk\"} 1");
  auto after = list_docs("c", "");
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].key, "alert:2");
  EXPECT_EQ(after[0].version, 4u);
  EXPECT_EQ(after[0].value, R"({"n":2,"closed":true})");
  EXPECT_EQ(after[1].key, "meta");
  EXPECT_EQ(read_docs("c", {"alert:1"})[0].version, 0u) << "the deletion stays";
}
