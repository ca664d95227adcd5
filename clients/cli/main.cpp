// muster: command-line client. send / tail / chat / bench subcommands on the client library.
#include <CLI/CLI.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>

#include <chrono>
#include <iostream>
#include <random>
#include <thread>

#include "clients/cli/admin.hpp"
#include "clients/cli/bench.hpp"
#include "clients/cli/bot.hpp"
#include "clients/cli/drill.hpp"
#include "clients/cli/crisis_bench.hpp"
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

// "alice: hello" for {"text":...} messages, the raw JSON otherwise.
void print_message(const server_message& m, bool json) {
  if (json) {
    std::cout << m.raw << std::endl;
    return;
  }
  if (m.event == "message") {
    auto text = json_string(m.data, "text");
    std::cout << "[" << m.channel << " #" << m.offset << "] " << m.sender_name << ": "
              << (text ? *text : m.data) << std::endl;
  } else if (m.event == "join" || m.event == "leave") {
    std::cout << "* " << json_string(m.raw, "name").value_or("?")
              << (m.event == "join" ? " joined " : " left ") << m.channel << std::endl;
  } else {
    std::cout << m.raw << std::endl;
  }
}

// A fresh key per message: a retry of it is recognised by the server, never published twice.
std::string new_idempotency_key() {
  std::random_device rd;
  static constexpr char hex[] = "0123456789abcdef";
  std::string key = "send-";
  for (int i = 0; i < 16; ++i) key.push_back(hex[rd() & 15]);
  return key;
}

int run_send(const std::string& url, const std::string& name, const std::string& token,
             const std::string& channel, const std::string& text, bool raw_json, int attempts,
             std::string key) {
  if (key.empty()) key = new_idempotency_key();
  std::string fields = "\"channel\":";
  muster::protocol::append_json_string(fields, channel);
  fields += ",\"data\":" + (raw_json ? text : text_data(text)) + ",\"idempotency_key\":";
  muster::protocol::append_json_string(fields, key);
  auto backoff = std::chrono::milliseconds(200);
  for (int attempt = 1;; ++attempt) {
    bool last = attempt >= attempts;
    try {
      blocking_client c(parse_url(url));
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
      if (last) {
        std::cerr << "muster send: " << e.what() << "\n";
        return 2;
      }
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

// tail and chat: an async session that reconnects and recovers; chat also reads stdin.
int run_live(const std::string& url, const std::string& name, const std::string& token,
             const std::string& channel, bool interactive, bool json, bool once) {
  net::io_context ioc;
  session::options opts;
  try {
    opts.server = parse_url(url);
  } catch (const client_error& e) {
    std::cerr << "muster: " << e.what() << "\n";
    return 2;
  }
  opts.name = name;
  opts.token = token;
  opts.reconnect = !once;
  auto s = session::create(ioc, opts);
  int exit_code = 0;
  s->on_message([&](const server_message& m) { print_message(m, json); });
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
  if (const char* u = std::getenv("MUSTER_URL")) url = u;
  if (const char* t = std::getenv("MUSTER_TOKEN")) token = t;
  if (const char* n = std::getenv("USER")) name = n;
  if (name.empty()) name = "cli";
  auto common = [&](CLI::App* sub) {
    sub->add_option("--url", url, "Server WebSocket URL (env MUSTER_URL)")->capture_default_str();
    sub->add_option("--name", name, "Display name")->capture_default_str();
    sub->add_option("--token", token, "Access token (env MUSTER_TOKEN)");
  };
  bool json = false, raw = false, once = false;
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
  tail->add_flag("--json", json, "Print each event as JSON");
  tail->add_flag("--once", once, "Exit instead of reconnecting when the connection drops");

  auto* chat =
      app.add_subcommand("chat", "Interactive chat: lines typed are sent, messages printed");
  common(chat);
  chat->add_option("channel", channel, "Channel")->required();
  chat->add_flag("--json", json, "Print each event as JSON");

  auto* tok = app.add_subcommand(
      "token", "Mint an HS256 access token from the server's secret (env MUSTER_AUTH_SECRET)");
  muster::server::auth::identity who;
  std::string role = "ambassador", secret, channels;
  long ttl_h = 12;
  if (const char* s = std::getenv("MUSTER_AUTH_SECRET")) secret = s;
  tok->add_option("--sub", who.subject, "Subject: the user's stable id")->required();
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

  auto* admin = app.add_subcommand("admin", "Operations on a node's files (backup)");
  muster::cli::admin_options ado;
  muster::cli::add_admin_options(*admin, ado);

  auto* botc = app.add_subcommand(
      "bot", "Push social posts (JSON Lines or an HTTP JSON/Atom feed) as alerts");
  muster::cli::bot_options boto;
  if (const char* t = std::getenv("MUSTER_TOKEN")) boto.token = t;
  if (const char* s = std::getenv("MUSTER_SERVER")) boto.server = s;
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
  bench->add_option("--url", url, "Server WebSocket URL")->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  if (send->parsed())
    return run_send(url, name, token, channel, text, raw, attempts, idempotency_key);
  if (tail->parsed()) return run_live(url, name, token, channel, false, json, once);
  if (chat->parsed()) return run_live(url, name, token, channel, true, json, false);
  if (tok->parsed()) {
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
  if (cbench->parsed()) return muster::cli::run_crisis_bench(cbo);
  if (botc->parsed()) return muster::cli::run_bot(boto);
  if (admin->parsed()) return muster::cli::run_admin(*admin, ado);
  if (drill->parsed()) return muster::cli::run_drill(dro);
  if (bench->parsed()) {
    if (bo.token.empty()) bo.token = token;
    bo.url = url;
    return muster::cli::run_bench(bo);
  }
  return 0;
}
