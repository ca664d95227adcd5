#include "protocol/event_frame.hpp"

#include <charconv>

#include "protocol/json_writer.hpp"

namespace muster::protocol {

std::string event_frame_parts::assemble(std::uint64_t offset, std::string_view epoch) const {
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, offset).ptr;
  std::string out;
  out.reserve(head.size() + 24 + middle.size() + epoch.size() + tail.size());
  out += head;
  out.append(digits, end);
  out += middle;
  out += epoch;
  out += tail;
  return out;
}

event_frame_parts make_event_frame(std::string_view channel, std::string_view event,
                                   std::int64_t ts_ms, std::string_view sender_client,
                                   std::string_view sender_name, std::string_view data) {
  event_frame_parts p;
  p.head.reserve(32 + event.size() + channel.size());
  p.head += "{\"event\":";
  append_json_string(p.head, event);
  p.head += ",\"channel\":";
  append_json_string(p.head, channel);
  p.head += ",\"offset\":";
  p.tail.reserve(64 + sender_client.size() + sender_name.size() + data.size());
  p.tail += "\",\"ts\":";
  char digits[24];
  p.tail.append(digits, std::to_chars(digits, digits + sizeof digits, ts_ms).ptr);
  p.tail += ",\"sender\":{\"client\":";
  append_json_string(p.tail, sender_client);
  p.tail += ",\"name\":";
  append_json_string(p.tail, sender_name);
  p.tail += "},\"data\":";
  p.tail += data.empty() ? std::string_view("null") : data;
  p.tail += '}';
  return p;
}

}  // namespace muster::protocol
