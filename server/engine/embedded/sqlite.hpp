#pragma once
// Thin RAII over SQLite's C API: a connection and its prepared statements, errors as text that
// names the file and SQLite's own message. No threads of its own; one thread per connection.
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace muster::server::embedded {

/// A failed SQLite call: `what` names the file, the step and SQLite's message.
struct sqlite_error : std::runtime_error {
  sqlite_error(std::string what, int rc) : std::runtime_error(std::move(what)), code(rc) {}
  int code;  // the primary result code (SQLITE_FULL, SQLITE_READONLY, SQLITE_CORRUPT, ...)
};

class statement {
 public:
  statement() = default;
  statement(sqlite3* db, std::string_view sql, const std::string& file);
  statement(statement&&) noexcept = default;
  statement& operator=(statement&&) noexcept = default;

  statement& bind(int i, std::int64_t v);
  statement& bind(int i, std::string_view v);
  /// Binds without a copy: `v` must stay alive until the statement is reset.
  statement& bind_static(int i, std::string_view v);
  statement& bind_null(int i);
  /// True while a row is available; false when done. Throws sqlite_error.
  bool step();
  /// Steps to completion (a statement that returns no rows) and resets.
  void run();
  void reset();
  std::int64_t int64(int col) const;
  std::string_view text(int col) const;
  bool is_null(int col) const;

 private:
  struct finalizer {
    void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
  };
  std::unique_ptr<sqlite3_stmt, finalizer> stmt_;
  sqlite3* db_ = nullptr;
  const std::string* file_ = nullptr;
};

class database {
 public:
  /// Opens (creating if needed) `path`; `read_only` for a second connection that only reads.
  database(std::string path, bool read_only,
           std::chrono::milliseconds busy_timeout = std::chrono::milliseconds(5000));
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  statement prepare(std::string_view sql) { return statement(db_.get(), sql, path_); }
  /// Runs one or more statements without results.
  void exec(std::string_view sql);
  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_.get(); }

 private:
  struct closer {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
  };
  std::string path_;
  std::unique_ptr<sqlite3, closer> db_;
};

/// Throws sqlite_error for `rc` (anything but OK/ROW/DONE) with `where` and the db's message.
void check(sqlite3* db, int rc, std::string_view where, const std::string& file);

}  // namespace muster::server::embedded
