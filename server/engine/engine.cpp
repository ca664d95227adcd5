#include "server/engine/engine.hpp"

#include <simdjson.h>

#include <random>

#include "protocol/json_writer.hpp"

namespace muster::server {

namespace {
class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "muster.engine"; }
  std::string message(int ev) const override {
    switch (static_cast<engine_errc>(ev)) {
      case engine_errc::unavailable:
        return "engine unavailable";
      case engine_errc::timeout:
        return "engine timed out";
      case engine_errc::bad_reply:
        return "engine sent an unexpected reply";
      case engine_errc::outcome_unknown:
        return "engine connection lost after the request was sent";
    }
    return "engine error";
  }
};
}  // namespace

std::string encode_presence_entry(const client_info& who) {
  protocol::json_writer w;
  w.begin_object().field("name", who.name).field("user", who.user).end_object();
  return w.take();
}

client_info decode_presence_entry(std::string_view client, std::string_view stored) {
  client_info out{std::string(client), std::string(stored)};
  simdjson::dom::parser p;
  simdjson::dom::element e;
  std::string_view name, user;
  if (stored.starts_with('{') && !p.parse(stored.data(), stored.size()).get(e) &&
      !e["name"].get_string().get(name) && !e["user"].get_string().get(user)) {
    out.name = std::string(name);
    out.user = std::string(user);
  }
  return out;
}

const std::error_category& engine_category() noexcept {
  static const category c;
  return c;
}

bool outcome_unknown(std::error_code ec) noexcept {
  return ec == make_error_code(engine_errc::timeout) ||
         ec == make_error_code(engine_errc::outcome_unknown);
}

std::string new_epoch() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string e(8, '0');
  auto v = rng();
  for (auto& c : e) {
    c = hex[v & 0xf];
    v >>= 4;
  }
  return e;
}

bool can_recover(const protocol::stream_position& from, const history_result& h) noexcept {
  if (from.epoch != h.top.epoch) return false;   // the stream was reset: offsets mean nothing
  if (from.offset > h.top.offset) return false;  // a position from the future
  if (from.offset == h.top.offset) return true;  // nothing missed
  // Everything in (from, top] must be in hand, contiguous: a truncated read is no recovery.
  const auto& p = h.publications;
  return !p.empty() && p.front().offset == from.offset + 1 && p.back().offset == h.top.offset &&
         p.size() == h.top.offset - from.offset;
}

void document_store::commit_with_indexes(std::string_view channel, std::vector<doc_write> writes,
                                         std::vector<event_spec> events,
                                         std::optional<retention> keep,
                                         std::vector<index_write> indexes, commit_handler h) {
  if (!indexes.empty()) return h(make_error_code(engine_errc::unavailable), {});
  commit(channel, std::move(writes), std::move(events), keep, std::move(h));
}

}  // namespace muster::server
