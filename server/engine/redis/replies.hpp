#pragma once
// The Redis engine's replies read into its records: one reader per command or script, none when
// the reply does not have that shape (the engine then answers bad_reply). A damaged or foreign
// reply must never be read out of bounds. No I/O; any thread.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/engine/engine.hpp"
#include "server/engine/redis/resp.hpp"

namespace muster::server::redis::replies {

/// One range of CLUSTER SLOTS and its master.
struct slot_range {
  std::uint16_t first = 0;
  std::uint16_t last = 0;  // inclusive, at most 16383
  std::string host;
  std::uint16_t port = 0;
};
/// CLUSTER SLOTS: [[first, last, [host, port, ...], replicas...], ...]; a range that is not of
/// that shape is skipped.
std::optional<std::vector<slot_range>> cluster_slots(const redisReply& r);

/// publish.lua: [offset, epoch].
std::optional<protocol::stream_position> published(const redisReply& r);

/// history.lua: [top, epoch, first offset, then offset, ts, frame per entry].
std::optional<history_result> history(const redisReply& r);

/// presence.lua: HGETALL [client, entry, ...], sorted by client.
std::optional<std::vector<client_info>> presence(const redisReply& r);

/// ephemeral_list.lua: [key, value, ...], in key order.
std::optional<std::vector<std::pair<std::string, std::string>>> entries(const redisReply& r);

/// read_docs.lua: [value, version] per key asked, in that order.
std::optional<std::vector<doc>> docs(const redisReply& r, std::vector<std::string> keys);

/// list_docs.lua: [key, value, version, ...], in key order.
std::optional<std::vector<doc>> listed_docs(const redisReply& r);

/// commit.lua: [0, (value, version) per write] when an expectation failed, else
/// [1, epoch, writes, the writes' new versions..., the events' offsets...].
std::optional<commit_result> commit(const redisReply& r, std::vector<std::string> written,
                                    std::size_t events);

/// An integer reply (the index scripts).
bool is_int(const redisReply& r) noexcept;

/// index_range.lua: ZRANGEBYSCORE WITHSCORES [member, score, ...]; scores are doubles in Redis
/// ("1e+17"), clamped to the 64-bit range.
std::optional<std::vector<std::pair<std::string, std::int64_t>>> index_range(const redisReply& r);

/// What the subscriber connection delivers: a message ["message"|"smessage", name, payload] or
/// a notice ["sunsubscribe", name, n], for a name `<prefix>{<channel>}`.
struct push {
  std::string_view channel;
  std::string_view notice;                 // "unsubscribe", ...; empty for a message
  std::optional<channel_payload> payload;  // a message's, when it is one
};
/// None when the push is not for a channel of this prefix.
std::optional<push> read_push(const redisReply& r, std::string_view prefix);

}  // namespace muster::server::redis::replies
