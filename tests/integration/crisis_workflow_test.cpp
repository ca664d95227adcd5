// Crisis workflow II against real servers: one musterd on the memory engine, and two nodes
// sharing a real redis-server. Who is on an alert, claims that expire, the directory, versioned
// guidance with deadlines, plain channels, and platform-aware dedup.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>
#include <set>
#include <thread>

#include "clients/lib/blocking_client.hpp"
#include "protocol/codec.hpp"
#include "tests/integration/node_set.hpp"

using namespace muster;
using namespace muster::test;
using namespace std::chrono_literals;
namespace dom = simdjson::dom;

namespace {

std::string json_string(std::string_view s) {
  std::string out;
  protocol::append_json_string(out, s);
  return out;
}

// A JSON text's string at `ptr` ("" when absent).
std::string str_at(const std::string& json, std::string_view ptr) {
  dom::parser p;
  dom::element e;
  std::string_view v;
  if (p.parse(json).get(e) || e.at_pointer(ptr).get_string().get(v)) return {};
  return std::string(v);
}

std::int64_t num_at(const std::string& json, std::string_view ptr) {
  dom::parser p;
  dom::element e;
  std::int64_t v = -1;
  if (p.parse(json).get(e) || e.at_pointer(ptr).get_int64().get(v)) return -1;
  return v;
}

// The `field` of every object of the array at `ptr`.
std::vector<std::string> column(const std::string& json, std::string_view ptr,
                                std::string_view field) {
  dom::parser p;
  dom::element e;
  dom::array a;
  std::vector<std::string> out;
  if (p.parse(json).get(e) || e.at_pointer(ptr).get_array().get(a)) return out;
  for (dom::element item : a) {
    std::string_view v;
    out.emplace_back(item[field].get_string().get(v) ? "<none>" : std::string(v));
  }
  return out;
}

}  // namespace

class crisis_workflow : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::vector<std::string> args;
    for (const char* kv : {"crisis.triage_channel=\"crisis.w\"", "crisis.activity_ttl_ms=1500",
                           "crisis.scan_interval_ms=100", "crisis.reminder_after_s=3600",
                           "escalation.sev3_claim_ttl_s=2", "escalation.sev3_escalate_after_s=3600",
                           "limits.command_rate=100000", "limits.command_burst=100000"})
      args.insert(args.end(), {"--set", kv});
    nodes_ = std::make_unique<node_set>(GetParam(), args);
    ASSERT_TRUE(nodes_->ready()) << nodes_->logs();
    lead_ = connect(0, "lena", "lead");
    bot_ = connect(1, "scout", "bot");
    ASSERT_FALSE(
        lead_->call("channel.create", R"("channel":"crisis.w","title":"Workflow")").is_error);
  }

  std::unique_ptr<client::blocking_client> connect(int on, const std::string& sub,
                                                   const std::string& role) {
    return nodes_->connect(on, sub, role);
  }
  std::string logs() { return nodes_->logs(); }
  // Pushes an alert; returns the reply's result.
  std::string push(const std::string& url, const std::string& text = "a post") {
    auto r = bot_->call("alert.push", "\"source\":\"x\",\"url\":" + json_string(url) +
                                          ",\"text\":" + json_string(text));
    EXPECT_FALSE(r.is_error) << r.raw;
    return r.result;
  }
  std::string on_alert(const std::string& id, const std::string& more = "") {
    return "\"channel\":\"crisis.w\",\"alert\":" + json_string(id) + more;
  }
  std::string on_guidance(const std::string& id, const std::string& more = "") {
    return "\"channel\":\"crisis.w\",\"guidance\":" + json_string(id) + more;
  }
  // The next event called `name` on `c` within `timeout`, or none.
  static std::optional<client::server_message> next(client::blocking_client& c,
                                                    std::string_view name,
                                                    std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (int i = 0; i < 10000; ++i) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) return std::nullopt;
      auto ev = c.next_event(left);
      if (!ev) return std::nullopt;
      if (ev->event == name) return ev;
    }
    return std::nullopt;
  }
  // Every stored event of crisis.w called `name`.
  std::vector<std::string> history_of(std::string_view name) {
    auto h = lead_->call("history", R"("channel":"crisis.w","since":0,"limit":1000)");
    std::vector<std::string> out;
    dom::parser p;
    dom::element e;
    dom::array pubs;
    if (h.is_error || p.parse(h.result).get(e) || e["publications"].get_array().get(pubs))
      return out;
    for (dom::element pub : pubs) {
      std::string_view ev;
      if (!pub["event"].get_string().get(ev) && ev == name) out.emplace_back(simdjson::minify(pub));
    }
    return out;
  }

  std::unique_ptr<node_set> nodes_;
  std::unique_ptr<client::blocking_client> lead_, bot_;
};

