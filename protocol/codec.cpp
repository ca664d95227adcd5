#include "protocol/codec.hpp"

#include <simdjson.h>

#include <charconv>

namespace muster::protocol {

namespace od = simdjson::ondemand;

std::string_view op_name(op o) noexcept {
  switch (o) {
    case op::connect:
      return "connect";
    case op::subscribe:
      return "subscribe";
    case op::unsubscribe:
      return "unsubscribe";
    case op::publish:
      return "publish";
    case op::history:
      return "history";
    case op::presence:
      return "presence";
    case op::ping:
      return "ping";
    case op::crisis:
      return "crisis";
  }
  return "ping";
}

bool is_crisis_op(std::string_view name) noexcept {
  static constexpr std::string_view all[] = {"channel.create",  "channel.update", "channel.list",
                                             "channel.get",     "alert.push",     "alert.claim",
                                             "alert.release",   "alert.assign",   "alert.respond",
                                             "alert.resolve",   "alert.dismiss",  "alert.get",
                                             "alert.list",      "guidance.post",  "guidance.ack",
                                             "guidance.status", "guidance.list",  "template.put",
                                             "template.delete", "template.list",  "stats"};
  for (auto n : all)
    if (n == name) return true;
  return false;
}

namespace {

std::optional<op> parse_op(std::string_view s) {
  static constexpr op all[] = {op::connect, op::subscribe, op::unsubscribe, op::publish,
                               op::history, op::presence,  op::ping};
  for (op o : all)
    if (op_name(o) == s) return o;
  return std::nullopt;
}

bool channel_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == ':' || c == '@';
}

// Remembers the first field-level error while decoding continues, so the reply can
// still echo an `id` that appears after the faulty field.
struct field_errors {
  std::optional<std::pair<errc, std::string>> first;
  void add(errc c, std::string msg) {
    if (!first) first.emplace(c, std::move(msg));
  }
};

}  // namespace

bool valid_channel_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > max_channel_length) return false;
  if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z') ||
        (name[0] >= '0' && name[0] <= '9')))
    return false;
  for (char c : name)
    if (!channel_char(c)) return false;
  return true;
}

struct decoder::impl {
  od::parser parser;
  simdjson::dom::parser data_parser;  // fully validates `data` before we re-emit it
  std::string buffer;
  std::size_t max_data_bytes;
};

decoder::decoder(std::size_t max_data_bytes) : impl_(std::make_unique<impl>()) {
  impl_->max_data_bytes = max_data_bytes;
}
decoder::~decoder() = default;

