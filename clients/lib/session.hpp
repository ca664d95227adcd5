#pragma once
// An asynchronous Muster client on a caller's io_context: connects, reconnects with backoff
// and jitter, and resubscribes from the last seen position so that no message is missed or
// repeated. All callbacks run on the io_context's thread; call its methods from that thread
// (or via net::post). A refused TLS certificate, like a refused token, stops it for good
// (state `stopped`, the detail says why) instead of reconnecting.
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "clients/lib/blocking_client.hpp"
#include "clients/lib/frame.hpp"
#include "clients/lib/tls_options.hpp"

namespace muster::client {

class session : public std::enable_shared_from_this<session> {
 public:
  struct options {
    endpoint server;  // ws:// or wss://
    std::string name;
    std::string token;
    std::chrono::milliseconds min_backoff{200};
    std::chrono::milliseconds max_backoff{10000};
    bool reconnect = true;
    tls_options tls = {};  // wss://: a private CA to trust
  };
  enum class state { connecting, connected, disconnected, stopped };

  using message_handler = std::function<void(const server_message&)>;
  using reply_handler = std::function<void(const server_message&)>;
  /// State changes with a human-readable detail ("connection refused", "recovered 3 missed", ...).
  using state_handler = std::function<void(state, const std::string&)>;

  static std::shared_ptr<session> create(boost::asio::io_context& ioc, options opts);
  ~session();

  void on_message(message_handler h);  // every event (message, join, leave, ...)
  void on_state(state_handler h);
  void start();
  void stop();

  /// Subscribes now and after every reconnect, recovering from the last position seen.
  void subscribe(const std::string& channel, bool join_leave = false);
  /// Sends a command; `h` gets the reply (or an error reply with code "disconnected").
  void command(const std::string& op, const std::string& fields, reply_handler h = {});
  /// Replaces the connection's token before it expires (the `refresh` command); once the server
  /// accepts it, reconnects use it too. `h` gets the reply.
  void refresh(const std::string& token, reply_handler h = {});
  /// Publishes with an idempotency key (a fresh one unless given): after a lost connection,
  /// `unavailable` or `outcome_unknown` it is sent again with the same key (after the next
  /// reconnect, or a pause), so it is published exactly once; `h` gets the final reply, or an
  /// error after 6 tries or once the session stops.
  void publish(const std::string& channel, const std::string& data_json, reply_handler h = {},
               std::string idempotency_key = "");

  state current_state() const;
  /// Last position seen on `channel` (offset 0 and empty epoch before the first message).
  std::pair<std::uint64_t, std::string> position(const std::string& channel) const;

 private:
  session(boost::asio::io_context& ioc, options opts);
  struct impl;
  std::shared_ptr<impl> impl_;  // shared with its own pending operations
};

}  // namespace muster::client
