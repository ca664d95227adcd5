// A first crisis drill with the client library: an ambassador's asynchronous session subscribes
// to `triage` and claims every new alert; a bot on another thread pushes one alert with the
// blocking facade. Usage: first_drill ws://127.0.0.1:8080/ws BOT_TOKEN AMBASSADOR_TOKEN
#include <boost/asio/io_context.hpp>

#include <iostream>
#include <thread>

#include "clients/lib/muster.hpp"

namespace client = muster::client;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: first_drill WS_URL BOT_TOKEN AMBASSADOR_TOKEN\n";
    return 2;
  }
  auto server = client::parse_url(argv[1]);
  boost::asio::io_context ioc;
  int rc = 1;

  // The ambassador: claims each new alert it sees, then we are done.
  auto amy = client::session::create(ioc, {server, "amy", argv[3]});
  amy->on_message([&](const client::server_message& m) {
    if (m.event != "alert.new") return;
    auto alert = client::parse_alert_ref(m.data);
    client::claim_alert(
        *amy, m.channel, alert.id, [&, id = alert.id](const client::command_error* e) {
          if (e)
            std::cout << "claim refused: " << e->code << " (held by " << e->holder_name << ")\n";
          else
            std::cout << "claimed " << id << "\n";
          rc = e ? 1 : 0;
          amy->stop();
          ioc.stop();
        });
  });
  std::thread bot;
  amy->on_state([&](client::session::state s, const std::string& detail) {
    if (s != client::session::state::connected || bot.joinable()) return;
    // The bot: a blocking client on its own thread.
    bot = std::thread([&] {
      try {
        client::blocking_client c(server);
        c.connect("bot", argv[2]);
        client::alert_post post;
        post.source = "x";
        post.url = "https://x.com/someone/status/1";
        post.author = "@someone";
        post.text = "My kettle is smoking!";
        post.severity = "sev2";
        post.reach = 5000;
        auto ref = client::push_alert(c, post);
        std::cout << "pushed " << ref.id << " into " << ref.channel
                  << (ref.deduplicated ? " (deduplicated)" : " (new)") << "\n";
      } catch (const std::exception& e) {
        std::cout << "bot: " << e.what() << "\n";
      }
    });
    (void)detail;
  });
  amy->subscribe("triage");
  amy->start();
  ioc.run_for(std::chrono::seconds(10));
  if (bot.joinable()) bot.join();
  return rc;
}
