#include "clients/lib/blocking_client.hpp"

#include <boost/asio/io_context.hpp>

#include "clients/lib/ws_connection.hpp"
#include "protocol/codec.hpp"

namespace muster::client {

namespace net = boost::asio;
using error_code = boost::system::error_code;

struct blocking_client::impl {
  impl(endpoint ep, const tls_options& tls, std::string subprotocol)
      : ws(ioc, std::move(ep), tls, std::move(subprotocol)) {}

  net::io_context ioc{1};
  ws_connection ws;
  frame_parser parser;
  bool open = false;
  bool reading = false;
  bool closed = false;
  int close_code = 0;
  std::string close_error;
  std::uint64_t next_id = 0;
  std::map<std::uint64_t, server_message> replies;
  std::deque<server_message> events;

  void start_read() {
    if (reading || closed || !open) return;
    reading = true;
    ws.async_read([this](error_code ec, std::string_view payload) {
      reading = false;
      if (ec) {
        closed = true;
        close_code = ws.close_code();
        close_error = ec.message();
        return;
      }
      for (auto& m : parser.parse(payload)) {
        if (m.id)
          replies.emplace(*m.id, std::move(m));
        else
          events.push_back(std::move(m));
      }
    });
  }

  // Drives the loop until `done()` or the deadline; reads continuously meanwhile.
  template <class Pred>
  bool pump(std::chrono::milliseconds timeout, Pred done) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    ioc.restart();
    while (!done()) {
      start_read();
      if (closed && !reading) return done();
      if (std::chrono::steady_clock::now() >= deadline) return false;
      // run_one stops the context whenever it runs out of work, even briefly.
      if (ioc.stopped()) ioc.restart();
      ioc.run_one_until(deadline);
    }
    return true;
  }

  void write(std::string_view text, bool binary) {
    if (closed || !open) throw client_error("connection is closed");
    bool done = false;
    error_code result;
    ws.async_write(text, binary, [&](error_code ec) {
      done = true;
      result = ec;
    });
    if (!pump(std::chrono::seconds(10), [&] { return done; }))
      throw client_error("write timed out");
    if (result) throw client_error("write failed: " + result.message());
  }
};

blocking_client::blocking_client(endpoint ep, std::string_view subprotocol)
    : blocking_client(std::move(ep), tls_options{}, subprotocol) {}

blocking_client::blocking_client(endpoint ep, const tls_options& tls, std::string_view subprotocol)
    : impl_(std::make_unique<impl>(std::move(ep), tls, std::string(subprotocol))) {}

blocking_client::~blocking_client() = default;

void blocking_client::open(std::chrono::milliseconds timeout) {
  auto& i = *impl_;
  std::optional<open_failure> failure;
  bool done = false;
  i.ws.async_open(timeout, [&](const open_failure* f) {
    done = true;
    if (f) failure = *f;
  });
  i.ioc.restart();
  // The connection keeps its own deadline; this bound only guards against a lost handler.
  auto bound = std::chrono::steady_clock::now() + timeout + 5s;
  while (!done && std::chrono::steady_clock::now() < bound) i.ioc.run_one_until(bound);
  if (!done) {
    i.ws.shutdown();
    throw client_error("timed out connecting to " + i.ws.url());
  }
  if (failure && failure->certificate_refused) throw certificate_refused(failure->message);
  if (failure) throw client_error(failure->message);
  i.open = true;
}

std::string blocking_client::connect(const std::string& name, const std::string& token,
                                     std::chrono::milliseconds timeout) {
  if (!impl_->open) open(timeout);
  std::string fields;
  if (!name.empty()) {
    fields += "\"name\":";
    protocol::append_json_string(fields, name);
  }
  if (!token.empty()) {
    fields += fields.empty() ? "\"token\":" : ",\"token\":";
    protocol::append_json_string(fields, token);
  }
  auto r = call("connect", fields, timeout);
  if (r.is_error) throw client_error("connect refused: " + r.error_code + ": " + r.error_message);
  return r.result;
}

std::uint64_t blocking_client::send_command(std::string_view op, std::string_view fields) {
  auto id = ++impl_->next_id;
  std::string text = "{\"id\":" + std::to_string(id) + ",\"op\":\"" + std::string(op) + "\"";
  if (!fields.empty()) text += "," + std::string(fields);
  text += "}";
  impl_->write(text, false);
  return id;
}

server_message blocking_client::wait_reply(std::uint64_t id, std::chrono::milliseconds timeout) {
  auto& i = *impl_;
  if (!i.pump(timeout, [&] { return i.replies.count(id) > 0; })) {
    if (i.closed)
      throw client_error("connection closed (code " + std::to_string(i.close_code) + ")");
    throw client_error("no reply to command " + std::to_string(id) + " in time");
  }
  auto node = i.replies.extract(id);
  return std::move(node.mapped());
}

std::optional<server_message> blocking_client::poll_reply(std::uint64_t id,
                                                          std::chrono::microseconds timeout) {
  auto& i = *impl_;
  if (!i.pump(std::chrono::duration_cast<std::chrono::milliseconds>(timeout),
              [&] { return i.replies.count(id) > 0; })) {
    if (i.closed)
      throw client_error("connection closed (code " + std::to_string(i.close_code) + ")");
    return std::nullopt;
  }
  auto node = i.replies.extract(id);
  return std::move(node.mapped());
}

server_message blocking_client::call(std::string_view op, std::string_view fields,
                                     std::chrono::milliseconds timeout) {
  return wait_reply(send_command(op, fields), timeout);
}

void blocking_client::send_text(std::string_view text) {
  impl_->write(text, false);
}
void blocking_client::send_binary(std::string_view bytes) {
  impl_->write(bytes, true);
}

std::optional<server_message> blocking_client::next_event(std::chrono::milliseconds timeout) {
  auto& i = *impl_;
  if (!i.pump(timeout, [&] { return !i.events.empty(); })) return std::nullopt;
  auto m = std::move(i.events.front());
  i.events.pop_front();
  return m;
}

std::size_t blocking_client::buffered_events() const {
  return impl_->events.size();
}

std::optional<int> blocking_client::wait_closed(std::chrono::milliseconds timeout) {
  auto& i = *impl_;
  if (!i.pump(timeout, [&] { return i.closed; })) return std::nullopt;
  return i.close_code;
}

bool blocking_client::is_open() const {
  return impl_->open && !impl_->closed;
}

void blocking_client::close() {
  auto& i = *impl_;
  if (!i.open || i.closed) return;
  bool done = false;
  i.ws.async_close([&](error_code) { done = true; });
  i.pump(std::chrono::seconds(2), [&] { return done || i.closed; });
  i.closed = true;
}

}  // namespace muster::client
