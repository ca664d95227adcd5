#include "server/engine/redis/replies.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace muster::server::redis::replies {

namespace {

bool is_array(const redisReply& r) noexcept {
  return r.type == REDIS_REPLY_ARRAY;
}

bool is_string(const redisReply& r) noexcept {
  return r.type == REDIS_REPLY_STRING;
}

// An integer that is a count, an offset or a version (never negative).
bool is_count(const redisReply& r) noexcept {
  return r.type == REDIS_REPLY_INTEGER && r.integer >= 0;
}

std::uint64_t count(const redisReply& r) noexcept {
  return static_cast<std::uint64_t>(r.integer);
}

std::int64_t clamped_score(std::string_view text) {
  // strtod needs a terminated string.
  auto score = std::strtod(std::string(text).c_str(), nullptr);
  // 2^63 is the first double past the range; NaN counts as 0.
  constexpr double limit = 9223372036854775808.0;
  if (std::isnan(score)) return 0;
  if (score >= limit) return std::numeric_limits<std::int64_t>::max();
  if (score < -limit) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(score);
}

}  // namespace

bool is_int(const redisReply& r) noexcept {
  return r.type == REDIS_REPLY_INTEGER;
}

std::optional<std::vector<slot_range>> cluster_slots(const redisReply& r) {
  if (!is_array(r)) return std::nullopt;
  std::vector<slot_range> out;
  for (std::size_t i = 0; i < r.elements; ++i) {
    const auto& range = *r.element[i];
    if (!is_array(range) || range.elements < 3) continue;
    const auto &first = *range.element[0], &last = *range.element[1], &master = *range.element[2];
    if (!is_count(first) || !is_count(last) || first.integer > last.integer ||
        first.integer > 16383 || !is_array(master) || master.elements < 2 ||
        !is_string(*master.element[0]) || !is_count(*master.element[1]) ||
        master.element[1]->integer > 65535)
      continue;
    out.push_back({static_cast<std::uint16_t>(first.integer),
                   static_cast<std::uint16_t>(std::min<long long>(last.integer, 16383)),
                   std::string(text(*master.element[0])),
                   static_cast<std::uint16_t>(master.element[1]->integer)});
  }
  return out;
}

std::optional<protocol::stream_position> published(const redisReply& r) {
  if (!is_array(r) || r.elements != 2 || !is_count(*r.element[0]) || !is_string(*r.element[1]))
    return std::nullopt;
  return protocol::stream_position{count(*r.element[0]), std::string(text(*r.element[1]))};
}

std::optional<history_result> history(const redisReply& r) {
  if (!is_array(r) || r.elements < 3 || (r.elements - 3) % 3 != 0) return std::nullopt;
  auto* e = r.element;
  if (!is_count(*e[0]) || !is_string(*e[1]) || !is_count(*e[2])) return std::nullopt;
  history_result res;
  res.top = {count(*e[0]), std::string(text(*e[1]))};
  res.first_offset = count(*e[2]);
  for (std::size_t i = 3; i + 2 < r.elements; i += 3) {
    if (!is_count(*e[i]) || !is_string(*e[i + 1]) || !is_string(*e[i + 2])) return std::nullopt;
    stored_publication p;
    p.offset = count(*e[i]);
    p.ts_ms = std::atoll(std::string(text(*e[i + 1])).c_str());
    p.frame = std::make_shared<const std::string>(text(*e[i + 2]));
    res.publications.push_back(std::move(p));
  }
  return res;
}

