#pragma once
// The crisis workflow from a terminal: `muster alerts`, `claim`, `release`, `resolve`,
// `dismiss`, `respond`, `assign`, `guidance post|ack|status`, `stats`, `timeline` and
// `channels`, each one command on the typed calls of clients/lib/crisis.hpp. A refusal is
// printed as `muster <cmd>: <code>: <message>` on stderr, exit code 1.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "clients/lib/blocking_client.hpp"

namespace muster::cli {

struct workflow_options {
  client::server_urls urls;  // set by main from --url once parsed
  client::tls_options tls;   // --ca-file
  std::string name, token;
  std::string channel, status, id, reply_url, text, to, kind, title, body;
  std::string format = "jsonl";
  std::string jti, user, reason;  // token revoke
  std::uint64_t limit = 0;
  std::int64_t ack_within_s = 0, version = 0;
  bool json = false, timestamps = false;
};

/// Adds the workflow subcommands to `app`; `common` adds --url, --name and --token to each.
void add_workflow_commands(CLI::App& app, workflow_options& o,
                           const std::function<void(CLI::App*)>& common);
/// `muster token revoke`: token.revoke with --jti or --user (admins); the process's exit code.
int revoke_token(const workflow_options& o);
/// Runs the workflow subcommand `app` parsed; nullopt when it parsed none of them.
std::optional<int> run_workflow(const CLI::App& app, const workflow_options& o);

}  // namespace muster::cli