TEST_P(crisis_workflow, ambassadors_on_different_nodes_see_who_views_and_drafts) {
  auto amy = connect(0, "amy", "ambassador");
  auto ben = connect(1, "ben", "ambassador");
  for (auto* c : {amy.get(), ben.get()})
    ASSERT_FALSE(c->call("subscribe", R"("channel":"crisis.w")").is_error);
  auto id = str_at(push("https://x.com/brand/status/1"), "/alert/id");
  ASSERT_FALSE(amy->call("alert.view", on_alert(id)).is_error);
  auto seen = next(*ben, "alert.activity", 1s);
  ASSERT_TRUE(seen) << "Ben sees Amy open the alert within a second\n" << logs();
  EXPECT_EQ(str_at(seen->raw, "/data/user"), "amy");
  EXPECT_EQ(str_at(seen->raw, "/data/state"), "viewing");
  EXPECT_EQ(seen->offset, 0u) << "not a stream event";
  ASSERT_FALSE(amy->call("alert.draft", on_alert(id)).is_error);
  auto drafting = next(*ben, "alert.activity", 1s);
  ASSERT_TRUE(drafting);
  EXPECT_EQ(str_at(drafting->raw, "/data/state"), "drafting");
  auto got = ben->call("alert.get", on_alert(id));
  EXPECT_EQ(column(got.result, "/activity", "user"), std::vector<std::string>{"amy"});
  auto claim = ben->call("alert.claim", on_alert(id));
  ASSERT_FALSE(claim.is_error) << claim.raw;
  EXPECT_EQ(column(claim.result, "/drafting", "user"), std::vector<std::string>{"amy"})
      << "the claim says who is already drafting";
  EXPECT_TRUE(history_of("alert.activity").empty()) << "activity is not in the timeline";
  // Nobody refreshes: the entry is gone after the TTL (1.5 s).
  EXPECT_TRUE(eventually(
      [&] {
        return column(ben->call("alert.get", on_alert(id)).result, "/activity", "user").empty();
      },
      5s));
  // Leaving ends it at once, announced.
  ASSERT_FALSE(amy->call("alert.view", on_alert(id)).is_error);
  ASSERT_TRUE(next(*ben, "alert.activity", 1s));
  amy.reset();  // disconnects
  auto gone = next(*ben, "alert.activity", 2s);
  ASSERT_TRUE(gone) << logs();
  EXPECT_EQ(str_at(gone->raw, "/data/state"), "none");
  EXPECT_EQ(str_at(gone->raw, "/data/user"), "amy");
}

TEST_P(crisis_workflow, fifty_unanswered_claims_expire_exactly_once_each) {
  std::vector<std::unique_ptr<client::blocking_client>> amb;
  for (int a = 0; a < 5; ++a) amb.push_back(connect(a, "amb" + std::to_string(a), "ambassador"));
  std::set<std::string> claimed;
  for (int i = 0; i < 50; ++i) {
    auto id = str_at(push("https://news.example/story/" + std::to_string(i)), "/alert/id");
    auto r = amb[static_cast<std::size_t>(i % 5)]->call("alert.claim", on_alert(id));
    ASSERT_FALSE(r.is_error) << r.raw;
    claimed.insert(id);
  }
  ASSERT_EQ(claimed.size(), 50u);
  ASSERT_TRUE(eventually([&] { return history_of("alert.released").size() >= 50; }, 20s))
      << history_of("alert.released").size() << "\n"
      << logs();
  std::this_thread::sleep_for(1s);  // ten more scans on every node: nothing more may come
  auto released = history_of("alert.released");
  std::map<std::string, int> times;
  for (auto& ev : released) {
    EXPECT_EQ(str_at(ev, "/data/reason"), "expired");
    EXPECT_EQ(str_at(ev, "/sender/client"), "scheduler");
    ++times[str_at(ev, "/data/alert/id")];
  }
  EXPECT_EQ(released.size(), 50u);
  for (auto& id : claimed) EXPECT_EQ(times[id], 1) << id;
}

TEST_P(crisis_workflow, assigning_to_someone_who_never_connected_is_refused) {
  auto amy = connect(1, "amy", "ambassador");
  auto id = str_at(push("https://x.com/brand/status/2"), "/alert/id");
  auto r = lead_->call("alert.assign", on_alert(id, ",\"to\":\"Ben Okafor\""));
  ASSERT_TRUE(r.is_error);
  EXPECT_EQ(r.error_code, "unknown_user");
  auto ok = lead_->call("alert.assign", on_alert(id, ",\"to\":\"amy\""));
  ASSERT_FALSE(ok.is_error) << ok.raw;
  EXPECT_EQ(str_at(ok.result, "/alert/holder/user"), "amy");
  auto people = lead_->call("people.list");
  EXPECT_EQ(column(people.result, "/people", "user"),
            (std::vector<std::string>{"amy", "lena", "scout"}));
}