std::optional<std::vector<client_info>> presence(const redisReply& r) {
  if (!is_array(r)) return std::nullopt;
  std::vector<client_info> out;
  for (std::size_t i = 0; i + 1 < r.elements; i += 2)
    out.push_back(decode_presence_entry(text(*r.element[i]), text(*r.element[i + 1])));
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.client < b.client; });
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> entries(const redisReply& r) {
  if (!is_array(r) || r.elements % 2) return std::nullopt;
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i + 1 < r.elements; i += 2)
    out.emplace_back(text(*r.element[i]), text(*r.element[i + 1]));
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::vector<doc>> docs(const redisReply& r, std::vector<std::string> keys) {
  bool ok = is_array(r) && r.elements == 2 * keys.size();
  for (std::size_t i = 0; ok && i < keys.size(); ++i)
    ok = is_string(*r.element[2 * i]) && is_count(*r.element[2 * i + 1]);
  if (!ok) return std::nullopt;
  std::vector<doc> out;
  out.reserve(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i)
    out.push_back(
        {std::move(keys[i]), std::string(text(*r.element[2 * i])), count(*r.element[2 * i + 1])});
  return out;
}

std::optional<std::vector<doc>> listed_docs(const redisReply& r) {
  bool ok = is_array(r) && r.elements % 3 == 0;
  for (std::size_t i = 0; ok && i < r.elements; i += 3)
    ok = is_string(*r.element[i]) && is_string(*r.element[i + 1]) && is_count(*r.element[i + 2]);
  if (!ok) return std::nullopt;
  std::vector<doc> out;
  out.reserve(r.elements / 3);
  for (std::size_t i = 0; i < r.elements; i += 3)
    out.push_back({std::string(text(*r.element[i])), std::string(text(*r.element[i + 1])),
                   count(*r.element[i + 2])});
  // A hash has no order; the contract is key order.
  std::sort(out.begin(), out.end(), [](const doc& a, const doc& b) { return a.key < b.key; });
  return out;
}

std::optional<commit_result> commit(const redisReply& r, std::vector<std::string> written,
                                    std::size_t events) {
  if (!is_array(r) || r.elements < 1 || !is_int(*r.element[0])) return std::nullopt;
  commit_result res;
  auto* e = r.element;
  if (e[0]->integer == 0) {
    if (r.elements != 1 + 2 * written.size()) return std::nullopt;
    for (std::size_t i = 0; i < written.size(); ++i) {
      if (!is_string(*e[1 + 2 * i]) || !is_count(*e[2 + 2 * i])) return std::nullopt;
      res.current.push_back(
          {std::move(written[i]), std::string(text(*e[1 + 2 * i])), count(*e[2 + 2 * i])});
    }
    return res;
  }
  if (r.elements != 3 + written.size() + events || !is_string(*e[1]) || !is_count(*e[2]) ||
      count(*e[2]) != written.size())
    return std::nullopt;
  for (std::size_t i = 3; i < r.elements; ++i)
    if (!is_count(*e[i])) return std::nullopt;
  res.applied = true;
  res.epoch = std::string(text(*e[1]));
  for (std::size_t i = 0; i < written.size(); ++i) res.versions.push_back(count(*e[3 + i]));
  for (std::size_t i = 3 + written.size(); i < r.elements; ++i) res.offsets.push_back(count(*e[i]));
  return res;
}

std::optional<std::vector<std::pair<std::string, std::int64_t>>> index_range(const redisReply& r) {
  bool ok = is_array(r) && r.elements % 2 == 0;
  for (std::size_t i = 0; ok && i < r.elements; ++i) ok = is_string(*r.element[i]);
  if (!ok) return std::nullopt;
  std::vector<std::pair<std::string, std::int64_t>> out;
  out.reserve(r.elements / 2);
  for (std::size_t i = 0; i < r.elements; i += 2)
    out.emplace_back(std::string(text(*r.element[i])), clamped_score(text(*r.element[i + 1])));
  return out;
}

std::optional<push> read_push(const redisReply& r, std::string_view prefix) {
  if (!is_array(r) || r.elements < 3) return std::nullopt;
  auto name = text(*r.element[1]);
  if (!name.starts_with(prefix) || name.size() < prefix.size() + 2) return std::nullopt;
  push out;
  out.channel = name.substr(prefix.size() + 1, name.size() - prefix.size() - 2);
  out.notice = subscription_notice(r);
  if (out.notice.empty()) out.payload = parse_channel_payload(text(*r.element[r.elements - 1]));
  return out;
}

}  // namespace muster::server::redis::replies
