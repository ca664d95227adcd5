// The client library's typed crisis calls, blocking and asynchronous, against a real musterd,
// and the README's example program run end to end.
#include "clients/lib/muster.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <thread>

#include "tests/integration/server_process.hpp"

using namespace muster;
using namespace muster::test;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<client::blocking_client> as(const server_process& s, const std::string& sub,
                                            const std::string& role) {
  auto c = std::make_unique<client::blocking_client>(s.endpoint());
  c->connect(sub, test_token(sub, role));
  return c;
}

client::alert_post post(const std::string& url) {
  client::alert_post p;
  p.source = "x";
  p.url = url;
  p.author = "@someone";
  p.text = "the kettle is smoking";
  p.severity = "sev2";
  p.tags = {"kettle"};
  p.reach = 1200;
  return p;
}

}  // namespace

TEST(client_crisis, blocking_calls_push_claim_respond_resolve_and_guidance) {
  server_process s(auth_args());
  auto lead = as(s, "lena", "lead");
  auto bot = as(s, "scout", "bot");
  auto amy = as(s, "amy", "ambassador");
  auto ben = as(s, "ben", "ambassador");
  client::create_channel(*lead, "triage", "Kettle recall", "sev2");
  ASSERT_FALSE(amy->call("subscribe", R"("channel":"triage")").is_error);

  auto ref = client::push_alert(*bot, post("https://x.com/someone/status/1"));
  EXPECT_EQ(ref.channel, "triage");
  EXPECT_EQ(ref.status, "new");
  EXPECT_FALSE(ref.deduplicated);
  auto again = client::push_alert(*bot, post("https://x.com/someone/status/1?utm_source=a"));
  EXPECT_EQ(again.id, ref.id);
  EXPECT_TRUE(again.deduplicated);

  client::claim_alert(*amy, "triage", ref.id);
  try {
    client::claim_alert(*ben, "triage", ref.id);
    FAIL() << "a second claim must be refused";
  } catch (const client::command_error& e) {
    EXPECT_EQ(e.code, "already_claimed");
    EXPECT_EQ(e.holder_user, "amy");
  }
  EXPECT_THROW(client::claim_alert(*bot, "triage", ref.id), client::command_error);  // a bot
  client::respond_alert(*amy, "triage", ref.id, "https://x.com/brand/status/2");
  client::resolve_alert(*amy, "triage", ref.id);

  auto gid = client::post_guidance(*lead, "triage", "holding_statement", "Hold", "We are on it.");
  EXPECT_TRUE(client::ack_guidance(*amy, "triage", gid));
  EXPECT_FALSE(client::ack_guidance(*amy, "triage", gid));  // already acknowledged
  client::read_guidance(*amy, "triage", gid, false);
  EXPECT_EQ(client::revise_guidance(*lead, "triage", gid, "We recalled it.", "recall"), 2);
  client::read_guidance(*amy, "triage", gid);
  auto progress = client::guidance_status(*lead, "triage", gid);
  ASSERT_EQ(progress.size(), 1u);
  EXPECT_EQ(progress[0].state, "read");
  EXPECT_EQ(progress[0].acked_version, 1);
  EXPECT_THROW(client::ack_guidance(*amy, "triage", gid, 1), client::command_error);
  EXPECT_TRUE(client::ack_guidance(*amy, "triage", gid, 2))
      << "a new version is acknowledged again";
  EXPECT_EQ(client::guidance_status(*lead, "triage", gid)[0].state, "acknowledged");
  try {
    client::post_guidance(*amy, "triage", "update", "x", "y");
    FAIL() << "ambassadors may not post guidance";
  } catch (const client::command_error& e) {
    EXPECT_EQ(e.code, "forbidden");
  }
}

