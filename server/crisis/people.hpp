#pragma once
// The directory of people — who has connected (name, role, first and last seen, channels
// joined), kept as engine documents in keys::people_channel so every node shares it — and the
// claims each person holds, which the per-ambassador cap counts. Callable from any thread.
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "server/crisis/records.hpp"
#include "server/crisis/request.hpp"

namespace muster::server::crisis::people {

/// What this node saw of one person since it last wrote their record.
struct sighting {
  std::string user, name, role;
  std::int64_t at = 0;
  std::vector<std::string> channels;  // joined since the last write
};

/// Sightings of people on this node, coalesced between scheduler passes. The first sighting of
/// a user by this node is written at once (so they can be assigned right away); later ones wait
/// for the next pass. Plain logic, thread-safe (one mutex).
class tracker {
 public:
  /// Records a sighting (`channel` empty: connect or disconnect); true when it is to be
  /// written now (then it is not kept).
  bool seen(const actor& who, std::string_view channel, std::int64_t now, sighting& out);
  /// The pending sightings, oldest user first; none are kept.
  std::vector<sighting> take();

 private:
  static constexpr std::size_t max_known = 100000;  // users remembered as already written
  std::mutex mutex_;
  std::set<std::string, std::less<>> known_;
  std::map<std::string, sighting, std::less<>> pending_;
};

/// Merges a sighting into a person's record; false when nothing worth a write changed (a
/// `last_seen` less than a minute newer is not).
bool merge(person_record& rec, const sighting& s);

/// Writes one sighting into the directory (logged on failure); `then` afterwards.
void record(context& ctx, const sighting& s, std::function<void()> then = nullptr);
/// The person `user` from the directory, or none (not known, or the read failed: `done`).
void find(context& ctx, const std::string& user,
          std::function<void(std::optional<person_record>)> then, done_fn done);

/// Ambassadors whose record lists `channel` among the channels they joined, or who are in
/// `present` (users subscribed to it now): channel.create makes them members.
void joined(context& ctx, const std::string& channel, std::set<std::string> present,
            std::function<void(std::vector<person_record>)> then, done_fn done);

// Held claims ("<channel> <alert>" items per person), for the per-ambassador cap.
/// Adds `item` to `user`'s held claims unless they already hold `limit` (after dropping the
/// ones the alerts say they no longer hold). `then(true)` when added (or already there),
/// `then(false)` at the cap; engine failures answer `done`.
void reserve(context& ctx, const std::string& user, const std::string& item, std::size_t limit,
             std::function<void(bool added, std::size_t held)> then, done_fn done);
/// Adds or removes `item` in `user`'s held claims (best effort: logged on failure).
void hold(context& ctx, const std::string& user, const std::string& item, bool add);

// Commands: rows of the command table.
/// people.list: the directory (leads).
void list(context& ctx, request& r, done_fn done);
/// channel.members: the channel's members with their directory records.
void members(context& ctx, request& r, done_fn done);

}  // namespace muster::server::crisis::people