bool decoder::decode(std::string_view frame, command& out, decode_failure& failure) {
  out = command{};
  failure = decode_failure{};
  auto fail = [&](errc c, std::string msg) {
    failure.code = c;
    failure.message = std::move(msg);
    return false;
  };

  // simdjson reads up to SIMDJSON_PADDING bytes past the end: give it a padded copy.
  auto& buf = impl_->buffer;
  buf.resize(frame.size() + simdjson::SIMDJSON_PADDING);
  std::copy(frame.begin(), frame.end(), buf.begin());
  simdjson::padded_string_view input(buf.data(), frame.size(), buf.size());

  od::document doc;
  if (impl_->parser.iterate(input).get(doc)) return fail(errc::bad_json, "frame is not valid JSON");
  od::object obj;
  if (doc.get_object().get(obj)) return fail(errc::bad_json, "frame must be a JSON object");

  std::optional<std::string> op_text;
  bool have_data = false;
  field_errors errors;

  for (auto field_result : obj) {
    od::field field;
    if (std::move(field_result).get(field)) return fail(errc::bad_json, "frame is not valid JSON");
    std::string_view key;
    if (field.unescaped_key().get(key)) return fail(errc::bad_json, "frame is not valid JSON");
    od::value v = field.value();

    auto read_string = [&](std::string& dst, std::string_view what) {
      std::string_view s;
      if (v.get_string().get(s)) {
        errors.add(errc::bad_request, std::string(what) + " must be a string");
        return;
      }
      dst.assign(s);  // copy: the view dies with the next parse
    };
    auto read_uint = [&](std::uint64_t& dst, std::string_view what) -> bool {
      if (v.get_uint64().get(dst)) {
        errors.add(errc::bad_request, std::string(what) + " must be a non-negative integer");
        return false;
      }
      return true;
    };

    if (key == "id") {
      std::uint64_t id;
      if (read_uint(id, "id")) {
        out.id = id;
        failure.id = id;
      }
    } else if (key == "op") {
      std::string_view sv;
      if (v.get_string().get(sv))
        errors.add(errc::bad_request, "op must be a string");
      else
        op_text.emplace(sv);
    } else if (key == "channel") {
      read_string(out.channel, "channel");
    } else if (key == "name") {
      read_string(out.name, "name");
    } else if (key == "token") {
      read_string(out.token, "token");
    } else if (key == "data") {
      std::string_view raw;
      if (simdjson::to_json_string(v).get(raw))
        return fail(errc::bad_json, "data is not valid JSON");
      if (raw.size() > impl_->max_data_bytes) {
        errors.add(errc::message_too_large, "data is larger than the limit");
        continue;
      }
      simdjson::dom::element el;
      if (impl_->data_parser.parse(raw.data(), raw.size(), true).get(el))
        return fail(errc::bad_json, "data is not valid JSON");
      // Minified so it can never contain a raw newline (our frame separator).
      out.data = simdjson::minify(el);
      have_data = true;
    } else if (key == "recover") {
      od::object r;
      if (v.get_object().get(r)) {
        errors.add(errc::bad_request, "recover must be an object {offset, epoch}");
        continue;
      }
      stream_position pos;
      bool have_offset = false, have_epoch = false;
      for (auto rf_result : r) {
        od::field rf;
        if (std::move(rf_result).get(rf)) return fail(errc::bad_json, "frame is not valid JSON");
        std::string_view rk;
        if (rf.unescaped_key().get(rk)) return fail(errc::bad_json, "frame is not valid JSON");
        if (rk == "offset") {
          if (rf.value().get_uint64().get(pos.offset))
            errors.add(errc::bad_request, "recover.offset must be a non-negative integer");
          else
            have_offset = true;
        } else if (rk == "epoch") {
          std::string_view e;
          if (rf.value().get_string().get(e))
            errors.add(errc::bad_request, "recover.epoch must be a string");
          else {
            pos.epoch.assign(e);
            have_epoch = true;
          }
        }
      }
      if (!have_offset || !have_epoch)
        errors.add(errc::bad_request, "recover needs both offset and epoch");
      else
        out.recover = std::move(pos);
    } else if (key == "join_leave") {
      if (v.get_bool().get(out.join_leave))
        errors.add(errc::bad_request, "join_leave must be a boolean");
    } else if (key == "since") {
      std::uint64_t s;
      if (read_uint(s, "since")) out.since = s;
    } else if (key == "limit") {
      std::uint64_t l;
      if (read_uint(l, "limit")) {
        if (l == 0 || l > max_history_limit)
          errors.add(errc::bad_request, "limit must be between 1 and 1000");
        else
          out.limit = static_cast<std::uint32_t>(l);
      }
    }
    // Unknown fields are ignored so that newer clients can talk to older servers.
  }
  // A location still in bounds means tokens follow the object.
  const char* rest = nullptr;
  if (!doc.current_location().get(rest))
    return fail(errc::bad_json, "trailing content after the JSON object");

  if (errors.first) return fail(errors.first->first, std::move(errors.first->second));
  if (!op_text) return fail(errc::bad_request, "op is required");
  auto kind = parse_op(*op_text);
  if (!kind && is_crisis_op(*op_text)) {
    kind = op::crisis;
    out.crisis_op = *op_text;
    out.frame.assign(frame);
  }
  if (!kind) return fail(errc::unknown_op, "unknown op \"" + *op_text + "\"");
  out.kind = *kind;
  if (!failure.id) return fail(errc::bad_request, "id is required");

  auto need_channel = [&]() -> bool {
    if (out.channel.empty()) return fail(errc::bad_request, "channel is required");
    if (!valid_channel_name(out.channel))
      return fail(errc::bad_channel,
                  "channel must be 1-128 characters of A-Z a-z 0-9 _ - . : @, starting with a "
                  "letter or digit");
    return true;
  };
  switch (out.kind) {
    case op::connect:
      if (out.name.size() > max_name_length)
        return fail(errc::bad_request, "name must be at most 64 bytes");
      return true;
    case op::publish:
      if (!need_channel()) return false;
      if (!have_data) return fail(errc::bad_request, "data is required");
      return true;
    case op::subscribe:
    case op::unsubscribe:
    case op::history:
    case op::presence:
      return need_channel();
    case op::ping:
      return true;
    case op::crisis:
      // The channel is optional for some crisis commands, but must be valid when given.
      if (!out.channel.empty() && out.channel != "*" && !valid_channel_name(out.channel))
        return need_channel();
      return true;
  }
  return true;
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 0xf]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

namespace {
void append_uint(std::string& out, std::uint64_t v) {
  char tmp[24];
  auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
  out.append(tmp, r.ptr);
}
void append_int(std::string& out, std::int64_t v) {
  char tmp[24];
  auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
  out.append(tmp, r.ptr);
}
}  // namespace

std::string encode_reply(std::uint64_t id, std::string_view result_json) {
  std::string out;
  out.reserve(24 + result_json.size());
  out += "{\"id\":";
  append_uint(out, id);
  out += ",\"result\":";
  out += result_json;
  out += '}';
  return out;
}

std::string encode_error(std::optional<std::uint64_t> id, errc code, std::string_view message,
                         std::string_view extra_fields) {
  std::string out = "{";
  if (id) {
    out += "\"id\":";
    append_uint(out, *id);
    out += ',';
  }
  out += "\"error\":{\"code\":";
  append_json_string(out, wire_name(code));
  out += ",\"message\":";
  append_json_string(out, message);
  if (!extra_fields.empty()) {
    out += ',';
    out += extra_fields;
  }
  out += "}}";
  return out;
}

namespace {
void append_publication_fields(std::string& out, const publication& p) {
  out += "\"offset\":";
  append_uint(out, p.offset);
  out += ",\"epoch\":";
  append_json_string(out, p.epoch);
  out += ",\"ts\":";
  append_int(out, p.ts_ms);
  out += ",\"sender\":{\"client\":";
  append_json_string(out, p.sender_client);
  out += ",\"name\":";
  append_json_string(out, p.sender_name);
  out += "},\"data\":";
  out += p.data.empty() ? std::string_view("null") : std::string_view(p.data);
}
}  // namespace

void append_publication(std::string& out, const publication& p) {
  out += '{';
  append_publication_fields(out, p);
  out += '}';
}

std::string encode_message_event(std::string_view channel, const publication& p) {
  std::string out;
  out.reserve(96 + channel.size() + p.epoch.size() + p.sender_name.size() + p.data.size());
  out += "{\"event\":";
  append_json_string(out, p.event);
  out += ",\"channel\":";
  append_json_string(out, channel);
  out += ',';
  append_publication_fields(out, p);
  out += '}';
  return out;
}

std::string encode_presence_event(bool join, std::string_view channel, std::string_view client,
                                  std::string_view name) {
  std::string out = join ? "{\"event\":\"join\",\"channel\":" : "{\"event\":\"leave\",\"channel\":";
  append_json_string(out, channel);
  out += ",\"client\":";
  append_json_string(out, client);
  out += ",\"name\":";
  append_json_string(out, name);
  out += '}';
  return out;
}

}  // namespace muster::protocol
