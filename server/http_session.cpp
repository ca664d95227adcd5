#include "server/http_session.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <simdjson.h>

#include "server/command_table.hpp"
#include "server/log_throttle.hpp"

#include "server/node.hpp"
#include "server/websocket_session.hpp"
#include "server/ws_framing.hpp"

namespace muster::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {
constexpr std::size_t max_request_body = 1024 * 1024;
constexpr std::size_t max_request_header = 16 * 1024;

http::response<http::string_body> make_response(
    const http::request<http::string_body>& req, http::status status, std::string body,
    std::string_view content_type = "text/plain; charset=utf-8") {
  http::response<http::string_body> res{status, req.version()};
  res.set(http::field::server, "musterd/" MUSTER_VERSION);
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

// A response to a request that could not be read (no request to take the version from): the
// common headers, and the connection closes after it.
http::response<http::string_body> make_refusal(
    http::status status, std::string body,
    std::string_view content_type = "text/plain; charset=utf-8") {
  http::response<http::string_body> res{status, 11};
  res.set(http::field::server, "musterd/" MUSTER_VERSION);
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(false);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

// RFC 9112 6.1/6.3: a request's body length must not be guessed. Any Transfer-Encoding but a
// single "chunked" is refused, and so is chunked together with Content-Length (a request that
// two parsers could frame differently is a smuggling risk behind a proxy).
bool ambiguous_framing(const http::request_parser<http::string_body>& parser) {
  const auto& h = parser.get();
  auto n = h.count(http::field::transfer_encoding);
  if (n == 0) return false;
  if (n > 1 || h.count(http::field::content_length) > 0) return true;
  auto te = h[http::field::transfer_encoding];
  std::string_view v(te.data(), te.size());
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return !beast::iequals(v, "chunked");
}

// {"status":"success", <the result's members>}: a PagerDuty-like reply around a crisis result.
std::string with_status_success(std::string_view result_json) {
  simdjson::dom::parser p;
  simdjson::dom::object obj;
  protocol::json_writer w;
  w.begin_object().field("status", "success");
  if (!p.parse(result_json.data(), result_json.size()).get_object().get(obj))
    for (auto [key, value] : obj) w.raw_field(key, simdjson::minify(value));
  return w.end_object().take();
}

// The {channel} of /api/v1/channels/{channel}<suffix>, or none.
std::optional<std::string> channel_in(std::string_view path, std::string_view suffix) {
  constexpr std::string_view prefix = "/api/v1/channels/";
  if (!path.starts_with(prefix) || !path.ends_with(suffix) ||
      path.size() <= prefix.size() + suffix.size())
    return std::nullopt;
  return std::string(path.substr(prefix.size(), path.size() - prefix.size() - suffix.size()));
}

// The value of `key` in a query string (no percent-decoding needed for tokens: base64url).
std::string query_param(std::string_view target, std::string_view key) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  auto query = target.substr(q + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    auto kv = query.substr(0, amp);
    auto eq = kv.find('=');
    if (kv.substr(0, eq) == key && eq != std::string_view::npos)
      return std::string(kv.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

http::status status_for(protocol::errc e) {
  using protocol::errc;
  switch (e) {
    case errc::bad_json:
    case errc::bad_request:
    case errc::bad_channel:
    case errc::unknown_op:
      return http::status::bad_request;
    case errc::unauthorized:
      return http::status::unauthorized;
    case errc::forbidden:
      return http::status::forbidden;
    case errc::not_found:
      return http::status::not_found;
    case errc::already_claimed:
    case errc::already_exists:
    case errc::invalid_state:
    case errc::conflict:
      return http::status::conflict;
    case errc::unavailable:
    case errc::outcome_unknown:
      return http::status::service_unavailable;
    case errc::message_too_large:
      return http::status::payload_too_large;
    default:
      return http::status::internal_server_error;
  }
}

std::string error_body(protocol::errc code, std::string_view message, std::string_view extra = {}) {
  std::string out = "{\"error\":{\"code\":";
  protocol::append_json_string(out, protocol::wire_name(code));
  out += ",\"message\":";
  protocol::append_json_string(out, message);
  if (!extra.empty()) {
    out += ',';
    out += extra;
  }
  return out + "}}\n";
}

bool offers_subprotocol(std::string_view header) {
  // Sec-WebSocket-Protocol is a comma-separated token list.
  while (!header.empty()) {
    auto comma = header.find(',');
    auto token = header.substr(0, comma);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    if (token == protocol::subprotocol) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}
}  // namespace

namespace {

// Refusals at server.max_connections: counted always, logged at most every 10 s.
void log_full(std::size_t limit) {
  static log_throttle throttle(std::chrono::seconds(10));
  if (auto held = throttle.allow(std::chrono::steady_clock::now()))
    spdlog::warn(
        "refused a WebSocket upgrade: {} connections open (server.max_connections); {} "
        "more refused since the last line",
        limit, *held);
}

}  // namespace

http_session::http_session(net::ip::tcp::socket&& socket, node& n, io_thread& t, listener_role role,
                           std::shared_ptr<void> spare)
    : spare_(std::move(spare)),
      stream_(std::in_place_type<beast::tcp_stream>, std::move(socket)),
      node_(n),
      thread_(t),
      role_(role) {}

void http_session::run() {
  if (role_ == listener_role::main && node_.cfg().tls()) return detect_tls();
  do_read();
}

beast::tcp_stream& http_session::tcp() {
  return std::visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); },
                    stream_);
}

void http_session::detect_tls() {
  tcp().expires_after(spare_ ? std::chrono::seconds(2) : node_.cfg().handshake_timeout);
  beast::async_detect_ssl(std::get<beast::tcp_stream>(stream_), buffer_,
                          beast::bind_front_handler(&http_session::on_detect, shared_from_this()));
}

void http_session::on_detect(beast::error_code ec, bool speaks_tls) {
  if (ec) return fail(ec, "TLS detection");
  if (!speaks_tls) {
    // Plain HTTP on the TLS port: answered (400) unless tls.allow_plain lets it in.
    plain_on_tls_port_ = !node_.cfg().tls_allow_plain;
    return do_read();
  }
  auto ctx = node_.tls_context();  // the certificate as last loaded (SIGHUP replaces it)
  auto plain = std::move(std::get<beast::tcp_stream>(stream_));
  auto& tls = stream_.emplace<tls_stream>(std::move(plain), *ctx);
  // The bytes detection read are the start of the client's hello.
  tls.async_handshake(net::ssl::stream_base::server, buffer_.data(),
                      beast::bind_front_handler(&http_session::on_handshake, shared_from_this()));
}

void http_session::on_handshake(beast::error_code ec, std::size_t used) {
  if (ec) {
    node_.stats().add(counter::tls_handshake_errors);
    return fail(ec, "TLS handshake");
  }
  buffer_.consume(used);
  do_read();
}

void http_session::do_read() {
  // A fresh parser per request: Beast parsers are single-use.
  parser_.emplace();
  parser_->body_limit(max_request_body);
  parser_->header_limit(max_request_header);
  // A spare descriptor is not left to a client that sends nothing.
  tcp().expires_after(spare_ ? std::chrono::seconds(2) : node_.cfg().handshake_timeout);
  // The header first: how the body is framed is checked before any of it is read.
  with_stream([this](auto& s) {
    http::async_read_header(
        s, buffer_, *parser_,
        beast::bind_front_handler(&http_session::on_header, shared_from_this()));
  });
}

void http_session::on_header(beast::error_code ec, std::size_t) {
  if (ec) return on_read(ec, 0);
  if (ambiguous_framing(*parser_))
    return refuse_and_close(
        make_refusal(http::status::bad_request,
                     "Transfer-Encoding must be exactly \"chunked\", without Content-Length\n"));
  with_stream([this](auto& s) {
    http::async_read(s, buffer_, *parser_,
                     beast::bind_front_handler(&http_session::on_read, shared_from_this()));
  });
}

void http_session::refuse_and_close(http::response<http::string_body> res) {
  auto sp = std::make_shared<http::response<http::string_body>>(std::move(res));
  response_ = sp;
  with_stream([this, sp](auto& s) {
    http::async_write(s, *sp, [self = shared_from_this()](beast::error_code wec, std::size_t) {
      self->response_.reset();
      if (wec) return self->fail(wec, "write");
      self->drain_and_close();
    });
  });
}

void http_session::on_read(beast::error_code ec, std::size_t) {
  if (ec) return on_read_error(ec);
  auto& req = parser_->get();
  std::string_view target(req.target().data(), req.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  if (plain_on_tls_port_) {
    auto res = make_response(req, http::status::bad_request,
                             "this port speaks TLS: use https:// or wss://\n");
    res.keep_alive(false);
    return send_response(std::move(res));
  }
  // With an internal listener, the counters are not shown on the public port (spares included).
  bool metrics_elsewhere = role_ == listener_role::main && !node_.cfg().internal_listen.empty();
  bool check =
      path == "/healthz" || path == "/readyz" || (path == "/metrics" && !metrics_elsewhere);
  if (spare_) {
    // On a spare descriptor: the checks that tell operators what is wrong, nothing else.
    // Closed right after the answer (no draining): the spare must come back quickly.
    auto res =
        check && !websocket::is_upgrade(req) && req.method() == http::verb::get
            ? plain_response(req, path)
            : make_refusal(http::status::service_unavailable, "server at its open-file limit\n");
    res.keep_alive(false);
    return send_response(std::move(res));
  }
  if (role_ == listener_role::internal && (!check || websocket::is_upgrade(req)))
    return send_response(
        make_response(req, http::status::not_found,
                      "the internal listener serves /healthz, /readyz and /metrics only\n"));
  if (metrics_elsewhere && path == "/metrics")
    return send_response(make_response(req, http::status::not_found,
                                       "not found (metrics are on server.internal_listen)\n"));
  if (websocket::is_upgrade(req)) return handle_upgrade(req, target, path);
  if (path.starts_with("/api/")) return handle_api(req, path);
  auto res = plain_response(req, path);
  if (req.method() == http::verb::head) {
    // Same headers as GET, no body.
    auto length = res.body().size();
    res.body().clear();
    res.content_length(length);
  }
  send_response(std::move(res));
}

void http_session::on_read_error(beast::error_code ec) {
  if (ec == http::error::end_of_stream) {
    return end_output();
  }
  if (ec == http::error::body_limit) {
    // Said, not just dropped: the client learns why. The rest of the body is not read.
    node_.stats().error(protocol::errc::message_too_large);
    return refuse_and_close(
        make_refusal(http::status::payload_too_large,
                     error_body(protocol::errc::message_too_large,
                                "request body over " + std::to_string(max_request_body) + " bytes"),
                     "application/json"));
  }
  if (ec == http::error::header_limit)
    return refuse_and_close(make_refusal(http::status::request_header_fields_too_large,
                                         "request header fields over 16 KiB\n"));
  // Anything else that is not HTTP/1.1 as it must be (a bad request line, header or chunk).
  if (ec.category() == http::make_error_code(http::error::bad_method).category())
    return refuse_and_close(make_refusal(http::status::bad_request, "malformed request\n"));
  fail(ec, "read");
}

void http_session::handle_upgrade(const request& req, std::string_view target,
                                  std::string_view path) {
  auto refuse = [&](http::status status, std::string why) {
    auto res = make_response(req, status, std::move(why));
    res.keep_alive(false);
    return res;
  };
  if (path != "/ws")
    return send_response(refuse(http::status::not_found, "WebSocket endpoint is /ws\n"));
  if (auto why = origin_refusal(req)) {
    node_.stats().add(counter::connections_rejected);
    return send_response(refuse(http::status::forbidden, *why + "\n"));
  }
  auto proto = req.find(http::field::sec_websocket_protocol);
  bool bad_proto = proto != req.end() && !offers_subprotocol(std::string_view(
                                             proto->value().data(), proto->value().size()));
  bool full = node_.stats().connections.load(std::memory_order_relaxed) >=
              static_cast<std::int64_t>(node_.cfg().max_connections);
  if (bad_proto || full || node_.stopping()) {
    node_.stats().add(counter::connections_rejected);
    if (full) log_full(node_.cfg().max_connections);
    return send_response(
        refuse(bad_proto ? http::status::bad_request : http::status::service_unavailable,
               bad_proto ? "unsupported subprotocol: offer muster.v1\n"
               : full    ? "connection limit reached\n"
                         : "server shutting down\n"));
  }
  std::optional<auth::identity> who;
  auto token = query_param(target, "token");
  if (node_.auth().enabled() && !token.empty()) {
    auth::identity id;
    if (auto bad = node_.auth().verify(token, id)) {
      node_.stats().add(counter::connections_rejected);
      auto res = refuse(http::status::unauthorized, "token refused: " + bad.message() + "\n");
      res.set(http::field::www_authenticate, "Bearer error=\"invalid_token\"");
      return send_response(std::move(res));
    }
    who = std::move(id);
  }
  accept_websocket(req, std::move(who));
}

http::response<http::string_body> http_session::plain_response(const request& req,
                                                               std::string_view path) {
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    auto res = make_response(req, http::status::method_not_allowed, "method not allowed\n");
    res.set(http::field::allow, "GET, HEAD");
    return res;
  }
  if (path == "/healthz") return make_response(req, http::status::ok, "ok\n");
  if (path == "/readyz") {
    bool ready = node_.eng().ready() && !node_.stopping() && node_.keys_ready();
    return make_response(req, ready ? http::status::ok : http::status::service_unavailable,
                         ready ? "ready\n" : "not ready\n");
  }
  if (path == "/metrics") {
    auto body = node_.stats().render();
    node_.eng().append_metrics(body);
    body +=
        "# HELP muster_engine_ready Whether the engine can serve requests\n# TYPE "
        "muster_engine_ready gauge\n";
    body += node_.eng().ready() ? "muster_engine_ready 1\n" : "muster_engine_ready 0\n";
    return make_response(req, http::status::ok, std::move(body),
                         "text/plain; version=0.0.4; charset=utf-8");
  }
  auto web = node_.web();  // held while its file is copied into the response
  const auto* f = web->find(path);
  if (!f) return make_response(req, http::status::not_found, "not found\n");
  // The console: revalidated on every load (a new build is picked up at once), cheap when
  // unchanged (304); locked down to this origin.
  auto inm = req[http::field::if_none_match];
  bool fresh = !inm.empty() && std::string_view(inm.data(), inm.size()) == f->etag;
  auto res = make_response(req, fresh ? http::status::not_modified : http::status::ok,
                           fresh ? std::string() : f->body, f->mime);
  res.set(http::field::etag, f->etag);
  res.set(http::field::cache_control, "no-cache");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  res.set("Content-Security-Policy",
          "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
          "script-src 'self'; frame-ancestors 'none'; base-uri 'none'");
  if (fresh) res.body().clear();
  return res;
}

void http_session::send_response(http::response<http::string_body> res) {
  bool keep_alive = res.keep_alive();
  auto sp = std::make_shared<http::response<http::string_body>>(std::move(res));
  response_ = sp;
  with_stream([this, sp, keep_alive](auto& s) {
    http::async_write(
        s, *sp, beast::bind_front_handler(&http_session::on_write, shared_from_this(), keep_alive));
  });
}

std::optional<std::string> http_session::origin_refusal(const request& req) {
  auto origin = req[http::field::origin];
  auto host = req[http::field::host];
  auto why = node_.origins().refusal(std::string_view(origin.data(), origin.size()),
                                     std::string_view(host.data(), host.size()));
  if (why) node_.stats().add(counter::origin_refusals);
  return why;
}

void http_session::handle_api(const request& req, std::string_view path) {
  if (auto why = origin_refusal(req))
    return send_json(req, http::status::forbidden, error_body(protocol::errc::forbidden, *why));
  crisis::actor who;
  if (!api_identity(req, who)) return;
  if (path == "/api/v1/alerts") return api_alerts(req, who);
  if (path == "/api/v1/stats" || path == "/api/v1/channels") return api_listing(req, path, who);
  if (auto ch = channel_in(path, "/timeline")) return api_timeline(req, *ch, who);
  if (auto ch = channel_in(path, "/report")) return api_report(req, *ch, who);
  send_json(req, http::status::not_found,
            error_body(protocol::errc::not_found, "no such endpoint"));
}

void http_session::send_json(const request& req, http::status status, std::string body) {
  send_response(make_response(req, status, std::move(body), "application/json"));
}

bool http_session::api_identity(const request& req, crisis::actor& who) {
  // Who: a Bearer token, or (auth disabled) an anonymous admin.
  const auto& auth = node_.auth();
  if (!auth.enabled()) {
    who.id = auth::authenticator::anonymous_admin("anonymous");
    return true;
  }
  auto h = req[http::field::authorization];
  std::string_view header(h.data(), h.size());
  auto token = header.starts_with("Bearer ") ? header.substr(7) : std::string_view();
  auto ec = auth.verify(token, who.id);
  if (!ec) return true;
  auto res = make_response(req, http::status::unauthorized,
                           error_body(protocol::errc::unauthorized,
                                      header.empty() ? "Authorization: Bearer <token> is required"
                                                     : "token refused: " + ec.message()),
                           "application/json");
  res.set(http::field::www_authenticate, "Bearer");
  send_response(std::move(res));
  return false;
}

bool http_session::api_permit(const request& req, const crisis::actor& who,
                              std::string_view endpoint_name, http::verb method) {
  if (req.method() != method) {
    auto allow = method == http::verb::post ? "POST" : "GET";
    auto res = make_response(req, http::status::method_not_allowed,
                             error_body(protocol::errc::bad_request, std::string("use ") + allow),
                             "application/json");
    res.set(http::field::allow, allow);
    send_response(std::move(res));
    return false;
  }
  // The role matrix's HTTP rows.
  const auto& e = endpoint(endpoint_name);
  if (e.roles.has(who.id.role)) return true;
  send_json(
      req, http::status::forbidden,
      error_body(protocol::errc::forbidden, "role " + std::string(auth::role_name(who.id.role)) +
                                                " may not " + std::string(e.what)));
  return false;
}

bool http_session::api_channel_permit(const request& req, const crisis::actor& who,
                                      std::string_view endpoint_name, const std::string& channel) {
  if (!api_permit(req, who, endpoint_name, http::verb::get)) return false;
  if (!protocol::valid_channel_name(channel)) {
    send_json(req, http::status::bad_request,
              error_body(protocol::errc::bad_channel, "bad channel name"));
    return false;
  }
  if (who.id.may_access(channel)) return true;
  send_json(
      req, http::status::forbidden,
      error_body(protocol::errc::forbidden, "channel is not in the token's channel allow-list"));
  return false;
}

std::function<void(crisis::result)> http_session::api_reply(const request& req,
                                                            http::status ok_status,
                                                            bool status_success) {
  // Answers arrive on an engine thread: come back to ours before touching the stream.
  return [self = shared_from_this(), version = req.version(), keep = req.keep_alive(), ok_status,
          status_success](crisis::result r) {
    net::dispatch(self->tcp().get_executor(), [self, version, keep, ok_status, status_success,
                                               r = std::move(r)]() mutable {
      http::response<http::string_body> res{r.ok ? ok_status : status_for(r.code), version};
      res.set(http::field::server, "musterd/" MUSTER_VERSION);
      res.set(http::field::content_type, "application/json");
      res.set(http::field::cache_control, "no-store");
      res.keep_alive(keep);
      if (r.ok) {
        res.body() = status_success ? with_status_success(r.json) : std::move(r.json);
        res.body() += '\n';
      } else {
        self->node_.stats().error(r.code);
        res.body() = error_body(r.code, r.message, r.extra);
      }
      res.prepare_payload();
      self->send_response(std::move(res));
    });
  };
}

void http_session::api_alerts(const request& req, const crisis::actor& who) {
  if (!api_permit(req, who, "http.alerts", http::verb::post)) return;
  auto key_header = req["Idempotency-Key"];
  std::string key(key_header.data(), key_header.size());
  if (key.size() > protocol::max_idempotency_key_length)
    return send_json(
        req, http::status::bad_request,
        error_body(protocol::errc::bad_request, "Idempotency-Key must be at most 128 bytes"));
  node_.crisis().push_http(req.body(), key, who, api_reply(req, http::status::accepted, true));
}

void http_session::api_listing(const request& req, std::string_view path,
                               const crisis::actor& who) {
  bool stats = path == "/api/v1/stats";
  if (!api_permit(req, who, stats ? "http.stats" : "http.channels", http::verb::get)) return;
  auto reply = api_reply(req, http::status::ok, false);
  if (!stats) return node_.crisis().channels(who, reply);
  auto ch = query_param(std::string_view(req.target().data(), req.target().size()), "channel");
  if (!ch.empty() && !protocol::valid_channel_name(ch))
    return send_json(
        req, http::status::bad_request,
        error_body(protocol::errc::bad_request, "channel is not a valid channel name"));
  if (!ch.empty() && !who.id.may_access(ch))
    return send_json(
        req, http::status::forbidden,
        error_body(protocol::errc::forbidden, "channel is not in the token's channel allow-list"));
  node_.crisis().stats(ch.empty() ? std::nullopt : std::optional(ch), who, reply);
}

void http_session::api_timeline(const request& req, const std::string& channel,
                                const crisis::actor& who) {
  if (!api_channel_permit(req, who, "http.timeline", channel)) return;
  node_.crisis().timeline(
      channel, [self = shared_from_this(), version = req.version(), keep = req.keep_alive()](
                   std::error_code ec, std::string lines, std::uint64_t first) {
        net::dispatch(self->tcp().get_executor(),
                      [self, version, keep, ec, first, lines = std::move(lines)]() mutable {
                        http::response<http::string_body> res{
                            ec ? http::status::service_unavailable : http::status::ok, version};
                        res.set(http::field::server, "musterd/" MUSTER_VERSION);
                        res.set(http::field::cache_control, "no-store");
                        res.keep_alive(keep);
                        if (ec) {
                          res.set(http::field::content_type, "application/json");
                          res.body() = error_body(protocol::errc::unavailable, ec.message());
                        } else {
                          res.set(http::field::content_type, "application/x-ndjson");
                          // Says whether retention dropped the start of the timeline.
                          res.set("X-Muster-First-Offset", std::to_string(first));
                          res.body() = std::move(lines);
                        }
                        res.prepare_payload();
                        self->send_response(std::move(res));
                      });
      });
}

void http_session::api_report(const request& req, const std::string& channel,
                              const crisis::actor& who) {
  if (!api_channel_permit(req, who, "http.report", channel)) return;
  auto format = crisis::parse_report_format(
      query_param(std::string_view(req.target().data(), req.target().size()), "format"));
  if (!format)
    return send_json(
        req, http::status::bad_request,
        error_body(protocol::errc::bad_request, "format must be one of json html csv"));
  auto fail = api_reply(req, http::status::ok, false);
  auto answer = [self = shared_from_this(), fail, version = req.version(), keep = req.keep_alive(),
                 f = *format](crisis::result r) {
    if (!r.ok) return fail(std::move(r));
    // Answers arrive on an engine thread: come back to ours before touching the stream.
    net::dispatch(self->tcp().get_executor(),
                  [self, version, keep, f, body = std::move(r.json)]() mutable {
                    http::response<http::string_body> res{http::status::ok, version};
                    res.set(http::field::server, "musterd/" MUSTER_VERSION);
                    res.set(http::field::content_type, crisis::content_type(f));
                    res.set(http::field::cache_control, "no-store");
                    res.set("X-Content-Type-Options", "nosniff");
                    // The page is self-contained: it may load nothing, run nothing, only use its
                    // own styles.
                    if (f == crisis::report_format::html)
                      res.set("Content-Security-Policy",
                              "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
                    if (f == crisis::report_format::json) body += '\n';
                    res.keep_alive(keep);
                    res.body() = std::move(body);
                    res.prepare_payload();
                    self->send_response(std::move(res));
                  });
  };
  node_.crisis().report(channel, *format, who, std::move(answer));
}

void http_session::accept_websocket(const request& req, std::optional<auth::identity> who) {
  auto key = req[http::field::sec_websocket_key];
  auto version = req[http::field::sec_websocket_version];
  if (key.size() != 24 || version != "13") {
    node_.stats().add(counter::connections_rejected);
    auto res = std::make_shared<http::response<http::string_body>>(make_response(
        req, version != "13" ? http::status::upgrade_required : http::status::bad_request,
        version != "13" ? "WebSocket version 13 required\n"
                        : "missing or malformed Sec-WebSocket-Key\n"));
    res->set(http::field::sec_websocket_version, "13");
    res->keep_alive(false);
    response_ = res;
    return with_stream([this, res](auto& s) {
      http::async_write(
          s, *res, beast::bind_front_handler(&http_session::on_write, shared_from_this(), false));
    });
  }
  auto res = std::make_shared<http::response<http::empty_body>>(http::status::switching_protocols,
                                                                req.version());
  res->set(http::field::server, "musterd/" MUSTER_VERSION);
  res->set(http::field::upgrade, "websocket");
  res->set(http::field::connection, "Upgrade");
  res->set(http::field::sec_websocket_accept,
           ws::accept_key(std::string_view(key.data(), key.size())));
  // No extension is negotiated (permessage-deflate offers are declined by omission).
  if (req.find(http::field::sec_websocket_protocol) != req.end())
    res->set(http::field::sec_websocket_protocol, protocol::subprotocol);
  response_ = res;
  with_stream([this, res, &who](auto& s) {
    http::async_write(s, *res,
                      [self = shared_from_this(), who = std::move(who)](beast::error_code ec,
                                                                        std::size_t) mutable {
                        self->response_.reset();
                        if (ec) return self->fail(ec, "upgrade");
                        self->start_websocket(std::move(who));
                      });
  });
}

void http_session::start_websocket(std::optional<auth::identity> who) {
  tcp().expires_never();
  auto data = buffer_.cdata();
  std::string leftover(static_cast<const char*>(data.data()), data.size());
  std::shared_ptr<websocket_session> ws;
  if (auto* tls = std::get_if<tls_stream>(&stream_))
    ws = std::make_shared<websocket_session>(std::make_unique<tls_transport>(std::move(*tls)),
                                             node_, thread_);
  else
    ws = std::make_shared<websocket_session>(std::get<beast::tcp_stream>(stream_).release_socket(),
                                             node_, thread_);
  ws->run(leftover, std::move(who));
}

void http_session::end_output() {
  // close_notify: the client learns the response is whole; bounded if it never answers (not
  // waited for on a spare descriptor, which must come back quickly).
  if (auto* tls = std::get_if<tls_stream>(&stream_); tls && !spare_) {
    tcp().expires_after(std::chrono::seconds(2));
    return tls->async_shutdown([self = shared_from_this()](beast::error_code) {});
  }
  beast::error_code ignored;
  tcp().socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
}

void http_session::on_write(bool keep_alive, beast::error_code ec, std::size_t) {
  response_.reset();
  if (ec) return fail(ec, "write");
  if (!keep_alive) return end_output();
  do_read();
}

void http_session::drain_and_close() {
  constexpr std::size_t max_drain = 16 * 1024 * 1024;
  beast::error_code ignored;
  if (drained_ == 0) {
    tcp().socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    tcp().expires_after(std::chrono::seconds(5));
  }
  buffer_.consume(buffer_.size());
  with_stream([this](auto& s) {
    s.async_read_some(buffer_.prepare(64 * 1024),
                      [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                        self->drained_ += n;
                        if (ec || self->drained_ > max_drain) {
                          beast::error_code ignore;
                          self->tcp().socket().close(ignore);
                          return;
                        }
                        self->drain_and_close();
                      });
  });
}

void http_session::fail(beast::error_code ec, const char* what) {
  if (ec == net::error::operation_aborted || ec == beast::error::timeout) return;
  spdlog::debug("http: {}: {}", what, ec.message());
}

}  // namespace muster::server
