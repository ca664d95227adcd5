#pragma once
// The crisis layer's changes to engine state: `modify` reads documents, lets a decision
// function plan the writes and events, and commits them only if nothing changed in between,
// else reads again (bounded). Also the small reads every capability makes. Callable from any
// thread; continuations run on whatever thread the engine answers on.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "server/crisis/context.hpp"
#include "server/engine/engine.hpp"

namespace muster::server::crisis {

/// What a decision function wants done with the documents it was shown.
struct plan {
  std::optional<result> stop;  // finish now with this (an error, or nothing to change)
  std::vector<doc_write> writes;
  std::vector<event_spec> events;
  /// Index changes: in the same commit on linked_writes() engines. The others file the new
  /// scores before the commit, never later than a score already there (file_early), and leave
  /// removals to the scheduler, which re-files what it finds not due (index_replace).
  std::vector<index_write> indexes;
  std::function<result(const commit_result&)> reply;  // once applied

  static plan finish(result r) {
    plan p;
    p.stop = std::move(r);
    return p;
  }
};

/// Compare-and-set attempts before a command gives up with `conflict`.
inline constexpr int max_attempts = 8;

class store {
 public:
  using decide_fn = std::function<plan(const std::vector<doc>&)>;
  using docs_fn = std::function<void(std::vector<doc>)>;

  store(document_store& docs, index_store& indexes, metrics& m)
      : docs_(docs), indexes_(indexes), metrics_(m) {}

  /// Read `keys` of `channel`, decide, commit if unchanged, retry on a lost race.
  void modify(std::string channel, std::vector<std::string> keys, decide_fn decide, done_fn done,
              std::optional<retention> keep = {});
  /// The documents `keys`; an engine failure answers `done` ("<what>: <engine message>").
  void read(std::string channel, std::vector<std::string> keys, std::string_view what, docs_fn then,
            done_fn done);
  /// Every document under `prefix`; failures as for read.
  void list(std::string channel, std::string prefix, std::string_view what, docs_fn then,
            done_fn done);
  /// Files the scores of `changes` with index_put_earlier, one after another, then `then`
  /// (removals are skipped; a failure is logged and goes on: the commit still decides).
  void file_early(index_store& indexes, std::vector<index_write> changes,
                  std::function<void()> then);
  /// Appends events to another channel's stream (copies): failures are logged and counted.
  /// `keep`: that stream's retention from now on (the leads channel keeps a crisis timeline's).
  void copy_events(const std::string& channel, std::vector<event_spec> events,
                   const std::string& about, std::optional<retention> keep = {});

 private:
  document_store& docs_;
  index_store& indexes_;
  metrics& metrics_;
};

}  // namespace muster::server::crisis
