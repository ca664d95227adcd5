#include "server/engine/redis/resp.hpp"

#include <charconv>

#include "server/engine/engine.hpp"

namespace muster::server::redis {

std::string format_command(const std::vector<std::string_view>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (auto a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  char* out = nullptr;
  int n = redisFormatCommandArgv(&out, static_cast<int>(argv.size()), argv.data(), lens.data());
  if (n < 0 || !out) throw std::bad_alloc();
  std::string cmd(out, static_cast<std::size_t>(n));
  redisFreeCommand(out);
  return cmd;
}

std::string format_command(std::initializer_list<std::string_view> args) {
  return format_command(std::vector<std::string_view>(args));
}

namespace {

// hiredis allocates an array's element pointers when it reads the count, before any element
// arrives: "*2147483647\r\n" alone asked for 16 GiB. No reply the engine reads comes near this
// (the largest, a channel's documents, holds 3 per document); a longer array is a broken
// stream, and the reader fails on it as on any other (returning null is hiredis' out of memory).
constexpr int max_array_elements = 1 << 24;

void* (*hiredis_create_array)(const redisReadTask*, int) = nullptr;

void* bounded_create_array(const redisReadTask* task, int elements) {
  return elements > max_array_elements ? nullptr : hiredis_create_array(task, elements);
}

// hiredis' own reply functions, but for the bound on arrays.
redisReplyObjectFunctions* bounded_functions(const redisReplyObjectFunctions& defaults) {
  static redisReplyObjectFunctions fns = [&] {
    auto f = defaults;
    hiredis_create_array = f.createArray;
    f.createArray = bounded_create_array;
    return f;
  }();
  return &fns;
}

}  // namespace

reply_reader::reply_reader() : reader_(redisReaderCreate()) {
  if (!reader_) throw std::bad_alloc();
  reader_->fn = bounded_functions(*reader_->fn);
}

bool reply_reader::feed(std::string_view bytes) {
  return redisReaderFeed(reader_.get(), bytes.data(), bytes.size()) == REDIS_OK;
}

reply_ptr reply_reader::next(std::error_code& ec) {
  void* reply = nullptr;
  if (redisReaderGetReply(reader_.get(), &reply) != REDIS_OK) {
    ec = make_error_code(engine_errc::bad_reply);
    return nullptr;
  }
  return reply_ptr(static_cast<redisReply*>(reply));
}

std::string_view text(const redisReply& r) noexcept {
  if (r.type == REDIS_REPLY_STRING || r.type == REDIS_REPLY_STATUS || r.type == REDIS_REPLY_ERROR)
    return {r.str, r.len};
  return {};
}

bool is_message_push(const redisReply& r) noexcept {
  if (r.type != REDIS_REPLY_ARRAY || r.elements < 3 || r.element[0]->type != REDIS_REPLY_STRING)
    return false;
  auto kind = text(*r.element[0]);
  return kind == "message" || kind == "smessage" || kind == "pmessage";
}

std::string_view subscription_notice(const redisReply& r) noexcept {
  if (r.type != REDIS_REPLY_ARRAY || r.elements != 3 || r.element[0]->type != REDIS_REPLY_STRING)
    return {};
  auto kind = text(*r.element[0]);
  for (std::string_view k :
       {"subscribe", "unsubscribe", "ssubscribe", "sunsubscribe", "psubscribe", "punsubscribe"})
    if (kind == k) return k;
  return {};
}

namespace {
// CRC16-CCITT (XMODEM), as specified for Redis Cluster key slots.
std::uint16_t crc16(std::string_view s) noexcept {
  std::uint16_t crc = 0;
  for (unsigned char c : s) {
    crc ^= static_cast<std::uint16_t>(c << 8);
    for (int i = 0; i < 8; ++i)
      crc = static_cast<std::uint16_t>(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
  }
  return crc;
}
}  // namespace

std::uint16_t key_slot(std::string_view key) noexcept {
  auto open = key.find('{');
  if (open != std::string_view::npos) {
    auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1)
      key = key.substr(open + 1, close - open - 1);
  }
  return crc16(key) & 16383;
}

std::optional<channel_payload> parse_channel_payload(std::string_view payload) noexcept {
  auto colon = payload.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  channel_payload out;
  auto head = payload.substr(0, colon);
  if (head == "p" || head == "e") {  // presence, or another event outside the stream
    out.presence = head == "p";
    out.frame = payload.substr(colon + 1);
    return out;
  }
  auto [end, ec] = std::from_chars(head.data(), head.data() + head.size(), out.offset);
  if (ec != std::errc() || end != head.data() + head.size() || out.offset == 0) return std::nullopt;
  auto rest = payload.substr(colon + 1);
  auto second = rest.find(':');
  if (second == std::string_view::npos) return std::nullopt;
  out.epoch = rest.substr(0, second);
  out.frame = rest.substr(second + 1);
  return out;
}

}  // namespace muster::server::redis
