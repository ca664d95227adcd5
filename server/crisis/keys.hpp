#pragma once
// Where crisis state lives: the document keys beside a channel and the members of the global
// indexes, built and read back in one place. Pure functions; thread-safe.
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace muster::server::crisis::keys {

// Documents beside a channel.
inline constexpr std::string_view meta = "meta";            // the crisis channel record
inline constexpr std::string_view alert_prefix = "alert:";  // alert:<id> -> alert record
inline constexpr std::string_view template_prefix = "template:";
inline constexpr std::string_view member_prefix = "member:";  // member:<user> -> member record
inline constexpr std::string_view pinned_prefix = "pinned:";  // pinned:<kind> -> guidance id
inline constexpr std::string_view guidance_prefix = "guidance:";
inline constexpr std::string_view ack_prefix = "ack:";

inline std::string alert(std::string_view id) {
  return std::string(alert_prefix) + std::string(id);
}
/// dedup:<key> -> the id of the newest alert with that dedup key, in its home channel.
inline std::string dedup(std::string_view key) {
  return "dedup:" + std::string(key);
}
/// ptr:<key> in `pointer_channel` -> the home channel of the dedup key's alerts.
inline std::string pointer(std::string_view key) {
  return "ptr:" + std::string(key);
}
inline std::string guidance(std::string_view gid) {
  return std::string(guidance_prefix) + std::string(gid);
}
inline std::string pinned(std::string_view kind) {
  return std::string(pinned_prefix) + std::string(kind);
}
/// Acks of one guidance post share this prefix (its user follows; a user id may hold ':').
inline std::string acks_of(std::string_view gid) {
  return std::string(ack_prefix) + std::string(gid) + ":";
}
inline std::string ack(std::string_view gid, std::string_view user) {
  return acks_of(gid) + std::string(user);
}
/// Receipts (delivered, read) of one guidance post share this prefix; the user follows.
inline std::string receipts_of(std::string_view gid) {
  return "receipt:" + std::string(gid) + ":";
}
inline std::string receipt(std::string_view gid, std::string_view user) {
  return receipts_of(gid) + std::string(user);
}
inline std::string member(std::string_view user) {
  return std::string(member_prefix) + std::string(user);
}
inline std::string template_doc(std::string_view name) {
  return std::string(template_prefix) + std::string(name);
}

/// idem:<key> in `pointer_channel` -> the idempotency record of an alert push.
inline std::string idempotency(std::string_view key) {
  return "idem:" + std::string(key);
}

/// Dedup pointers live in a channel no client can name (not a valid channel name).
inline constexpr std::string_view pointer_channel = "_dedup";
/// Every channel.created / channel.updated, copied for `channel.list` with `watch` (a stream no
/// client can subscribe to by name: the session filters it by the allow-list).
inline constexpr std::string_view channel_feed = "_channels";
/// The directory of people and their held claims: also a channel no client can name.
inline constexpr std::string_view people_channel = "_people";
inline constexpr std::string_view person_prefix = "person:";
/// person:<user> in `people_channel` -> the person record.
inline std::string person(std::string_view user) {
  return std::string(person_prefix) + std::string(user);
}
/// held:<user> in `people_channel` -> the claims the person holds.
inline std::string held(std::string_view user) {
  return "held:" + std::string(user);
}
/// Ephemeral entries of one alert (who is on it) share this prefix: <alert> <client>.
inline std::string activity_of(std::string_view alert) {
  return std::string(alert) + " ";
}
inline std::string activity(std::string_view alert, std::string_view client) {
  return activity_of(alert) + std::string(client);
}
/// Notes of one alert share this prefix: note:<alert>:<note id>.
inline std::string notes_of(std::string_view alert) {
  return "note:" + std::string(alert) + ":";
}

// Global indexes shared by every node.
inline constexpr std::string_view channels_index = "channels";  // member: channel, score: created
inline constexpr std::string_view due_index = "due";        // member: "<channel> <alert>", deadline
inline constexpr std::string_view remind_index = "remind";  // member: "<channel> <guidance>", due
inline constexpr std::string_view idempotency_index = "idem";  // member: key, score: forget at
/// member: "<channel> <guidance>", score: the ack deadline of its current version.
inline constexpr std::string_view overdue_index = "overdue";
/// member: "<channel> <alert>" of a closed alert, score: when its dedup entries are dropped.
inline constexpr std::string_view forget_index = "forget";

/// The member naming one object of a channel in the due and remind indexes.
inline std::string channel_item(std::string_view channel, std::string_view id) {
  return std::string(channel) + " " + std::string(id);
}
/// {channel, id} from a channel_item member (channel names hold no space); none if malformed.
inline std::optional<std::pair<std::string, std::string>> split_channel_item(
    std::string_view member) {
  auto space = member.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  return std::pair{std::string(member.substr(0, space)), std::string(member.substr(space + 1))};
}

}  // namespace muster::server::crisis::keys
