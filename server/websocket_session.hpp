#pragma once
// One WebSocket client after the HTTP upgrade: RFC 6455 framing on a plain TCP socket
// (ws::parser), its commands, its subscriptions (with recovery), and its writes: one write in
// flight, queued pre-framed events gathered into the next write, live events bounded in bytes.
// Lives on one I/O thread; others reach it via net::post.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "protocol/codec.hpp"
#include "server/channel_registry.hpp"
#include "server/crisis/crisis_service.hpp"
#include "server/rate_limiter.hpp"
#include "server/ws_framing.hpp"

namespace muster::server {

class node;
struct io_thread;

class websocket_session : public std::enable_shared_from_this<websocket_session>,
                          public subscriber {
 public:
  websocket_session(boost::asio::ip::tcp::socket&& socket, node& n, io_thread& t);
  ~websocket_session() override;

  /// Starts reading; `leftover` holds bytes the client sent right after its upgrade request.
  /// `who`: the identity from a `?token=` already verified at the upgrade, if any.
  void run(std::string_view leftover, std::optional<auth::identity> who = std::nullopt);
  /// Server shutdown: flush what is queued, then close with 1001.
  void go_away();
  /// Keepalive, from the thread's sweep: ping a quiet client, drop a silent one.
  void check_idle(std::chrono::steady_clock::time_point now);

  void on_event(std::string_view channel, const channel_event& ev) override;
  /// Called by the thread's flush: writes what is queued unless a write is in flight.
  void start_write();

  // Intrusive list of the thread's sessions (for shutdown and keepalive); its thread only.
  websocket_session* prev_ = nullptr;
  websocket_session* next_ = nullptr;

 private:
  struct subscription {
    std::string channel;
    std::uint64_t last_offset = 0;
    std::string epoch;
    bool recovering = true;  // live events are buffered until history has been sent
    bool presence_events = false;
    std::uint64_t pending_id = 0;  // the subscribe command awaiting its reply
    std::vector<channel_event> pending;
    std::size_t pending_bytes = 0;
  };

  void do_wait_read();
  void on_readable(boost::system::error_code ec);
  void process();
  void handle(std::string_view text);
  void handle_connect(protocol::command& cmd);
  void handle_subscribe(protocol::command& cmd);
  void handle_unsubscribe(protocol::command& cmd);
  void handle_publish(protocol::command& cmd);
  void handle_history(protocol::command& cmd);
  void handle_presence(protocol::command& cmd);
  void handle_crisis(protocol::command& cmd);
  /// The role matrix and the token's channel allow-list; replies `forbidden` when refused.
  bool permit(const protocol::command& cmd);
  void on_subscribe_history(std::uint64_t id, std::string channel,
                            std::optional<protocol::stream_position> from, std::error_code ec,
                            history_result h);
  void deliver(subscription& sub, const channel_event& ev);
  void finish_recovery(subscription& sub);
  /// A gap in live offsets: read the missing events from history, then go on.
  void start_resync(subscription& sub);
  subscription* find(std::string_view channel);
  void drop_subscription(std::string_view channel);

  void reply(std::uint64_t id, std::string_view result_json);
  void reply_error(std::optional<std::uint64_t> id, protocol::errc code, std::string_view message,
                   std::string_view extra_fields = {});
  /// Frames `json` as a text message and queues it as owed output.
  void send_json(std::string_view json);
  /// `framed`: a complete WebSocket frame. `owed`: a reply, replay or control frame the
  /// client asked for (not counted against the live-event bound).
  void send(std::shared_ptr<const std::string> framed, bool owed = false);
  void do_write();
  void on_write(boost::system::error_code ec, std::size_t bytes);
  /// Starts the closing handshake: `flush` keeps what is queued, otherwise it is dropped.
  void close_with(std::uint16_t code, std::string_view reason, bool flush);
  /// Closes the TCP connection now and releases everything the session holds.
  void terminate(const char* why);
  void cleanup();

  boost::asio::ip::tcp::socket socket_;
  ws::parser parser_;
  node& node_;
  io_thread& thread_;

  std::string client_id_;
  std::string name_;
  crisis::actor actor_;
  bool authenticated_ = false;  // a token was verified (at the upgrade or by connect)
  bool connected_ = false;
  bool open_ = false;            // running and not yet cleaned up
  bool closing_ = false;         // close frame queued: no more commands or events
  bool close_sent_ = false;      // our close frame is on the wire
  bool close_received_ = false;  // the client's close frame arrived
  bool close_queued_ = false;    // the close frame is in queue_ or being written
  bool reading_ = false;
  bool read_paused_ = false;  // owed output over the bound: commands wait
  bool ping_outstanding_ = false;
  std::chrono::steady_clock::time_point last_rx_;
  std::vector<subscription> subs_;
  rate_limiter publish_limit_;
  rate_limiter command_limit_;

  // Outbound: queued frames (live ones bounded in bytes) and the batch being written.
  struct queued {
    std::shared_ptr<const std::string> frame;
    bool owed;
  };
  std::vector<queued> queue_;
  std::size_t queued_bytes_ = 0;
  std::size_t owed_bytes_ = 0;
  bool writing_ = false;
  bool flush_pending_ = false;                              // registered with the thread's flush
  std::shared_ptr<const std::string> in_flight_;            // a single frame being written
  std::string batch_;                                       // several frames copied into one write
  std::unique_ptr<boost::asio::steady_timer> close_timer_;  // only while closing
};

}  // namespace muster::server
