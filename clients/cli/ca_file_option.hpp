#pragma once
// The one --ca-file flag of every subcommand that reaches a server over TLS, defaulting to the
// environment's MUSTER_CA_FILE. Called while the command line is set up (main thread).
#include <CLI/CLI.hpp>

#include <cstdlib>

#include "clients/lib/tls_options.hpp"

namespace muster::cli {

/// Adds --ca-file to `app`, bound to `tls.ca_file` (from MUSTER_CA_FILE unless already set).
inline void add_ca_file_option(CLI::App& app, client::tls_options& tls) {
  if (const char* f = std::getenv("MUSTER_CA_FILE"); f && tls.ca_file.empty()) tls.ca_file = f;
  app.add_option("--ca-file", tls.ca_file,
                 "PEM file of a private CA to trust for wss:// and https://, besides the "
                 "system's CAs (env MUSTER_CA_FILE)");
}

}  // namespace muster::cli