TEST(client_crisis, assign_notes_and_the_directory_of_people) {
  server_process s(auth_args());
  auto lead = as(s, "lena", "lead");
  auto bot = as(s, "scout", "bot");
  auto amy = as(s, "amy", "ambassador");
  client::create_channel(*lead, "crisis.dir", "Directory", "sev2");
  ASSERT_FALSE(amy->call("subscribe", R"("channel":"crisis.dir")").is_error);
  auto ref = client::push_alert(*bot, post("https://x.com/someone/status/7"));
  try {
    client::assign_alert(*lead, ref.channel, ref.id, "Ben Okafor");
    FAIL() << "nobody of that id has connected";
  } catch (const client::command_error& e) {
    EXPECT_EQ(e.code, "unknown_user");
  }
  client::assign_alert(*lead, ref.channel, ref.id, "amy");
  client::view_alert(*amy, ref.channel, ref.id, true);
  client::view_alert(*amy, ref.channel, ref.id, false, false);
  auto note = client::note_alert(*amy, ref.channel, ref.id, "Asked for the order number");
  EXPECT_TRUE(note.starts_with("n-")) << note;

  auto people = client::list_people(*lead);
  std::vector<std::string> users;
  for (auto& p : people) users.push_back(p.user);
  EXPECT_EQ(users, (std::vector<std::string>{"amy", "lena", "scout"}));
  EXPECT_EQ(people[0].role, "ambassador");
  EXPECT_GT(people[0].first_seen, 0);
  std::vector<client::person_entry> members;
  // The subscription is recorded as the member just after it is answered.
  for (int i = 0; i < 200 && members.empty(); ++i) {
    members = client::channel_members(*lead, "crisis.dir");
    if (members.empty()) std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].user, "amy");
  EXPECT_GT(members[0].since, 0);
  EXPECT_THROW(client::list_people(*amy), client::command_error);
}

TEST(client_crisis, async_calls_on_a_session) {
  server_process s(auth_args());
  client::create_channel(*as(s, "lena", "lead"), "triage", "Kettle recall");
  boost::asio::io_context ioc;
  auto bot = client::session::create(ioc, {s.endpoint(), "scout", test_token("scout", "bot")});
  auto amy = client::session::create(ioc, {s.endpoint(), "amy", test_token("amy", "ambassador")});
  bool claimed = false, refused = false;
  int connected = 0;
  std::string id;
  // Starts once both sessions are connected (a command on a session still connecting fails
  // with "disconnected", by design).
  auto go = [&] {
    client::push_alert(
        *bot, post("https://x.com/async/1"),
        [&](const client::command_error* e, const client::alert_ref& r) {
          ASSERT_EQ(e, nullptr) << e->what();
          id = r.id;
          client::claim_alert(*amy, r.channel, r.id, [&](const client::command_error* ce) {
            claimed = ce == nullptr;
            // The bot cannot claim: the error arrives as a command_error.
            client::claim_alert(*bot, "triage", id, [&](const client::command_error* be) {
              refused = be && be->code == "forbidden";
              ioc.stop();
            });
          });
        });
  };
  for (auto* one : {bot.get(), amy.get()})
    one->on_state([&](client::session::state st, const std::string&) {
      if (st == client::session::state::connected && ++connected == 2) go();
    });
  amy->start();
  bot->start();
  ioc.run_for(10s);
  EXPECT_FALSE(id.empty());
  EXPECT_TRUE(claimed);
  EXPECT_TRUE(refused);
}

TEST(client_crisis, the_readme_example_program_runs) {
  server_process s(auth_args());
  client::create_channel(*as(s, "lena", "lead"), "triage", "Kettle recall");
  std::string cmd = "timeout 30 " + std::string(FIRST_DRILL_PATH) +
                    " ws://127.0.0.1:" + std::to_string(s.port()) + "/ws " +
                    test_token("scout", "bot") + " " + test_token("amy", "ambassador") + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = ::pclose(p);
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  EXPECT_NE(out.find("pushed a-"), std::string::npos) << out;
  EXPECT_NE(out.find("claimed a-"), std::string::npos) << out;
}
