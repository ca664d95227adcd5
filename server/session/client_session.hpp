#pragma once
// One client's protocol state behind its connection: identity, rate limits, subscriptions
// (each driven by its recovery state machine), and the v1 commands of the command table; crisis
// commands go to the crisis layer. It writes through a client_link and never touches a socket.
// Lives on its connection's I/O thread; engine answers come back through net::dispatch.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/codec.hpp"
#include "server/channel_registry.hpp"
#include "server/crisis/context.hpp"
#include "server/rate_limiter.hpp"
#include "server/session/recovery.hpp"

namespace muster::server {

class node;
struct io_thread;

/// What a client_session needs from its connection (implemented by websocket_session).
class client_link {
 public:
  virtual ~client_link() = default;
  /// Queues a complete frame; `owed`: a reply, replay or control frame the client asked for.
  virtual void send(std::shared_ptr<const std::string> framed, bool owed) = 0;
  /// Starts the closing handshake; `flush` keeps what is queued.
  virtual void close(std::uint16_t code, std::string_view reason, bool flush) = 0;
  /// Keeps the connection alive while an engine request is pending.
  virtual std::shared_ptr<void> hold() = 0;
  /// False once the connection ended: late answers are dropped.
  virtual bool open() const = 0;
};

class client_session final : public subscriber {
 public:
  client_session(node& n, io_thread& t, client_link& link);
  client_session(const client_session&) = delete;
  client_session& operator=(const client_session&) = delete;

  /// The connection is up; `who`: an identity from a `?token=` verified at the upgrade.
  void start(std::optional<auth::identity> who);
  /// One text message from the client.
  void handle(std::string_view frame);
  /// One binary message (not part of the protocol).
  void binary_message();
  /// From the keepalive sweep: a session lives no longer than its token.
  void check_expiry();
  /// The connection is ending: leave every channel.
  void release();
  void on_event(std::string_view channel, const channel_event& ev) override;
  const std::string& client_id() const { return client_id_; }

  // v1 commands: rows of the command table.
  void connect(protocol::command& cmd);
  void ping(protocol::command& cmd);
  /// A new token for the same user replaces the connection's before it expires.
  void refresh(protocol::command& cmd);
  void subscribe(protocol::command& cmd);
  void unsubscribe(protocol::command& cmd);
  void publish(protocol::command& cmd);
  void history(protocol::command& cmd);
  void presence(protocol::command& cmd);

 private:
  struct subscription {
    std::string channel;
    std::uint64_t serial = 0;      // tells this subscription from a later one of the channel
    std::uint64_t command_id = 0;  // the subscribe awaiting its reply
    bool presence_events = false;  // registered for join/leave too
    session::recovery fsm;
  };
  subscription* find(std::string_view channel);
  void run(subscription& sub, session::actions& todo);
  void read_history(const subscription& sub, const session::action& a);
  void on_history(const std::string& channel, std::uint64_t serial, std::uint64_t command_id,
                  const session::action& a, std::error_code ec, const history_result& h);
  void drop(std::string_view channel);
  void run_crisis(protocol::command& cmd);
  /// channel.list with `watch`: starts or stops the channel list feed on this connection.
  void watch_channels(bool on);
  /// A feed event: passed on if the allow-list allows the channel it is about.
  void on_channel_feed(const channel_event& ev);

  void reply(std::uint64_t id, std::string_view result_json);
  void reply_error(std::optional<std::uint64_t> id, protocol::errc code, std::string_view message,
                   std::string_view extra_fields = {});
  /// Frames `json` as a text message and queues it as owed output.
  void send_json(std::string_view json);
  /// Runs `fn` on this session's thread if the connection is still open then.
  template <class Fn>
  void back_here(Fn&& fn);

  node& node_;
  io_thread& thread_;
  client_link& link_;
  std::string client_id_;
  crisis::actor actor_;
  bool authenticated_ = false;  // a token was verified (at the upgrade or by connect)
  bool connected_ = false;
  session::recovery::limits recovery_limits_;  // shared by every subscription's state machine
  std::vector<subscription> subs_;
  bool watching_channels_ = false;  // registered on the channel list feed
  std::uint64_t next_serial_ = 0;
  rate_limiter publish_limit_;
  rate_limiter command_limit_;
};

}  // namespace muster::server
