#pragma once
// Who guidance reaches and how far each person got with its current version: members of crisis
// channels, delivered and read receipts, acknowledgements, the one reminder and the one overdue
// escalation per version. Callable from any thread.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "server/crisis/records.hpp"
#include "server/crisis/request.hpp"

namespace muster::server::crisis::audience {

/// One person's progress with the current version of a post, from most to least advanced.
enum class state { acknowledged, read, delivered, pending };
std::string_view state_name(state s) noexcept;

/// What is known of one person for one post: their member record, latest ack and receipt.
struct person_progress {
  std::optional<member_record> member;  // none: not a member (a lead who acked, say)
  std::optional<ack_record> ack;
  std::optional<receipt_record> receipt;
  /// Where they are with version `v`: an ack or a receipt of an earlier version is no more.
  state at(unsigned v) const;
};
/// Everyone with a member record, ack or receipt for one post, by user id.
using progress_map = std::map<std::string, person_progress>;

/// Folds a post's documents (member, ack and receipt records) into the map; plain logic.
void add_members(progress_map& m, const std::vector<doc>& members);
void add_acks(progress_map& m, const std::vector<doc>& acks);
void add_receipts(progress_map& m, const std::vector<doc>& receipts);
/// Members who have not acknowledged version `v`, by user id (member records as JSON).
std::vector<std::string> pending(const progress_map& m, unsigned v);

/// Reads the progress of everyone for post `gid` of `channel` (members only in crisis
/// channels); engine failures answer `done`.
void read(context& ctx, const std::string& channel, const std::string& gid,
          std::function<void(progress_map)> then, done_fn done);

// Commands: rows of the command table.
void ack(context& ctx, request& r, done_fn done);
void read_receipt(context& ctx, request& r, done_fn done);
void status(context& ctx, request& r, done_fn done);

/// An ambassador subscribed to `channel`: if it is a crisis channel, guidance there expects
/// their ack from now on.
void note_member(context& ctx, const std::string& channel, const actor& who);
/// Records `m` as a member of crisis channel `channel` unless they are one (logged on failure).
void add_member(context& ctx, const std::string& channel, const member_record& m);

/// Scheduler: the reminder of post `gid` (its entry found due at `seen`), if it is still
/// pinned; `next` afterwards.
void remind(context& ctx, const std::string& channel, const std::string& gid, std::int64_t seen,
            std::function<void()> next);
/// Scheduler: the overdue escalation of post `gid` once its ack deadline passed; `next`
/// afterwards.
void overdue(context& ctx, const std::string& channel, const std::string& gid, std::int64_t seen,
             std::function<void()> next);

}  // namespace muster::server::crisis::audience
