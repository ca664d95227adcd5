// muster: command-line client on the client library: send, tail, chat, the crisis workflow
// (workflow.hpp), the bot, token, admin, drill and the benchmarks.
#include <CLI/CLI.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>

#include <chrono>
#include <iostream>
#include <optional>
#include <random>
#include <thread>

#include "clients/cli/admin.hpp"
#include "clients/cli/bench.hpp"
#include "clients/cli/bot.hpp"
#include "clients/cli/ca_file_option.hpp"
#include "clients/cli/crisis_bench.hpp"
#include "clients/cli/drill.hpp"
#include "clients/cli/render.hpp"
#include "clients/cli/workflow.hpp"
#include "clients/lib/blocking_client.hpp"
#include "clients/lib/session.hpp"
#include "protocol/codec.hpp"
#include "server/auth/jwt.hpp"

namespace net = boost::asio;
using namespace muster::client;

namespace {

std::string text_data(const std::string& text) {
  std::string d = "{\"text\":";
  muster::protocol::append_json_string(d, text);
  d += "}";
  return d;
}

// A fresh key per message: a retry of it is recognised by the server, never published twice.
std::string new_idempotency_key() {
  std::random_device rd;
  static constexpr char hex[] = "0123456789abcdef";
  std::string key = "send-";
  for (int i = 0; i < 16; ++i) key.push_back(hex[rd() & 15]);
  return key;
}

int run_send(const std::string& url, const tls_options& tls, const std::string& name,
             const std::string& token, const std::string& channel, const std::string& text,
             bool raw_json, int attempts, std::string key) {
  if (key.empty()) key = new_idempotency_key();
  std::string fields = "\"channel\":";
  muster::protocol::append_json_string(fields, channel);
  fields += ",\"data\":" + (raw_json ? text : text_data(text)) + ",\"idempotency_key\":";
  muster::protocol::append_json_string(fields, key);
  auto backoff = std::chrono::milliseconds(200);
  for (int attempt = 1;; ++attempt) {
    bool last = attempt >= attempts;
    try {
      blocking_client c(parse_url(url), tls);
      c.connect(name, token);
      auto r = c.call("publish", fields);
      c.close();
      if (!r.is_error) {
        std::cout << "published " << channel << " #" << json_uint(r.result, "offset").value_or(0)
                  << "\n";
        return 0;
      }
      // Sent again with the same key: published once whatever happened to the first try.
      bool retryable = r.error_code == "unavailable" || r.error_code == "outcome_unknown" ||
                       r.error_code == "rate_limited";
      if (!retryable || last) {
        std::cerr << "muster send: " << r.error_code << ": " << r.error_message << "\n";
        return 1;
      }
      std::cerr << "muster send: " << r.error_code << ", retrying\n";
    } catch (const client_error& e) {
      // A refused certificate will be refused again: only an unreachable server is retried.
      if (last || dynamic_cast<const certificate_refused*>(&e)) {
        std::cerr << "muster send: " << e.what() << "\n";
        return 2;
      }
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

// tail and chat: an async session that reconnects and recovers; chat also reads stdin.
int run_live(const std::string& url, const tls_options& tls, const std::string& name,
             const std::string& token, const std::string& channel, bool interactive, bool json,
             bool once, const muster::cli::render_options& ro) {
  net::io_context ioc;
  session::options opts;
  try {
    opts.server = parse_url(url);
  } catch (const client_error& e) {
    std::cerr << "muster: " << e.what() << "\n";
    return 2;
  }
  opts.tls = tls;
  opts.name = name;
  opts.token = token;
  opts.reconnect = !once;
  auto s = session::create(ioc, opts);
  int exit_code = 0;
  s->on_message([&](const server_message& m) {
    std::cout << (json ? m.raw : muster::cli::render_event(m, ro)) << std::endl;
  });
  s->on_state([&](session::state st, const std::string& detail) {
    std::cerr << "-- " << detail << std::endl;
    if (st == session::state::stopped && detail != "stopped") {
      exit_code = 1;
      ioc.stop();
    }
  });
  s->subscribe(channel, interactive);
  s->start();

  net::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) {
    s->stop();
    ioc.stop();
  });

  net::posix::stream_descriptor in(ioc, ::dup(STDIN_FILENO));
  std::string line_buf;
  std::function<void()> read_line = [&] {
    net::async_read_until(in, net::dynamic_buffer(line_buf), '\n',
                          [&](boost::system::error_code ec, std::size_t n) {
                            if (ec) {  // end of input: leave cleanly
                              s->stop();
                              ioc.stop();
                              return;
                            }
                            std::string line = line_buf.substr(0, n - 1);
                            line_buf.erase(0, n);
                            if (!line.empty())
                              s->publish(channel, text_data(line), [](const server_message& r) {
                                if (r.is_error)
                                  std::cerr << "-- not sent: " << r.error_code << ": "
                                            << r.error_message << std::endl;
                              });
                            read_line();
                          });
  };
  if (interactive) read_line();
  ioc.run();
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"muster: command-line client for the Muster crisis-response server"};
  app.set_version_flag("--version", std::string("muster ") + MUSTER_VERSION);
  app.require_subcommand(1);
  std::string url = "ws://127.0.0.1:8080/ws", name, token, channel, text;
  // MUSTER_SERVER: what the bot read before MUSTER_URL named the server for every subcommand.
  if (const char* u = std::getenv("MUSTER_SERVER")) url = u;
  if (const char* u = std::getenv("MUSTER_URL")) url = u;
  if (const char* t = std::getenv("MUSTER_TOKEN")) token = t;
  if (const char* n = std::getenv("USER")) name = n;
  if (name.empty()) name = "cli";
  tls_options tls;  // --ca-file of the subcommands `common` sets up
  auto common = [&](CLI::App* sub) {
    sub->add_option("--url", url,
                    "Server: ws[s]://HOST:PORT/ws or http[s]://HOST:PORT (env MUSTER_URL)")
        ->capture_default_str();
    muster::cli::add_ca_file_option(*sub, tls);
    sub->add_option("--name", name, "Display name")->capture_default_str();
    sub->add_option("--token", token, "Access token (env MUSTER_TOKEN)");
  };
  bool json = false, raw = false, once = false;
  muster::cli::render_options ro;
  auto* send = app.add_subcommand("send", "Publish one message to a channel");
  common(send);
  send->add_option("channel", channel, "Channel")->required();
  send->add_option("text", text, "Message text")->required();
  send->add_flag("--json", raw, "TEXT is a JSON value sent as the data as-is");
  int attempts = 5;
  std::string idempotency_key;
  send->add_option("--attempts", attempts,
                   "Tries when the server is unreachable or answers unavailable (default 5)")
      ->check(CLI::Range(1, 100));
  send->add_option("--idempotency-key", idempotency_key,
                   "Key of this message (default: a random one); the same key is published once");

  auto* tail = app.add_subcommand(
      "tail", "Print a channel's messages; recovers missed ones after a reconnect");
  common(tail);
  tail->add_option("channel", channel, "Channel")->required();
  auto* tail_json = tail->add_flag("--json", json, "Print each event as JSON");
  tail->add_flag("--timestamps", ro.timestamps, "Prefix each event's time (local HH:MM:SS)")
      ->excludes(tail_json);
  tail->add_flag("--once", once, "Exit instead of reconnecting when the connection drops");

  auto* chat =
      app.add_subcommand("chat", "Interactive chat: lines typed are sent, messages printed");
  common(chat);
  chat->add_option("channel", channel, "Channel")->required();
  auto* chat_json = chat->add_flag("--json", json, "Print each event as JSON");
  chat->add_flag("--timestamps", ro.timestamps, "Prefix each event's time (local HH:MM:SS)")
      ->excludes(chat_json);

  muster::cli::workflow_options wo;
  muster::cli::add_workflow_commands(app, wo, common);

  auto* tok = app.add_subcommand(
      "token", "Mint an HS256 access token from the server's secret (env MUSTER_AUTH_SECRET)");
  muster::server::auth::identity who;
  std::string role = "ambassador", secret, channels;
  long ttl_h = 12;
  if (const char* s = std::getenv("MUSTER_AUTH_SECRET")) secret = s;
  tok->add_option("--sub", who.subject, "Subject: the user's stable id (required to mint)");
  tok->add_option("--name", who.name, "Display name (default: the subject)");
  tok->add_option("--role", role, "ambassador, lead, bot or admin")
      ->capture_default_str()
      ->check(CLI::IsMember({"ambassador", "lead", "bot", "admin"}));
  tok->add_option("--channels", channels,
                  "Comma-separated channel globs the token is limited to (default: all)");
  tok->add_option("--ttl-hours", ttl_h, "Validity in hours")
      ->capture_default_str()
      ->check(CLI::Range(1L, 24L * 366));
  tok->add_option("--secret", secret, "The server's auth.secret (env MUSTER_AUTH_SECRET)");
  auto* revoke = tok->add_subcommand(
      "revoke", "Revoke a token by its jti, or every token of a user issued until now (admins)");
  common(revoke);
  revoke->add_option("--jti", wo.jti, "The token's id (its jti claim)");
  revoke->add_option("--user", wo.user, "A user (sub): every token issued until now");
  revoke->add_option("--reason", wo.reason, "Why, for the record");

  auto* admin = app.add_subcommand("admin", "Operations on a node's files (backup)");
  muster::cli::admin_options ado;
  muster::cli::add_admin_options(*admin, ado);

  auto* botc = app.add_subcommand(
      "bot", "Push social posts (JSON Lines or an HTTP JSON/Atom feed) as alerts");
  muster::cli::bot_options boto;
  if (const char* t = std::getenv("MUSTER_TOKEN")) boto.token = t;
  botc->add_option("--url", url,
                   "Server: http[s]://HOST:PORT or ws[s]://HOST:PORT/ws (env MUSTER_URL)")
      ->capture_default_str();
  std::string bot_server;  // --server: the bot's flag before --url, kept for old scripts
  botc->add_option("--server", bot_server, "Deprecated: use --url")->group("");
  muster::cli::add_bot_options(*botc, boto);

  auto* cbench = app.add_subcommand(
      "crisis-bench", "Crisis load: a bot pushes N alerts, K ambassadors race to claim them");
  muster::cli::crisis_bench_options cbo;
  if (const char* s = std::getenv("MUSTER_AUTH_SECRET")) cbo.secret = s;
  muster::cli::add_crisis_bench_options(*cbench, cbo);

  auto* drill = app.add_subcommand("drill", "Rehearse a crisis in a drill channel");
  muster::cli::drill_options dro;
  dro.url = url;
  dro.token = token;
  muster::cli::add_drill_options(*drill, dro);

  auto* bench = app.add_subcommand("bench", "Fan-out benchmark: N subscribers, one publisher");
  muster::cli::bench_options bo;
  muster::cli::add_bench_options(*bench, bo);
  bench->add_option("--url", url, "Server WebSocket URL: ws:// or wss://")->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 2, whatever its kind.
    return app.exit(e) == 0 ? 0 : 2;
  }
  std::string cmd = app.get_subcommands().front()->get_name();
  // Every subcommand takes the server as ws[s]:// or http[s]://; each uses the form it speaks.
  auto server_of = [&](const std::string& u) -> std::optional<server_urls> {
    try {
      return parse_server_url(u);
    } catch (const client_error& e) {
      std::cerr << "muster " << cmd << ": " << e.what() << "\n";
      return std::nullopt;
    }
  };
  bool uses_server = (cmd != "token" || revoke->parsed()) && cmd != "admin";
  auto urls = uses_server ? server_of(url) : server_urls{};
  if (!urls) return 2;
  url = urls->ws;
  wo.urls = *urls;
  wo.tls = tls;
  wo.name = name;
  wo.token = token;
  if (auto code = muster::cli::run_workflow(app, wo)) return *code;
  if (send->parsed())
    return run_send(url, tls, name, token, channel, text, raw, attempts, idempotency_key);
  if (tail->parsed()) return run_live(url, tls, name, token, channel, false, json, once, ro);
  if (chat->parsed()) return run_live(url, tls, name, token, channel, true, json, false, ro);
  if (revoke->parsed()) return muster::cli::revoke_token(wo);
  if (tok->parsed()) {
    if (who.subject.empty()) {
      std::cerr << "muster token: --sub is required to mint a token\n";
      return 2;
    }
    if (secret.size() < 16) {
      std::cerr << "muster token: the secret (--secret or MUSTER_AUTH_SECRET) must be at least 16 "
                   "bytes, the same as the server's auth.secret\n";
      return 2;
    }
    who.role = *muster::server::auth::parse_role(role);
    if (who.name.empty()) who.name = who.subject;
    for (std::size_t start = 0; start < channels.size();) {
      auto comma = channels.find(',', start);
      auto glob = channels.substr(start, comma - start);
      if (!glob.empty()) who.channels.push_back(glob);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    std::cout << muster::server::auth::mint(who, secret, std::chrono::hours(ttl_h)) << "\n";
    return 0;
  }
  if (cbench->parsed()) {
    for (auto& u : cbo.urls) {
      auto node = server_of(u);
      if (!node) return 2;
      u = node->ws;
    }
    return muster::cli::run_crisis_bench(cbo);
  }
  if (botc->parsed()) {
    boto.server = urls->http;
    if (!bot_server.empty()) {
      std::cerr << "muster bot: --server is deprecated; use --url\n";
      auto old = server_of(bot_server);
      if (!old) return 2;
      boto.server = old->http;
    }
    return muster::cli::run_bot(boto);
  }
  if (admin->parsed()) return muster::cli::run_admin(*admin, ado);
  if (drill->parsed()) {
    auto replay_to = server_of(dro.url);
    if (!replay_to) return 2;
    dro.url = replay_to->ws;
    return muster::cli::run_drill(dro);
  }
  if (bench->parsed()) {
    if (bo.token.empty()) bo.token = token;
    bo.url = url;
    return muster::cli::run_bench(bo);
  }
  return 0;
}
