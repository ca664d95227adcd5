#pragma once
// One WebSocket client: decodes its commands, keeps its subscriptions (with recovery), and
// writes events to it with one write in flight, queued events coalesced into the next frame
// and the queue bounded in bytes. Lives on one I/O thread; others reach it via net::post.
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <memory>
#include <string>
#include <vector>

#include "protocol/codec.hpp"
#include "server/channel_registry.hpp"
#include "server/rate_limiter.hpp"

namespace muster::server {

class node;
struct io_thread;

class websocket_session : public std::enable_shared_from_this<websocket_session>,
                          public subscriber {
 public:
  websocket_session(boost::asio::ip::tcp::socket&& socket, node& n, io_thread& t);
  ~websocket_session() override;

  void run(boost::beast::http::request<boost::beast::http::string_body> req);
  /// Server shutdown: flush what is queued, then close with 1001.
  void go_away();

  void on_event(std::string_view channel, const channel_event& ev) override;
  /// Called by the thread's flush: writes what is queued unless a write is in flight.
  void start_write();

  // Intrusive list of the thread's sessions (for shutdown); touched only on its thread.
  websocket_session* prev_ = nullptr;
  websocket_session* next_ = nullptr;

 private:
  struct subscription {
    std::string channel;
    std::uint64_t last_offset = 0;
    bool recovering = true;   // live events are buffered until history has been sent
    bool presence_events = false;
    std::uint64_t pending_id = 0;  // the subscribe command awaiting its reply
    std::vector<channel_event> pending;
    std::size_t pending_bytes = 0;
  };

  void on_accept(boost::beast::error_code ec);
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void handle(std::string_view frame);
  void handle_connect(protocol::command& cmd);
  void handle_subscribe(protocol::command& cmd);
  void handle_unsubscribe(protocol::command& cmd);
  void handle_publish(protocol::command& cmd);
  void handle_history(protocol::command& cmd);
  void handle_presence(protocol::command& cmd);
  void on_subscribe_history(std::uint64_t id, std::string channel,
                            std::optional<protocol::stream_position> from, std::error_code ec,
                            history_result h);
  void deliver(subscription& sub, const channel_event& ev);
  subscription* find(std::string_view channel);
  void drop_subscription(std::string_view channel);

  void reply(std::uint64_t id, std::string_view result_json);
  void reply_error(std::optional<std::uint64_t> id, protocol::errc code, std::string_view message);
  /// `owed`: a reply or replay the client asked for (not counted against the live bound).
  void send(std::shared_ptr<const std::string> frame, bool owed = false);
  void do_write();
  void on_write(boost::beast::error_code ec, std::size_t bytes);
  void close_with(std::uint16_t code, std::string_view reason);
  void on_close(boost::beast::error_code ec);
  void fail(boost::beast::error_code ec, const char* what);
  void cleanup();

  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_;
  boost::beast::flat_buffer buffer_;
  node& node_;
  io_thread& thread_;

  std::string client_id_;
  std::string name_;
  bool connected_ = false;
  bool accepted_ = false;
  bool open_ = false;       // accepted and not yet cleaned up
  bool closing_ = false;    // no more commands or events; close once the queue drains
  std::uint16_t close_code_ = 0;
  std::string close_reason_;
  std::vector<subscription> subs_;
  rate_limiter publish_limit_;
  rate_limiter command_limit_;

  // Outbound: queued frames (bounded in bytes), and the frame or batch being written.
  struct queued {
    std::shared_ptr<const std::string> frame;
    bool owed;
  };
  std::vector<queued> queue_;
  std::size_t queued_bytes_ = 0;
  std::size_t owed_bytes_ = 0;
  bool writing_ = false;
  bool flush_pending_ = false;  // registered with the thread's flush
  std::shared_ptr<const std::string> in_flight_;
  std::string batch_;
  std::unique_ptr<boost::asio::steady_timer> close_timer_;  // only while closing
};

}  // namespace muster::server
