#include "clients/lib/blocking_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <charconv>
#include <tuple>

#include "protocol/codec.hpp"

namespace muster::client {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

endpoint parse_url(const std::string& url) {
  endpoint ep;
  std::string_view s(url);
  if (s.starts_with("ws://"))
    s.remove_prefix(5);
  else if (s.find("://") != std::string_view::npos)
    throw client_error("unsupported URL scheme in \"" + url + "\" (use ws://host:port/ws)");
  auto slash = s.find('/');
  if (slash != std::string_view::npos) ep.target = std::string(s.substr(slash));
  std::tie(ep.host, ep.port) = parse_host_port(s.substr(0, slash), ep.port, url);
  return ep;
}

server_urls parse_server_url(const std::string& url) {
  std::string_view s(url);
  bool http = s.starts_with("http://");
  if (http)
    s.remove_prefix(7);
  else if (s.starts_with("ws://"))
    s.remove_prefix(5);
  else if (s.find("://") != std::string_view::npos)
    throw client_error("unsupported URL \"" + url +
                       "\" (use ws://host:port/ws or http://host:port)");
  auto slash = s.find_first_of("/?");
  auto [host, port] = parse_host_port(s.substr(0, slash), http ? 80 : 8080, url);
  std::string authority = host + ":" + std::to_string(port);
  std::string path(slash == std::string_view::npos ? "" : s.substr(slash));
  std::string query;
  if (auto q = path.find('?'); q != std::string::npos) {
    query = path.substr(q);
    path.erase(q);
  }
  while (!path.empty() && path.back() == '/') path.pop_back();
  std::string prefix = path;  // the HTTP side's prefix
  if (!http) {
    if (path.empty()) path = "/ws";
    prefix = path.ends_with("/ws") ? path.substr(0, path.size() - 3) : "";
  } else {
    path += "/ws";
  }
  return {"ws://" + authority + path + query, "http://" + authority + prefix};
}

std::pair<std::string, std::uint16_t> parse_host_port(std::string_view hostport,
                                                      std::uint16_t default_port,
                                                      const std::string& url) {
  std::pair<std::string, std::uint16_t> out{std::string(hostport), default_port};
  auto colon = hostport.rfind(':');
  if (colon != std::string_view::npos) {
    out.first = std::string(hostport.substr(0, colon));
    auto p = hostport.substr(colon + 1);
    unsigned port = 0;
    auto r = std::from_chars(p.data(), p.data() + p.size(), port);
    if (r.ec != std::errc{} || r.ptr != p.data() + p.size() || port == 0 || port > 65535)
      throw client_error("bad port in URL \"" + url + "\"");
    out.second = static_cast<std::uint16_t>(port);
  }
  if (out.first.empty()) throw client_error("missing host in URL \"" + url + "\"");
  return out;
}

struct blocking_client::impl {
  endpoint ep;
  std::string subprotocol;
  net::io_context ioc{1};
  websocket::stream<tcp::socket> ws{ioc};
  beast::flat_buffer buffer;
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
    ws.async_read(buffer, [this](beast::error_code ec, std::size_t) {
      reading = false;
      if (ec) {
        closed = true;
        close_code = ws.reason().code;
        close_error = ec.message();
        return;
      }
      auto d = buffer.cdata();
      for (auto& m : parser.parse(std::string_view(static_cast<const char*>(d.data()), d.size()))) {
        if (m.id)
          replies.emplace(*m.id, std::move(m));
        else
          events.push_back(std::move(m));
      }
      buffer.consume(buffer.size());
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
    beast::error_code result;
    ws.text(!binary);
    ws.async_write(net::buffer(text.data(), text.size()), [&](beast::error_code ec, std::size_t) {
      done = true;
      result = ec;
    });
    if (!pump(std::chrono::seconds(10), [&] { return done; }))
      throw client_error("write timed out");
    if (result) throw client_error("write failed: " + result.message());
  }
};

blocking_client::blocking_client(endpoint ep, std::string subprotocol)
    : impl_(std::make_unique<impl>()) {
  impl_->ep = std::move(ep);
  impl_->subprotocol = std::move(subprotocol);
}

blocking_client::~blocking_client() {
  beast::error_code ec;
  impl_->ws.next_layer().close(ec);
}

void blocking_client::open(std::chrono::milliseconds timeout) {
  auto& i = *impl_;
  bool done = false;
  beast::error_code result;
  std::string where = i.ep.host + ":" + std::to_string(i.ep.port);
  tcp::resolver resolver(i.ioc);
  auto results = resolver.resolve(i.ep.host, std::to_string(i.ep.port), result);
  if (result) throw client_error("cannot resolve " + where + ": " + result.message());
  net::async_connect(i.ws.next_layer(), results, [&](beast::error_code ec, const tcp::endpoint&) {
    result = ec;
    if (ec) {
      done = true;
      return;
    }
    i.ws.next_layer().set_option(tcp::no_delay(true));
    if (!i.subprotocol.empty())
      i.ws.set_option(
          websocket::stream_base::decorator([p = i.subprotocol](websocket::request_type& req) {
            req.set(beast::http::field::sec_websocket_protocol, p);
          }));
    i.ws.read_message_max(64 * 1024 * 1024);
    i.ws.async_handshake(i.ep.host, i.ep.target, [&](beast::error_code ec2) {
      result = ec2;
      done = true;
    });
  });
  i.ioc.restart();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done && std::chrono::steady_clock::now() < deadline) i.ioc.run_one_until(deadline);
  if (!done) {
    beast::error_code ec;
    i.ws.next_layer().close(ec);
    throw client_error("timed out connecting to " + where);
  }
  if (result)
    throw client_error("cannot connect to ws://" + where + i.ep.target + ": " + result.message());
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
  i.ws.async_close(websocket::close_code::normal, [&](beast::error_code) { done = true; });
  i.pump(std::chrono::seconds(2), [&] { return done || i.closed; });
  i.closed = true;
}

}  // namespace muster::client
