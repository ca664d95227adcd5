#include "clients/cli/admin.hpp"

#include <filesystem>
#include <iostream>

#include "server/engine/embedded/sqlite.hpp"

namespace muster::cli {

namespace {

// A consistent copy of the database (one read snapshot: what was committed when it began),
// written beside and renamed into place, while musterd goes on writing (WAL readers never
// block the writer).
int backup(const admin_options& o) {
  namespace fs = std::filesystem;
  if (!fs::exists(o.storage)) {
    std::cerr << "muster admin backup: " << o.storage << " does not exist\n";
    return 2;
  }
  if (fs::exists(o.out)) {
    std::cerr << "muster admin backup: " << o.out << " exists; refusing to overwrite it\n";
    return 2;
  }
  auto partial = o.out + ".partial";
  std::error_code ec;
  fs::remove(partial, ec);
  try {
    server::embedded::database db(o.storage, true);
    db.prepare("VACUUM INTO ?1").bind(1, partial).run();
  } catch (const server::embedded::sqlite_error& e) {
    fs::remove(partial, ec);
    std::cerr << "muster admin backup: " << e.what() << "\n";
    return 1;
  }
  fs::rename(partial, o.out, ec);
  if (ec) {
    std::cerr << "muster admin backup: cannot rename " << partial << ": " << ec.message() << "\n";
    return 1;
  }
  std::cout << "backed up " << o.storage << " to " << o.out << " (" << fs::file_size(o.out)
            << " bytes)\n";
  return 0;
}

}  // namespace

void add_admin_options(CLI::App& admin, admin_options& o) {
  auto* b =
      admin.add_subcommand("backup",
                           "Copy the embedded engine's database while musterd runs (restore: stop "
                           "musterd, put the copy at storage.path, start it)");
  b->add_option("--storage", o.storage, "The database (musterd's storage.path)")
      ->capture_default_str();
  b->add_option("file", o.out, "Where to write the copy (must not exist)")->required();
  admin.require_subcommand(1);
}

int run_admin(CLI::App& admin, const admin_options& o) {
  if (admin.got_subcommand("backup")) return backup(o);
  return 2;
}

}  // namespace muster::cli
