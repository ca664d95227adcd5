#pragma once
// `muster admin`: operations on a node's files, safe while the node runs.
#include <CLI/CLI.hpp>

#include <string>

namespace muster::cli {

struct admin_options {
  std::string storage = "/var/lib/muster/muster.db";  // the embedded engine's database
  std::string out;                                    // backup: the file to write
};

void add_admin_options(CLI::App& admin, admin_options& o);
/// Runs the admin subcommand that was parsed; returns the process exit code.
int run_admin(CLI::App& admin, const admin_options& o);

}  // namespace muster::cli
