#pragma once
// `muster bot`: turns social posts into Muster alerts. Reads posts as JSON Lines (a file or
// stdin) or polls an HTTP feed (JSON or Atom) at an interval, maps each post's fields by a small
// TOML file, pushes it to POST /api/v1/alerts with retries (429, 5xx, server away), never sends
// a post twice (a state file remembers what was sent, across restarts), and reports each post
// and a summary.
#include <CLI/CLI.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "clients/lib/tls_options.hpp"

namespace muster::cli {

struct bot_options {
  std::string server = "http://127.0.0.1:8080";  // the HTTP base main derives from --url
  std::string token;
  client::tls_options tls;  // https:// server or feed with a private CA
  std::string input;        // JSON Lines file, "-" for stdin
  std::string feed;         // http:// or https:// URL of a JSON or Atom feed
  double interval_s = 60;
  bool once = false;  // feed: poll once and exit
  std::string map_file;
  std::string state_file;
  int max_attempts = 8;
};

/// Where each alert field comes from: a dotted path into the post ("user.handle"), or a
/// literal ("=x"). Built from the defaults, then the [map] table of the --map file.
struct field_map {
  std::map<std::string, std::string> fields;  // alert field -> path or "=literal"
  std::string items;  // JSON feeds: dotted path of the posts array ("" = the document itself)
  static field_map defaults();
  /// Applies a TOML file; throws std::runtime_error naming the problem.
  void load(const std::string& toml_file);
};

/// One post mapped to an alert: its JSON body for POST /api/v1/alerts and its dedup key, or
/// the reason it cannot be sent.
struct mapped_post {
  std::string body;
  std::string key;
  std::string error;
};
/// A count as posts give it: 12000, "12000", "12k", "2.4M", "1.2B" (k, M, B in either case);
/// nullopt for anything else. No I/O.
std::optional<std::uint64_t> parse_count(std::string_view text);
/// Maps one post (a JSON object) by `m`; a reach or engagement that is not a count makes the
/// post invalid (never 0). No I/O.
mapped_post map_post(std::string_view post_json, const field_map& m);
/// Extracts posts (JSON object texts) from a feed document: a JSON array, an object holding the
/// array at `items`, or an Atom feed (each <entry> becomes {id, url, title, text, author,
/// occurred_at}). Throws std::runtime_error when the document is neither.
std::vector<std::string> feed_posts(std::string_view document, const std::string& items);

void add_bot_options(CLI::App& app, bot_options& o);
int run_bot(const bot_options& o);

}  // namespace muster::cli
