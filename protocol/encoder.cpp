#include "protocol/codec.hpp"
#include "protocol/event_frame.hpp"

namespace muster::protocol {

std::string encode_reply(std::uint64_t id, std::string_view result_json) {
  std::string out;
  out.reserve(24 + result_json.size());
  json_writer w(out);
  w.begin_object().field("id", id).raw_field("result", result_json).end_object();
  return out;
}

std::string encode_error(std::optional<std::uint64_t> id, errc code, std::string_view message,
                         std::string_view extra_fields) {
  std::string out;
  json_writer w(out);
  w.begin_object();
  if (id) w.field("id", *id);
  w.key("error").begin_object().field("code", wire_name(code)).field("message", message);
  // Already a member list ("holder":{...}); spliced whole.
  if (!extra_fields.empty()) out += ',', out += extra_fields;
  w.end_object().end_object();
  return out;
}

std::string encode_message_event(std::string_view channel, const publication& p) {
  return make_event_frame(channel, p.event, p.ts_ms, p.sender_client, p.sender_name, p.data)
      .assemble(p.offset, p.epoch);
}

std::string encode_presence_event(bool join, std::string_view channel, std::string_view client,
                                  std::string_view name, std::string_view user) {
  json_writer w;
  w.begin_object().field("event", join ? "join" : "leave").field("channel", channel);
  w.field("client", client).field("name", name).field("user", user).end_object();
  return w.take();
}

std::string encode_ephemeral_event(std::string_view channel, std::string_view event,
                                   std::int64_t ts_ms, std::string_view sender_client,
                                   std::string_view sender_name, std::string_view data) {
  json_writer w;
  w.begin_object().field("event", event).field("channel", channel).field("ts", ts_ms);
  w.key("sender").begin_object().field("client", sender_client).field("name", sender_name);
  w.end_object().raw_field("data", data).end_object();
  return w.take();
}

std::string encode_unsubscribed_event(std::string_view channel, std::string_view reason) {
  json_writer w;
  w.begin_object().field("event", "unsubscribed").field("channel", channel);
  w.field("reason", reason).end_object();
  return w.take();
}

}  // namespace muster::protocol
