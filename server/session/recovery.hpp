#pragma once
// One subscription's delivery state machine, without I/O: the subscribe (with or without
// `recover`), the live events that arrive while history is read (buffered, then merged by
// offset), duplicates, epoch changes, and gaps (filled from history, or ended). Inputs are fed
// in; each call appends the actions the session must carry out. In the style of boostorg/redis'
// detail/*_fsm.hpp. A value owned by one session, used on its thread.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "protocol/codec.hpp"
#include "server/engine/engine.hpp"

namespace muster::server::session {

struct action {
  enum kind_t {
    reply_subscribed,  // answer the subscribe: recovered, position, missed
    send_replay,       // a recovered history event (JSON): owed output, asked for
    send_live,         // a live event, already framed
    send_fill,         // a history event (JSON) filling a gap: counted as live output
    read_history,      // read `query` of the channel; feed the answer to on_history(read, ...)
    end,               // the subscription is over: drop it and send `unsubscribed` with `reason`
    fail,              // the subscribe failed (engine error `ec`): drop it, reply the error
  } kind = send_live;
  static action of(kind_t k) {
    action a;
    a.kind = k;
    return a;
  }
  std::shared_ptr<const std::string> frame;  // send_*
  bool recovered = false;                    // reply_subscribed
  protocol::stream_position position;        // reply_subscribed
  std::size_t missed = 0;                    // reply_subscribed
  history_query query;                       // read_history
  std::uint64_t read = 0;                    // read_history: the token to feed back
  bool resync = false;                       // read_history: for a gap (not the subscribe)
  std::string_view reason;                   // end: "gap" or "recovery_overflow"
  std::error_code ec;                        // fail
};
using actions = std::vector<action>;

class recovery {
 public:
  struct limits {
    std::size_t history_size = 1000;         // the most a recovery or gap read asks for
    std::size_t max_buffer_bytes = 1 << 20;  // live events held while history is read
  };
  /// `l` is shared by a session's subscriptions and must outlive them.
  explicit recovery(const limits& l) : limits_(&l) {}

  /// The subscribe: `from` is the client's `recover` position, if any.
  void start(std::optional<protocol::stream_position> from, actions& out);
  /// The answer to the read_history action with token `read` (stale tokens are ignored).
  void on_history(std::uint64_t read, std::error_code ec, const history_result& h, actions& out);
  /// A live event of the channel, in engine order.
  void on_live(const channel_event& ev, actions& out);

  bool live() const { return phase_ == phase::live; }
  bool ended() const { return phase_ == phase::ended; }
  const protocol::stream_position& position() const { return pos_; }
  std::size_t buffered_bytes() const { return buffer_bytes_; }

 private:
  enum class phase { subscribing, live, resyncing, ended };
  void subscribed(const history_result& h, actions& out);
  void filled(const history_result& h, actions& out);
  void deliver(const channel_event& ev, actions& out);
  void hold(const channel_event& ev);
  void drain(actions& out);
  void read(history_query q, bool resync, actions& out);
  void end(std::string_view reason, actions& out);

  const limits* limits_;
  phase phase_ = phase::subscribing;
  // Subscribing: the client's `recover` position, if `recovering_`; after that the last offset
  // delivered and its epoch (also what a gap's read must recover from).
  protocol::stream_position pos_;
  bool recovering_ = false;
  std::uint64_t read_ = 0;  // token of the read in progress
  std::vector<channel_event> buffer_;
  std::size_t buffer_bytes_ = 0;
};

}  // namespace muster::server::session