TEST_P(crisis_workflow, a_revised_statement_resets_acks_and_flags_answers_under_the_old_one) {
  auto amy = connect(0, "amy", "ambassador");
  auto ben = connect(1, "ben", "ambassador");
  for (auto* c : {amy.get(), ben.get()})
    ASSERT_FALSE(c->call("subscribe", R"("channel":"crisis.w")").is_error);
  ASSERT_TRUE(eventually([&] {
    return column(lead_->call("channel.members", R"("channel":"crisis.w")").result, "/members",
                  "user")
               .size() == 2;
  }));
  auto post =
      lead_->call("guidance.post",
                  R"("channel":"crisis.w","kind":"holding_statement","title":"Hold","body":"v1")");
  ASSERT_FALSE(post.is_error) << post.raw;
  auto gid = str_at(post.result, "/guidance/id");
  ASSERT_FALSE(amy->call("guidance.ack", on_guidance(gid)).is_error);
  ASSERT_FALSE(ben->call("guidance.ack", on_guidance(gid)).is_error);
  auto early = str_at(push("https://x.com/brand/status/3"), "/alert/id");
  ASSERT_FALSE(amy->call("alert.claim", on_alert(early)).is_error);
  ASSERT_FALSE(
      amy->call("alert.respond", on_alert(early, ",\"reply_text\":\"under v1\"")).is_error);

  auto rev =
      lead_->call("guidance.revise",
                  on_guidance(gid, ",\"body\":\"v2: recall\",\"changes\":\"recall is official\""));
  ASSERT_FALSE(rev.is_error) << rev.raw;
  EXPECT_EQ(num_at(rev.result, "/guidance/version"), 2);
  auto st = lead_->call("guidance.status", on_guidance(gid));
  EXPECT_TRUE(column(st.result, "/acknowledged", "user").empty());
  EXPECT_EQ(column(st.result, "/pending", "user"), (std::vector<std::string>{"amy", "ben"}));
  ASSERT_FALSE(ben->call("guidance.ack", on_guidance(gid, ",\"version\":2")).is_error);
  st = lead_->call("guidance.status", on_guidance(gid));
  EXPECT_EQ(column(st.result, "/acknowledged", "user"), std::vector<std::string>{"ben"})
      << "exactly who acked v2";
  EXPECT_EQ(num_at(st.result, "/acknowledged/0/version"), 2);
  EXPECT_EQ(column(st.result, "/pending", "user"), std::vector<std::string>{"amy"});

  auto later = str_at(push("https://x.com/brand/status/4"), "/alert/id");
  ASSERT_FALSE(ben->call("alert.claim", on_alert(later)).is_error);
  ASSERT_FALSE(
      ben->call("alert.respond", on_alert(later, ",\"reply_text\":\"under v2\"")).is_error);
  auto stats = lead_->call("stats", R"("channel":"crisis.w")");
  ASSERT_FALSE(stats.is_error) << stats.raw;
  EXPECT_EQ(num_at(stats.result, "/channels/0/guidance/responses_under_superseded"), 1);
  dom::parser p;
  dom::element e;
  std::string_view flagged;
  ASSERT_FALSE(p.parse(stats.result).get(e));
  ASSERT_FALSE(
      e.at_pointer("/channels/0/guidance/superseded_responses/0").get_string().get(flagged));
  EXPECT_EQ(flagged, early);
}

TEST_P(crisis_workflow, overdue_guidance_escalates_once_naming_exactly_the_pending) {
  auto amy = connect(0, "amy", "ambassador");
  auto ben = connect(1, "ben", "ambassador");
  auto cara = connect(1, "cara", "ambassador");
  for (auto* c : {amy.get(), ben.get(), cara.get()})
    ASSERT_FALSE(c->call("subscribe", R"("channel":"crisis.w")").is_error);
  ASSERT_FALSE(lead_->call("subscribe", R"("channel":"leads")").is_error);
  ASSERT_TRUE(eventually([&] {
    return column(lead_->call("channel.members", R"("channel":"crisis.w")").result, "/members",
                  "user")
               .size() == 3;
  }));
  auto post = lead_->call(
      "guidance.post",
      R"("channel":"crisis.w","kind":"talking_points","title":"Points","body":"Say this","ack_within_s":1)");
  ASSERT_FALSE(post.is_error) << post.raw;
  auto gid = str_at(post.result, "/guidance/id");
  ASSERT_FALSE(amy->call("guidance.ack", on_guidance(gid)).is_error);
  auto over = next(*lead_, "guidance.overdue", 10s);
  ASSERT_TRUE(over) << logs();
  EXPECT_EQ(over->channel, "leads");
  EXPECT_EQ(column(over->raw, "/data/pending", "user"), (std::vector<std::string>{"ben", "cara"}));
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(history_of("guidance.overdue").size(), 1u) << "once, with both nodes scanning";
  EXPECT_FALSE(next(*lead_, "guidance.overdue", 200ms));
}

