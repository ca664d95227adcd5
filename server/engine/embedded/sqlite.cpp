#include "server/engine/embedded/sqlite.hpp"

#include <cstring>

namespace muster::server::embedded {

namespace {
// SQLite's message alone ("disk I/O error") may hide the cause: add errno when it kept one.
std::string with_os_error(std::string msg, sqlite3* db, int rc) {
  int primary = rc & 0xff;
  bool from_the_os = primary == SQLITE_IOERR || primary == SQLITE_FULL ||
                     primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY;
  if (int e = db ? sqlite3_system_errno(db) : 0; from_the_os && e != 0)
    msg += " (" + std::string(std::strerror(e)) + ")";
  return msg;
}
}  // namespace

void check(sqlite3* db, int rc, std::string_view where, const std::string& file) {
  if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return;
  std::string msg = file + ": " + std::string(where) + ": " +
                    with_os_error(db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), db, rc);
  throw sqlite_error(std::move(msg), rc & 0xff);
}

statement::statement(sqlite3* db, std::string_view sql, const std::string& file)
    : db_(db), file_(&file) {
  sqlite3_stmt* s = nullptr;
  check(db,
        sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &s, nullptr),
        "prepare", file);
  stmt_.reset(s);
}

statement& statement::bind(int i, std::int64_t v) {
  check(db_, sqlite3_bind_int64(stmt_.get(), i, v), "bind", *file_);
  return *this;
}

statement& statement::bind(int i, std::string_view v) {
  check(db_,
        sqlite3_bind_text(stmt_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT),
        "bind", *file_);
  return *this;
}

statement& statement::bind_static(int i, std::string_view v) {
  check(db_, sqlite3_bind_text(stmt_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC),
        "bind", *file_);
  return *this;
}

statement& statement::bind_null(int i) {
  check(db_, sqlite3_bind_null(stmt_.get(), i), "bind", *file_);
  return *this;
}

bool statement::step() {
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3_reset(stmt_.get());
  check(db_, rc, sqlite3_sql(stmt_.get()), *file_);
  return false;
}

void statement::run() {
  while (step()) {
  }
  reset();
}

void statement::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

std::int64_t statement::int64(int col) const {
  return sqlite3_column_int64(stmt_.get(), col);
}

std::string_view statement::text(int col) const {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_.get(), col));
  return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), col)))
           : std::string_view();
}

bool statement::is_null(int col) const {
  return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL;
}

database::database(std::string path, bool read_only, std::chrono::milliseconds busy_timeout)
    : path_(std::move(path)) {
  // No global memory statistics: they take a mutex on every allocation. Only possible before
  // SQLite initializes itself (a later call is refused harmlessly).
  static const bool configured = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
  (void)configured;
  sqlite3* db = nullptr;
  int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
              SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path_.c_str(), &db, flags, nullptr);
  db_.reset(db);
  check(db, rc, "open", path_);
  sqlite3_extended_result_codes(db, 0);
  // A busy checkpoint or the other connection must not fail a call at once.
  sqlite3_busy_timeout(db, static_cast<int>(busy_timeout.count()));
}

void database::exec(std::string_view sql) {
  std::string text(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  if (rc != SQLITE_OK)
    throw sqlite_error(
        path_ + ": " + text.substr(0, 60) + ": " + with_os_error(std::move(msg), db_.get(), rc),
        rc & 0xff);
}

}  // namespace muster::server::embedded
