#pragma once
// The wire shape of a stream event (`message` and the crisis events), built in one place. An
// engine that assigns offsets inside an atomic step of its own (a Redis script) gets the frame
// cut around the offset and the epoch and splices them in; everyone else assembles it here.
// Plain values; thread-safe.
#include <cstdint>
#include <string>
#include <string_view>

namespace muster::protocol {

struct event_frame_parts {
  /// Between the offset and the epoch. Epochs are engine-made lowercase hex: no escaping.
  static constexpr std::string_view middle = ",\"epoch\":\"";
  std::string head;  // {"event":...,"channel":...,"offset":
  std::string tail;  // ","ts":...,"sender":{...},"data":...}

  /// The whole frame: head, offset, middle, epoch, tail.
  std::string assemble(std::uint64_t offset, std::string_view epoch) const;
};

/// `data`: minified JSON (empty: null). `event`: "message", "alert.claimed", ...
event_frame_parts make_event_frame(std::string_view channel, std::string_view event,
                                   std::int64_t ts_ms, std::string_view sender_client,
                                   std::string_view sender_name, std::string_view data);

}  // namespace muster::protocol