TEST_P(crisis_workflow, guidance_in_a_plain_channel_expects_no_acks) {
  auto amy = connect(0, "amy", "ambassador");
  ASSERT_FALSE(amy->call("subscribe", R"("channel":"chat.plain")").is_error);
  auto post = lead_->call("guidance.post",
                          R"("channel":"chat.plain","kind":"update","title":"FYI","body":"hello")");
  ASSERT_FALSE(post.is_error) << post.raw;
  auto gid = str_at(post.result, "/guidance/id");
  // A later subscription to a crisis channel is recorded: the plain one had its turn before.
  ASSERT_FALSE(amy->call("subscribe", R"("channel":"crisis.w")").is_error);
  ASSERT_TRUE(eventually([&] {
    return column(lead_->call("channel.members", R"("channel":"crisis.w")").result, "/members",
                  "user") == std::vector<std::string>{"amy"};
  }));
  auto st =
      lead_->call("guidance.status", "\"channel\":\"chat.plain\",\"guidance\":" + json_string(gid));
  ASSERT_FALSE(st.is_error) << st.raw;
  EXPECT_TRUE(column(st.result, "/pending", "user").empty()) << st.result;
  EXPECT_TRUE(
      column(lead_->call("channel.members", R"("channel":"chat.plain")").result, "/members", "user")
          .empty());
}

TEST_P(crisis_workflow, reshares_of_one_post_fold_into_one_alert_per_platform) {
  const std::vector<std::vector<std::string>> posts = {
      {"https://x.com/sarah_k/status/1001", "https://twitter.com/sarah_k/status/1001?s=20",
       "https://mobile.twitter.com/Sarah_K/status/1001?t=abc&s=19"},
      {"https://www.instagram.com/p/CxYz123/", "https://instagram.com/reel/CxYz123/?igshid=MzRl"},
      {"https://www.facebook.com/brand/posts/pfbid0abc",
       "https://m.facebook.com/brand/posts/pfbid0abc?mibextid=Nif5oz",
       "https://fb.com/brand/posts/pfbid0abc?fbclid=IwAR0"},
      {"https://www.tiktok.com/@chef/video/7301?is_from_webapp=1&sender_device=pc",
       "https://m.tiktok.com/@chef/video/7301"},
      {"https://www.youtube.com/watch?v=dQw4w9WgXcQ", "https://youtu.be/dQw4w9WgXcQ?si=xyz&t=42",
       "https://m.youtube.com/shorts/dQw4w9WgXcQ"},
      {"https://www.reddit.com/r/kettles/comments/abc12/my_kettle/",
       "https://old.reddit.com/r/Kettles/comments/abc12/?utm_source=share"},
      {"https://www.linkedin.com/posts/brand_activity-7100?trk=public",
       "https://linkedin.com/posts/brand_activity-7100"},
      {"https://www.threads.net/@brand/post/C1a2b3",
       "https://threads.net/@brand/post/C1a2b3?igshid=x"},
      {"https://bsky.app/profile/Brand.bsky.social/post/3kabc",
       "https://bsky.app/profile/brand.bsky.social/post/3kabc"},
      {"https://mastodon.social/@steam/1122334455",
       "https://mastodon.social/@steam/1122334455?utm_medium=s"},
  };
  std::set<std::string> ids;
  for (const auto& group : posts) {
    std::set<std::string> mine;
    for (const auto& url : group) mine.insert(str_at(push(url, "reshare of " + url), "/alert/id"));
    EXPECT_EQ(mine.size(), 1u) << group.front();
    ids.insert(*mine.begin());
    auto got = lead_->call("alert.get", on_alert(*mine.begin()));
    EXPECT_EQ(num_at(got.result, "/alert/count"), static_cast<std::int64_t>(group.size()))
        << group.front();
    EXPECT_EQ(str_at(got.result, "/alert/text"), "reshare of " + group.front())
        << "the first text stays";
  }
  EXPECT_EQ(ids.size(), posts.size()) << "different posts stay apart";
}

INSTANTIATE_TEST_SUITE_P(engines, crisis_workflow, ::testing::Values("memory", "redis"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });
