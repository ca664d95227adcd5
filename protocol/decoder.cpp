#include <simdjson.h>

#include "protocol/codec.hpp"

namespace muster::protocol {

namespace dom = simdjson::dom;
namespace od = simdjson::ondemand;

namespace {

bool channel_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == ':' || c == '@';
}

bool whitespace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Where an object that opens the text closes (one past its '}'), or npos. Only used to word the
// error about a frame already known to be malformed; strings are skipped with their escapes.
std::size_t end_of_leading_object(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && whitespace(s[i])) ++i;
  if (i == s.size() || s[i] != '{') return std::string_view::npos;
  int depth = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') {
      for (++i; i < s.size() && s[i] != '"'; ++i)
        if (s[i] == '\\') ++i;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

// The first field-level problem, kept while decoding goes on so that an `id` after it can
// still be echoed.
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
  op_lookup lookup;
  std::size_t max_data_bytes;
  dom::parser parser;  // validates the whole frame, then its fields are read from it
  od::parser salvage;  // reads what it can (the id) out of a malformed frame
  std::string buffer;  // the frame, padded as simdjson needs

  bool read_fields(dom::object obj, const op_spec* spec, command& out, decode_failure& failure,
                   field_errors& errors, std::optional<std::string>& op_text);
  void read_recover(dom::element v, command& out, field_errors& errors);
  bool check_op(const op_spec& spec, command& out, decode_failure& failure);
  void describe_malformed(std::string_view frame, decode_failure& failure);
};

decoder::decoder(op_lookup lookup, std::size_t max_data_bytes) : impl_(std::make_unique<impl>()) {
  impl_->lookup = lookup;
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

  // Strict: a value nobody reads (an unknown field) must be well-formed too.
  dom::element root;
  if (impl_->parser.parse(buf.data(), frame.size(), false).get(root)) {
    impl_->describe_malformed(frame, failure);
    return false;
  }
  dom::object obj;
  if (root.get_object().get(obj)) return fail(errc::bad_json, "frame must be a JSON object");

  // `op` is looked up first: the command decides the allowed range of `limit`.
  std::string_view op_view;
  const op_spec* spec = nullptr;
  if (!obj["op"].get_string().get(op_view)) spec = impl_->lookup(op_view);
  field_errors errors;
  std::optional<std::string> op_text;
  if (!impl_->read_fields(obj, spec, out, failure, errors, op_text)) return false;

  if (errors.first) return fail(errors.first->first, std::move(errors.first->second));
  if (!op_text) return fail(errc::bad_request, "op is required");
  if (!spec) return fail(errc::unknown_op, "unknown op \"" + *op_text + "\"");
  out.spec = spec;
  if (!failure.id) return fail(errc::bad_request, "id is required");
  if (spec->keeps_frame) out.frame.assign(frame);
  return impl_->check_op(*spec, out, failure);
}

bool decoder::impl::read_fields(dom::object obj, const op_spec* spec, command& out,
                                decode_failure& failure, field_errors& errors,
                                std::optional<std::string>& op_text) {
  for (auto field : obj) {
    // Named copies, not structured bindings: the lambdas below capture them.
    std::string_view key = field.key;
    dom::element v = field.value;
    auto read_string = [&](std::string& dst, std::string_view what) {
      std::string_view s;
      if (v.get_string().get(s))
        errors.add(errc::bad_request, std::string(what) + " must be a string");
      else
        dst.assign(s);  // copy: the view dies with the next parse
    };
    auto read_uint = [&](std::string_view what) -> std::optional<std::uint64_t> {
      std::uint64_t n;
      if (!v.get_uint64().get(n)) return n;
      errors.add(errc::bad_request, std::string(what) + " must be a non-negative integer");
      return std::nullopt;
    };
    if (key == "id") {
      if (auto id = read_uint("id")) {
        out.id = *id;
        failure.id = *id;
      }
    } else if (key == "op") {
      std::string_view s;
      if (v.get_string().get(s))
        errors.add(errc::bad_request, "op must be a string");
      else
        op_text.emplace(s);
    } else if (key == "channel") {
      read_string(out.channel, "channel");
      out.has_channel = true;
    } else if (key == "name") {
      read_string(out.name, "name");
    } else if (key == "token") {
      read_string(out.token, "token");
    } else if (key == "idempotency_key") {
      read_string(out.idempotency_key, "idempotency_key");
      if (out.idempotency_key.size() > max_idempotency_key_length) {
        out.idempotency_key.clear();
        errors.add(errc::bad_request, "idempotency_key must be at most 128 bytes");
      }
    } else if (key == "data") {
      // Minified so it can never contain a raw newline (our frame separator).
      out.data = simdjson::minify(v);
      if (out.data.size() > max_data_bytes) {
        out.data.clear();
        errors.add(errc::message_too_large, "data is larger than the limit");
      }
    } else if (key == "recover") {
      read_recover(v, out, errors);
    } else if (key == "join_leave") {
      if (v.get_bool().get(out.join_leave))
        errors.add(errc::bad_request, "join_leave must be a boolean");
    } else if (key == "since") {
      out.since = read_uint("since");
    } else if (key == "limit") {
      auto range = spec ? spec->limit : uint_range{};
      if (auto l = read_uint("limit")) {
        if (*l < range.min || *l > range.max)
          errors.add(errc::bad_request, "limit must be between " + std::to_string(range.min) +
                                            " and " + std::to_string(range.max));
        else
          out.limit = *l;
      }
    }
    // Unknown fields are ignored so that newer clients can talk to older servers.
  }
  return true;
}

void decoder::impl::read_recover(dom::element v, command& out, field_errors& errors) {
  dom::object r;
  if (v.get_object().get(r)) {
    errors.add(errc::bad_request, "recover must be an object {offset, epoch}");
    return;
  }
  stream_position pos;
  bool have_offset = false, have_epoch = false;
  for (auto [rk, rv] : r) {
    if (rk == "offset") {
      if (rv.get_uint64().get(pos.offset))
        errors.add(errc::bad_request, "recover.offset must be a non-negative integer");
      else
        have_offset = true;
    } else if (rk == "epoch") {
      std::string_view e;
      if (rv.get_string().get(e)) {
        errors.add(errc::bad_request, "recover.epoch must be a string");
      } else {
        pos.epoch.assign(e);
        have_epoch = true;
      }
    }
  }
  if (!have_offset || !have_epoch)
    errors.add(errc::bad_request, "recover needs both offset and epoch");
  else
    out.recover = std::move(pos);
}

bool decoder::impl::check_op(const op_spec& spec, command& out, decode_failure& failure) {
  auto fail = [&](errc c, std::string msg) {
    failure.code = c;
    failure.message = std::move(msg);
    return false;
  };
  auto bad_channel = [&] {
    return fail(errc::bad_channel,
                "channel must be 1-128 characters of A-Z a-z 0-9 _ - . : @, starting with a "
                "letter or digit");
  };
  switch (spec.channel) {
    case channel_use::required:
      if (out.channel.empty()) return fail(errc::bad_request, "channel is required");
      if (!valid_channel_name(out.channel)) return bad_channel();
      break;
    case channel_use::crisis:
    case channel_use::crisis_optional:
    case channel_use::crisis_or_all:
    case channel_use::crisis_unused:
      // Only a given channel is checked here; the rest comes after the role (section 13.1).
      if (!out.channel.empty() && out.channel != "*" && !valid_channel_name(out.channel))
        return bad_channel();
      break;
    case channel_use::none:
      break;
  }
  if (spec.max_name && out.name.size() > spec.max_name)
    return fail(errc::bad_request,
                "name must be at most " + std::to_string(spec.max_name) + " bytes");
  if (spec.needs_data && out.data.empty()) return fail(errc::bad_request, "data is required");
  return true;
}

void decoder::impl::describe_malformed(std::string_view frame, decode_failure& failure) {
  failure.code = errc::bad_json;
  failure.message = "frame is not valid JSON";
  // Read fields in order until the reader stops: an `id` met before that is echoed, and a stop
  // inside `data` is named.
  od::document doc;
  od::object obj;
  simdjson::padded_string_view input(buffer.data(), frame.size(), buffer.size());
  if (!salvage.iterate(input).get(doc) && !doc.get_object().get(obj)) {
    for (auto field_result : obj) {
      od::field field;
      std::string_view key;
      if (std::move(field_result).get(field) || field.unescaped_key().get(key)) break;
      if (key == "id") {
        std::uint64_t id;
        if (field.value().get_uint64().get(id)) break;
        failure.id = id;
      } else if (key == "data") {
        std::string_view raw;
        dom::element ignored;
        if (simdjson::to_json_string(field.value()).get(raw) ||
            parser.parse(raw.data(), raw.size(), true).get(ignored)) {
          failure.message = "data is not valid JSON";
          return;
        }
      }
    }
  }
  auto end = end_of_leading_object(frame);
  if (end == std::string_view::npos) return;
  dom::element prefix;
  bool rest_blank = true;
  for (char c : frame.substr(end)) rest_blank = rest_blank && whitespace(c);
  if (!rest_blank && !parser.parse(buffer.data(), end, false).get(prefix))
    failure.message = "trailing content after the JSON object";
}

}  // namespace muster::protocol
