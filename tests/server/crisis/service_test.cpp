#include "server/crisis/service.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <set>

#include "tests/server/crisis/service_fixture.hpp"

using namespace crisis_test;

namespace {

// ---------------------------------------------------------------------------------------------
// alert.push: validation, new alerts, dedup

TEST_F(crisis_service, push_validation_errors_name_the_field) {
  // Bots need to know which field to fix; nothing may be stored for a refused push.
  struct bad_case {
    std::string frame;
    std::string message;
  };
  const std::vector<bad_case> cases = {
      {R"({"id":1,"op":"alert.push","source":"x"})", "url is required"},
      {R"({"id":1,"op":"alert.push","url":"https://x.com/1"})", "source is required"},
      {R"({"id":1,"op":"alert.push","source":"x","url":"https://x.com/1","severity":2})",
       "severity must be a string"},
      {R"({"id":1,"op":"alert.push","source":"x","url":"https://x.com/1","severity":"sev9"})",
       "severity must be one of sev1 sev2 sev3 sev4"},
      {R"({"id":1,"op":"alert.push","source":"x","url":"x.com/1"})",
       "url must be an http or https URL"},
      {R"j({"id":1,"op":"alert.push","source":"x","url":"javascript://%0Aalert(1)"})j",
       "url must be an http or https URL"},
      {R"({"id":1,"op":"alert.push","source":"x","url":"data://text/html,hi"})",
       "url must be an http or https URL"},
      {R"({"id":1,"op":"alert.push","source":"x","url":"https:///no-host"})",
       "url must be an http or https URL"},
      {R"({"id":1,"op":"alert.push","source":"x","url":"https://x.com/1","tags":"fire"})",
       "tags must be an array of strings"},
  };
  for (const auto& c : cases) {
    auto r = run("alert.push", c.frame, bot_);
    EXPECT_FALSE(r.ok) << c.frame;
    EXPECT_EQ(r.code, errc::bad_request) << c.frame;
    EXPECT_EQ(r.message, c.message) << c.frame;
  }
  for (std::string_view reach : {R"("lots")", "-5", "1.5"}) {
    auto r = run("alert.push",
                 alert_frame("https://x.com/1", "sev3", "x",
                             ",\"metrics\":{\"reach\":" + std::string(reach) + "}"),
                 bot_);
    EXPECT_EQ(r.code, errc::bad_request) << reach;
    EXPECT_TRUE(r.message.starts_with("metrics.reach must be a non-negative integer")) << r.message;
  }
  EXPECT_TRUE(events("triage").empty());
  EXPECT_EQ(metrics_.total(counter::alerts_new), 0u);
}

TEST_F(crisis_service, nested_field_error_has_no_trailing_space) {
  // Regression: a nested field error ("metrics.<error>") once ended in a stray space.
  auto r = run("alert.push",
               alert_frame("https://x.com/1", "sev3", "x", R"(,"metrics":{"reach":"a"})"), bot_);
  EXPECT_EQ(r.message, "metrics.reach must be a non-negative integer");
}

TEST_F(crisis_service, new_alert_reply_and_event) {
  // The reply names the alert and its routed home; the stream holds the alert.new event.
  auto r = run(
      "alert.push",
      alert_frame(
          "https://x.com/u/status/1", "sev2", "x",
          R"(,"author":"@u","text":"Help","tags":["a","b"],"metrics":{"reach":10,"engagement":3})"),
      bot_);
  ASSERT_TRUE(r.ok) << r.message;
  json j(r.json);
  ASSERT_TRUE(j.valid()) << r.json;
  EXPECT_EQ(j.flag("/deduplicated"), false);
  auto id = j.str("/alert/id");
  EXPECT_TRUE(id.starts_with("a-")) << id;
  EXPECT_EQ(j.str("/alert/channel"), "triage");
  EXPECT_EQ(j.strs("/alert/channels"), std::vector<std::string>{"triage"});
  EXPECT_EQ(j.str("/alert/status"), "new");
  EXPECT_EQ(j.str("/alert/severity"), "sev2");
  EXPECT_EQ(j.str("/alert/dedup_key"), "https://x.com/u/status/1");
  EXPECT_EQ(j.num("/alert/metrics/reach"), 10);
  EXPECT_EQ(j.num("/alert/count"), 1);
  EXPECT_EQ(j.num("/alert/first_seen"), ms(t0));
  EXPECT_TRUE(j.is_null("/alert/holder"));
  EXPECT_EQ(j.num("/offset"), 1);

  auto evs = events("triage");
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].name, "alert.new");
  EXPECT_EQ(evs[0].offset, 1u);
  EXPECT_EQ(json(evs[0].frame).str("/data/alert/id"), id);
  EXPECT_EQ(json(evs[0].frame).str("/sender/client"), "c-bot");

  auto got = act("alert.get", id, ana_);
  ASSERT_TRUE(got.ok) << got.message;
  EXPECT_EQ(json(got.json).str("/alert/id"), id);
  EXPECT_EQ(metrics_.total(counter::alerts_new), 1u);
}

TEST_F(crisis_service, duplicates_by_canonical_url_fold_into_one_alert) {
  // Tracking parameters, host case, fragments and a trailing slash do not make a new post.
  auto id = push_new("https://x.com/u/status/1");
  for (std::string_view url : {"https://X.COM/u/status/1/?utm_source=feed&fbclid=z",
                               "HTTPS://x.com/u/status/1#reply", "https://x.com/u/status/1/"}) {
    auto r = run("alert.push", alert_frame(url), bot_);
    ASSERT_TRUE(r.ok) << r.message;
    json j(r.json);
    EXPECT_EQ(j.flag("/deduplicated"), true) << url;
    EXPECT_EQ(j.flag("/severity_raised"), false) << url;
    EXPECT_EQ(j.str("/alert/id"), id) << url;
  }
  json got(act("alert.get", id, ana_).json);
  EXPECT_EQ(got.num("/alert/count"), 4);
  EXPECT_EQ(metrics_.total(counter::alerts_new), 1u);
  EXPECT_EQ(metrics_.total(counter::alerts_deduplicated), 3u);
  // A different path is a different post.
  auto other = push_new("https://x.com/u/status/2");
  EXPECT_NE(other, id);
}

TEST_F(crisis_service, a_first_trigger_claims_the_posts_pointer_with_its_alert) {
  auto pointer = [this](const std::string& key) {
    std::vector<doc> out;
    engine_.read_docs(crisis::keys::pointer_channel, {crisis::keys::pointer(key)},
                      [&out](std::error_code, std::vector<doc> d) { out = std::move(d); });
    return out.at(0);
  };
  const std::string url = "https://x.com/u/status/9";
  auto id = push_new(url);
  EXPECT_EQ(pointer(url).value, "triage") << "written in the alert's own commit";
  // Older data: an alert whose post has no pointer. The repeat gives it one, then folds.
  std::optional<commit_result> dropped;
  engine_.commit(crisis::keys::pointer_channel,
                 {{crisis::keys::pointer(url), pointer(url).version, ""}}, {}, std::nullopt,
                 [&](std::error_code, commit_result r) { dropped = r; });
  ASSERT_TRUE(dropped && dropped->applied);
  ASSERT_EQ(pointer(url).version, 0u);
  auto r = run("alert.push", alert_frame(url), bot_);
  ASSERT_TRUE(r.ok) << r.message;
  json j(r.json);
  EXPECT_EQ(j.flag("/deduplicated"), true);
  EXPECT_EQ(j.str("/alert/id"), id);
  EXPECT_EQ(pointer(url).value, "triage");
  EXPECT_EQ(metrics_.total(counter::alerts_new), 1u);
}

TEST_F(crisis_service, severity_rises_on_duplicate_but_never_lowers) {
  // A rising severity is announced again; a calmer repeat keeps the worst seen.
  auto id = push_new("https://x.com/u/status/7", "sev3");
  auto up = run("alert.push", alert_frame("https://x.com/u/status/7", "sev1"), bot_);
  ASSERT_TRUE(up.ok) << up.message;
  json j_up(up.json);
  EXPECT_EQ(j_up.flag("/severity_raised"), true);
  EXPECT_EQ(j_up.str("/alert/severity"), "sev1");
  auto down = run("alert.push", alert_frame("https://x.com/u/status/7", "sev4"), bot_);
  ASSERT_TRUE(down.ok) << down.message;
  json j_down(down.json);
  EXPECT_EQ(j_down.flag("/severity_raised"), false);
  EXPECT_EQ(j_down.str("/alert/severity"), "sev1");
  EXPECT_EQ(j_down.str("/alert/id"), id);
  EXPECT_EQ(j_down.num("/alert/count"), 3);
  EXPECT_EQ(event_names("triage"),
            (std::vector<std::string>{"alert.new", "alert.updated", "alert.updated"}));
}

TEST_F(crisis_service, closed_alert_key_starts_a_new_alert) {
  // Once resolved or dismissed, the same post coming back is a new incident.
  auto first = push_new("https://x.com/u/status/9");
  ASSERT_TRUE(act("alert.claim", first, ana_).ok);
  ASSERT_TRUE(act("alert.resolve", first, ana_).ok);
  auto second = push_new("https://x.com/u/status/9/");
  EXPECT_NE(second, first);
  EXPECT_EQ(json(act("alert.get", second, ana_).json).num("/alert/count"), 1);
  ASSERT_TRUE(act("alert.dismiss", second, lea_).ok);
  auto third = push_new("https://x.com/u/status/9");
  EXPECT_NE(third, second);
  EXPECT_NE(third, first);
}

TEST_F(crisis_service, duplicate_with_rising_severity_folds_even_when_routing_changes) {
  // Regression: the dedup document was once looked up only in the home channel of the *new*
  // trigger's route, so a repeat whose higher severity matches a min_severity
  // rule is routed elsewhere and becomes a second alert instead of raising the first one's
  // severity.
  route_rule urgent;
  urgent.min_severity = severity::sev1;
  urgent.channels = {"urgent"};
  opts_.routes = {urgent};
  auto id = push_new("https://x.com/u/status/5", "sev3");
  auto r = run("alert.push", alert_frame("https://x.com/u/status/5", "sev1"), bot_);
  ASSERT_TRUE(r.ok) << r.message;
  json j(r.json);
  EXPECT_EQ(j.flag("/deduplicated"), true) << r.json;
  EXPECT_EQ(j.flag("/severity_raised"), true) << r.json;
  EXPECT_EQ(j.str("/alert/id"), id);
}

// ---------------------------------------------------------------------------------------------
// Routing

TEST_F(crisis_service, routing_rules_union_home_first_and_fallback_to_triage) {
  // Every condition of a rule must hold; matching rules' channels are united in rule order.
  route_rule fire, flood, sev1;
  fire.sources = {"x"};
  fire.tags = {"fire", "smoke"};
  fire.channels = {"crisis-fire", "ops"};
  flood.keywords = {"Flood"};
  flood.channels = {"crisis-flood", "ops"};
  sev1.min_severity = severity::sev1;
  sev1.channels = {"urgent"};
  opts_.routes = {fire, flood, sev1};

  auto all = run("alert.push",
                 alert_frame("https://x.com/a", "sev1", "x",
                             R"(,"tags":["smoke"],"text":"Flooding near the river")"),
                 bot_);
  ASSERT_TRUE(all.ok) << all.message;
  json ja(all.json);
  auto id = ja.str("/alert/id");
  EXPECT_EQ(ja.str("/alert/channel"), "crisis-fire");
  EXPECT_EQ(ja.strs("/alert/channels"),
            (std::vector<std::string>{"crisis-fire", "ops", "crisis-flood", "urgent"}));

  // Source condition fails (reddit), no keyword, sev2 is below sev1: triage.
  auto none = run(
      "alert.push",
      alert_frame("https://r.com/b", "sev2", "reddit", R"(,"tags":["fire"],"text":"hi")"), bot_);
  ASSERT_TRUE(none.ok);
  EXPECT_EQ(json(none.json).strs("/alert/channels"), std::vector<std::string>{"triage"});

  // Keywords match case-insensitively, whatever the source.
  auto kw = run("alert.push",
                alert_frame("https://m.social/c", "sev3", "mastodon", R"(,"text":"FLOOD warning")"),
                bot_);
  ASSERT_TRUE(kw.ok);
  EXPECT_EQ(json(kw.json).strs("/alert/channels"),
            (std::vector<std::string>{"crisis-flood", "ops"}));

  // Right source, wrong tags: triage.
  auto tags =
      run("alert.push", alert_frame("https://x.com/d", "sev2", "x", R"(,"tags":["rain"])"), bot_);
  ASSERT_TRUE(tags.ok);
  EXPECT_EQ(json(tags.json).str("/alert/channel"), "triage");

  // The alert.new event reaches every routed channel; the document lives in the home only.
  for (std::string_view ch : {"crisis-fire", "ops", "crisis-flood", "urgent"}) {
    bool found = false;
    for (auto& f : frames(ch, "alert.new")) found |= json(f).str("/data/alert/id") == id;
    EXPECT_TRUE(found) << ch;
  }
  EXPECT_EQ(act("alert.claim", id, ana_, "ops").code, errc::not_found);
  ASSERT_TRUE(act("alert.claim", id, ana_, "crisis-fire").ok);
  for (std::string_view ch : {"crisis-fire", "ops", "crisis-flood", "urgent"}) {
    auto claimed = frames(ch, "alert.claimed");
    ASSERT_EQ(claimed.size(), 1u) << ch;
    EXPECT_EQ(json(claimed[0]).str("/data/alert/holder/user"), "amb-a") << ch;
  }
  EXPECT_EQ(count("triage", "alert.claimed"), 0u);
}

// ---------------------------------------------------------------------------------------------
// Claims and transitions

TEST_F(crisis_service, claim_is_exclusive_and_names_the_holder) {
  // Exactly one ambassador answers a post; the loser learns who has it.
  auto id = push_new("https://x.com/u/status/1");
  auto mine = act("alert.claim", id, ana_);
  ASSERT_TRUE(mine.ok) << mine.message;
  json jm(mine.json);
  EXPECT_EQ(jm.flag("/changed"), true);
  EXPECT_EQ(jm.str("/alert/status"), "claimed");
  EXPECT_EQ(jm.str("/alert/holder/user"), "amb-a");
  EXPECT_EQ(jm.str("/alert/holder/name"), "Ana");
  EXPECT_EQ(jm.num("/alert/claimed_at"), ms(t0));

  now_ += 5s;
  auto theirs = act("alert.claim", id, ben_);
  EXPECT_FALSE(theirs.ok);
  EXPECT_EQ(theirs.code, errc::already_claimed);
  json extra("{" + theirs.extra + "}");
  ASSERT_TRUE(extra.valid()) << theirs.extra;
  EXPECT_EQ(extra.str("/holder/user"), "amb-a");
  EXPECT_EQ(extra.str("/holder/name"), "Ana");

  auto again = act("alert.claim", id, ana_);
  ASSERT_TRUE(again.ok) << again.message;
  json jg(again.json);
  EXPECT_EQ(jg.flag("/changed"), false);
  EXPECT_EQ(jg.num("/alert/claimed_at"), ms(t0)) << "a repeat claim keeps the original time";
  EXPECT_EQ(event_names("triage"), (std::vector<std::string>{"alert.new", "alert.claimed"}));
}

TEST_F(crisis_service, release_needs_the_holder_or_a_lead) {
  // An ambassador cannot take another's claim away; a lead can.
  auto id = push_new("https://x.com/u/status/1");
  ASSERT_TRUE(act("alert.claim", id, ana_).ok);
  auto r = act("alert.release", id, ben_);
  EXPECT_EQ(r.code, errc::forbidden);
  auto led = act("alert.release", id, lea_);
  ASSERT_TRUE(led.ok) << led.message;
  json j(led.json);
  EXPECT_EQ(j.str("/alert/status"), "new");
  EXPECT_TRUE(j.is_null("/alert/holder"));
  // Released: someone else may claim it now, and its holder may release their own claim.
  ASSERT_TRUE(act("alert.claim", id, ben_).ok);
  ASSERT_TRUE(act("alert.release", id, ben_).ok);
  EXPECT_EQ(count("triage", "alert.released"), 2u);
}

TEST_F(crisis_service, respond_requires_a_reply_and_the_holder) {
  // A response records what was said and who said it.
  auto id = push_new("https://x.com/u/status/1");
  ASSERT_TRUE(act("alert.claim", id, ana_).ok);
  auto empty = act("alert.respond", id, ana_);
  EXPECT_EQ(empty.code, errc::bad_request);
  EXPECT_EQ(empty.message, "reply_url or reply_text is required");
  auto other =
      run("alert.respond",
          cmd("alert.respond", {{"channel", "triage"}, {"alert", id}, {"reply_text", "hi"}}), ben_);
  EXPECT_EQ(other.code, errc::forbidden);
  auto script =
      run("alert.respond",
          cmd("alert.respond",
              {{"channel", "triage"}, {"alert", id}, {"reply_url", "javascript://%0Aalert(1)"}}),
          ana_);
  EXPECT_EQ(script.code, errc::bad_request);
  EXPECT_EQ(script.message, "reply_url must be an http or https URL");
  now_ += 90s;
  auto ok = run("alert.respond",
                cmd("alert.respond",
                    {{"channel", "triage"}, {"alert", id}, {"reply_url", "https://x.com/brand/9"}}),
                ana_);
  ASSERT_TRUE(ok.ok) << ok.message;
  json j(ok.json);
  EXPECT_EQ(j.str("/alert/status"), "responded");
  EXPECT_EQ(j.str("/alert/reply_url"), "https://x.com/brand/9");
  EXPECT_EQ(j.str("/alert/responder/user"), "amb-a");
  EXPECT_EQ(j.num("/alert/responded_at"), ms(t0 + 90s));
  // Text alone is enough too (on another alert, by a lead for someone else's claim).
  auto id2 = push_new("https://x.com/u/status/2");
  ASSERT_TRUE(act("alert.claim", id2, ben_).ok);
  auto by_lead = run(
      "alert.respond",
      cmd("alert.respond", {{"channel", "triage"}, {"alert", id2}, {"reply_text", "On it"}}), lea_);
  ASSERT_TRUE(by_lead.ok) << by_lead.message;
  EXPECT_EQ(json(by_lead.json).str("/alert/responder/user"), "lead-1");
}

TEST_F(crisis_service, resolve_by_holder_or_lead) {
  // Closing records who closed it and when.
  auto id = push_new("https://x.com/u/status/1");
  ASSERT_TRUE(act("alert.claim", id, ana_).ok);
  EXPECT_EQ(act("alert.resolve", id, ben_).code, errc::forbidden);
  now_ += 1min;
  auto r = act("alert.resolve", id, ana_);
  ASSERT_TRUE(r.ok) << r.message;
  json j(r.json);
  EXPECT_EQ(j.str("/alert/status"), "resolved");
  EXPECT_EQ(j.str("/alert/closed_by"), "amb-a");
  EXPECT_EQ(j.num("/alert/closed_at"), ms(t0 + 1min));
  // A lead may resolve an unclaimed alert.
  auto id2 = push_new("https://x.com/u/status/2");
  EXPECT_TRUE(act("alert.resolve", id2, lea_).ok);
}

TEST_F(crisis_service, dismiss_is_for_leads_only) {
  // Deciding a post needs no answer is a lead's call.
  auto id = push_new("https://x.com/u/status/1");
  auto amb = act("alert.dismiss", id, ana_);
  EXPECT_EQ(amb.code, errc::forbidden);
  auto r = act("alert.dismiss", id, lea_);
  ASSERT_TRUE(r.ok) << r.message;
  EXPECT_EQ(json(r.json).str("/alert/status"), "dismissed");
  EXPECT_EQ(json(r.json).str("/alert/closed_by"), "lead-1");
  EXPECT_EQ(count("triage", "alert.dismissed"), 1u);
}

TEST_F(crisis_service, assign_by_lead_hands_the_claim_over) {
  // Leads route work to a named ambassador, who may then answer it.
  auto id = push_new("https://x.com/u/status/1");
  auto frame = cmd("alert.assign",
                   {{"channel", "triage"}, {"alert", id}, {"to", "amb-b"}, {"to_name", "Ben"}});
  EXPECT_EQ(run("alert.assign", frame, ana_).code, errc::forbidden);
  auto missing = act("alert.assign", id, lea_);
  EXPECT_EQ(missing.code, errc::bad_request);
  EXPECT_EQ(missing.message, "to is required");
  auto r = run("alert.assign", frame, lea_);
  ASSERT_TRUE(r.ok) << r.message;
  json j(r.json);
  EXPECT_EQ(j.str("/alert/status"), "claimed");
  EXPECT_EQ(j.str("/alert/holder/user"), "amb-b");
  EXPECT_EQ(j.str("/alert/holder/name"), "Ben");
  EXPECT_EQ(act("alert.claim", id, ana_).code, errc::already_claimed);
  auto ans = run(
      "alert.respond",
      cmd("alert.respond", {{"channel", "triage"}, {"alert", id}, {"reply_text", "done"}}), ben_);
  EXPECT_TRUE(ans.ok) << ans.message;
  // Reassigning an answered alert makes no sense.
  EXPECT_EQ(run("alert.assign", frame, lea_).code, errc::invalid_state);
}

TEST_F(crisis_service, invalid_transitions_are_refused_without_events) {
  // Refusals change nothing, so the stream stays as it was.
  auto id = push_new("https://x.com/u/status/1");
  EXPECT_EQ(act("alert.release", id, ana_).code, errc::invalid_state) << "not claimed";
  auto resp =
      run("alert.respond",
          cmd("alert.respond", {{"channel", "triage"}, {"alert", id}, {"reply_text", "x"}}), ana_);
  EXPECT_EQ(resp.code, errc::invalid_state) << "not claimed";
  ASSERT_TRUE(act("alert.dismiss", id, lea_).ok);
  EXPECT_EQ(act("alert.claim", id, ana_).code, errc::invalid_state);
  EXPECT_EQ(act("alert.release", id, lea_).code, errc::invalid_state);
  EXPECT_EQ(act("alert.resolve", id, lea_).code, errc::invalid_state);
  EXPECT_EQ(act("alert.dismiss", id, lea_).code, errc::invalid_state);
  EXPECT_EQ(act("alert.claim", "a-000000000000", ana_).code, errc::not_found);
  EXPECT_EQ(act("alert.claim", "", ana_).code, errc::bad_request);
  EXPECT_EQ(event_names("triage"), (std::vector<std::string>{"alert.new", "alert.dismissed"}));
}

TEST_F(crisis_service, every_transition_appends_its_event_at_the_replied_offset) {
  // Clients use the reply's offset to line their view up with the stream.
  auto id = push_new("https://x.com/u/status/1");
  std::vector<std::pair<std::string, result>> steps;
  steps.emplace_back("alert.claimed", act("alert.claim", id, ana_));
  steps.emplace_back("alert.released", act("alert.release", id, ana_));
  steps.emplace_back(
      "alert.assigned",
      run("alert.assign",
          cmd("alert.assign", {{"channel", "triage"}, {"alert", id}, {"to", "amb-b"}}), lea_));
  steps.emplace_back(
      "alert.responded",
      run("alert.respond",
          cmd("alert.respond", {{"channel", "triage"}, {"alert", id}, {"reply_text", "ok"}}),
          ben_));
  steps.emplace_back("alert.resolved", act("alert.resolve", id, ben_));
  auto id2 = push_new("https://x.com/u/status/2");
  steps.emplace_back("alert.dismissed", act("alert.dismiss", id2, lea_));

  auto evs = events("triage");
  for (const auto& [name, r] : steps) {
    ASSERT_TRUE(r.ok) << name << ": " << r.message;
    json j(r.json);
    EXPECT_EQ(j.flag("/changed"), true) << name;
    auto off = j.num("/offset");
    ASSERT_GE(off, 1) << name;
    ASSERT_LE(static_cast<std::size_t>(off), evs.size()) << name;
    const auto& ev = evs[static_cast<std::size_t>(off) - 1];
    EXPECT_EQ(ev.offset, static_cast<std::uint64_t>(off));
    EXPECT_EQ(ev.name, name);
    EXPECT_EQ(json(ev.frame).str("/data/alert/status"), j.str("/alert/status")) << name;
  }
  EXPECT_EQ(event_names("triage"),
            (std::vector<std::string>{"alert.new", "alert.claimed", "alert.released",
                                      "alert.assigned", "alert.responded", "alert.resolved",
                                      "alert.new", "alert.dismissed"}));
  EXPECT_EQ(metrics_.total(counter::alert_transitions), 6u);
}

TEST_F(crisis_service, reclaiming_a_responded_alert_changes_nothing) {
  // Regression: claim() (alert.cpp) returns ok for the holder of a *responded* alert without
  // changing it; the claim verb once announced a spurious alert.claimed (changed:true) while the
  // alert stays responded.
  auto id = push_new("https://x.com/u/status/1");
  ASSERT_TRUE(act("alert.claim", id, ana_).ok);
  ASSERT_TRUE(run("alert.respond",
                  cmd("alert.respond", {{"channel", "triage"}, {"alert", id}, {"reply_text", "x"}}),
                  ana_)
                  .ok);
  auto r = act("alert.claim", id, ana_);
  ASSERT_TRUE(r.ok) << r.message;
  EXPECT_EQ(json(r.json).flag("/changed"), false) << r.json;
  EXPECT_EQ(count("triage", "alert.claimed"), 1u);
}

TEST_F(crisis_service, alert_list_filters_by_status_oldest_first) {
  // The work queue view: open alerts first seen earliest come first.
  auto a = push_new("https://x.com/u/status/1");
  now_ += 1s;
  auto b = push_new("https://x.com/u/status/2");
  now_ += 1s;
  auto c = push_new("https://x.com/u/status/3");
  ASSERT_TRUE(act("alert.claim", b, ana_).ok);
  json all(run("alert.list", cmd("alert.list", {{"channel", "triage"}}), bot_).json);
  EXPECT_EQ(all.column("/alerts", "/id"), (std::vector<std::string>{a, b, c}));
  json open(
      run("alert.list", cmd("alert.list", {{"channel", "triage"}, {"status", "new"}}), bot_).json);
  EXPECT_EQ(open.column("/alerts", "/id"), (std::vector<std::string>{a, c}));
}

// ---------------------------------------------------------------------------------------------
// Escalation

TEST_F(crisis_service, unclaimed_alert_escalates_once_at_its_deadline) {
  // sev2 escalates after 300 s; repeated scans, and other nodes, must not repeat it.
  auto id = push_new("https://x.com/u/status/1", "sev2");
  json fresh(frames("triage", "alert.new").at(0));
  EXPECT_EQ(fresh.num("/data/alert/next_escalation/step"), 1);
  EXPECT_EQ(fresh.str("/data/alert/next_escalation/reason"), "unclaimed");
  EXPECT_EQ(fresh.num("/data/alert/next_escalation/at"), ms(t0 + 300s));
  now_ = t0 + 299s;
  scan();
  EXPECT_EQ(count("triage", "alert.escalated"), 0u);
  EXPECT_EQ(count("leads", "alert.escalated"), 0u);

  now_ = t0 + 300s;
  scan();
  auto home = frames("triage", "alert.escalated");
  auto leads = frames("leads", "alert.escalated");
  ASSERT_EQ(home.size(), 1u);
  ASSERT_EQ(leads.size(), 1u);
  json jh(home[0]);
  EXPECT_EQ(jh.str("/data/alert/id"), id);
  EXPECT_EQ(jh.num("/data/alert/escalations"), 1);
  json jl(leads[0]);
  EXPECT_EQ(jl.str("/data/alert/id"), id);
  EXPECT_EQ(jl.num("/data/step"), 1);
  EXPECT_EQ(jl.str("/data/reason"), "unclaimed");
  EXPECT_TRUE(jh.is_null("/data/alert/next_escalation")) << "step 1 raised: none while unclaimed";
  EXPECT_TRUE(jl.is_null("/data/alert/next_escalation"));

  now_ += 1h;
  scan();
  scan();
  metrics other_metrics(1);
  service other_node(engine_, opts_, other_metrics, clock());
  scan_with(other_node);
  EXPECT_EQ(count("triage", "alert.escalated"), 1u);
  EXPECT_EQ(count("leads", "alert.escalated"), 1u);
  EXPECT_EQ(metrics_.total(counter::escalations), 1u);
  EXPECT_EQ(other_metrics.total(counter::escalations), 0u);

  // Claimed after step 1: no answer within respond_within (1200 s) raises step 2, once.
  auto claim = act("alert.claim", id, ana_);
  ASSERT_TRUE(claim.ok);
  auto claimed_at = now_;
  json jc(claim.json);
  EXPECT_EQ(jc.num("/alert/next_escalation/step"), 2);
  EXPECT_EQ(jc.str("/alert/next_escalation/reason"), "no_response");
  EXPECT_EQ(jc.num("/alert/next_escalation/at"), ms(claimed_at + 1200s));
  now_ = claimed_at + 1199s;
  scan();
  EXPECT_EQ(count("leads", "alert.escalated"), 1u);
  now_ = claimed_at + 1200s;
  scan();
  scan_with(other_node);
  now_ += 1h;
  scan();
  ASSERT_EQ(count("triage", "alert.escalated"), 2u);
  auto second = frames("leads", "alert.escalated");
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(json(second[1]).num("/data/step"), 2);
  EXPECT_EQ(json(second[1]).str("/data/reason"), "no_response");
  EXPECT_EQ(index_size(service::due_index), 0u);
}

// A [history] of 3 events per channel: the leads channel must keep more.
class short_history : public crisis_service {
 protected:
  short_history() : crisis_service(3) {}
};

TEST_F(short_history, leads_channel_keeps_escalations_like_a_crisis_timeline) {
  // Escalations from every channel gather in leads over a whole crisis: [history] would drop
  // them, the crisis timeline retention keeps them.
  for (int i = 0; i < 6; ++i) push_new("https://x.com/u/status/" + std::to_string(i), "sev2");
  now_ = t0 + 301s;
  scan();
  EXPECT_EQ(count("leads", "alert.escalated"), 6u);
  EXPECT_EQ(count("triage", "alert.escalated"), 3u) << "triage keeps [history]: the last 3";
}

TEST_F(short_history, alerts_routed_to_the_leads_channel_keep_its_retention_too) {
  route_rule to_leads;
  to_leads.sources = {"x"};
  to_leads.channels = {"triage", "leads"};
  opts_.routes = {to_leads};
  for (int i = 0; i < 6; ++i) push_new("https://x.com/u/status/" + std::to_string(i), "sev2");
  EXPECT_EQ(count("leads", "alert.new"), 6u);
  EXPECT_EQ(count("triage", "alert.new"), 3u);
}

TEST_F(crisis_service, claimed_alert_escalates_step_two_when_not_answered) {
  // Claimed before the first deadline: only the respond_within deadline applies.
  auto id = push_new("https://x.com/u/status/1", "sev2");
  now_ = t0 + 10s;
  ASSERT_TRUE(act("alert.claim", id, ana_).ok);
  now_ = t0 + 300s;
  scan();
  EXPECT_EQ(count("triage", "alert.escalated"), 0u) << "claimed in time: no step 1";
  now_ = t0 + 10s + 1199s;
  scan();
  EXPECT_EQ(count("triage", "alert.escalated"), 0u);
  now_ = t0 + 10s + 1200s;
  scan();
  scan();
  auto home = frames("triage", "alert.escalated");
  ASSERT_EQ(home.size(), 1u);
  EXPECT_EQ(json(home[0]).num("/data/alert/escalations"), 2);
  auto leads = frames("leads", "alert.escalated");
  ASSERT_EQ(leads.size(), 1u);
  EXPECT_EQ(json(leads[0]).num("/data/step"), 2);
}

TEST_F(crisis_service, answered_alert_never_escalates) {
  // Claimed and answered in time: nobody should be paged about it, ever.
  auto id = push_new("https://x.com/u/status/1", "sev1");
  now_ += 1s;
  ASSERT_TRUE(act("alert.claim", id, ana_).ok);
  now_ += 1s;
  ASSERT_TRUE(run("alert.respond",
                  cmd("alert.respond", {{"channel", "triage"}, {"alert", id}, {"reply_text", "x"}}),
                  ana_)
                  .ok);
  for (auto step : {60s, 600s, 86400s, 2592000s}) {
    now_ = t0 + step;
    scan();
  }
  EXPECT_EQ(count("triage", "alert.escalated"), 0u);
  EXPECT_EQ(count("leads", "alert.escalated"), 0u);
  EXPECT_EQ(index_size(service::due_index), 0u);
}

TEST_F(crisis_service, escalation_reaches_every_routed_channel) {
  // Routed copies stay in step with the home stream, escalations included.
  route_rule r;
  r.sources = {"x"};
  r.channels = {"crisis-a", "ops"};
  opts_.routes = {r};
  auto id = push_new("https://x.com/u/status/1", "sev1");
  now_ = t0 + 60s;
  scan();
  EXPECT_EQ(count("crisis-a", "alert.escalated"), 1u);
  EXPECT_EQ(count("ops", "alert.escalated"), 1u);
  EXPECT_EQ(count("leads", "alert.escalated"), 1u);
  EXPECT_EQ(count("triage", "alert.escalated"), 0u);
  EXPECT_EQ(json(frames("leads", "alert.escalated")[0]).str("/data/alert/id"), id);
}

// ---------------------------------------------------------------------------------------------
// Crisis channels

TEST_F(crisis_service, channel_create_get_update_list) {
  // The lifecycle of a crisis room's metadata, with its change log in the stream.
  auto created =
      run("channel.create",
          cmd("channel.create",
              {{"channel", "crisis-acme"}, {"title", "Acme recall"}, {"severity", "sev2"}}),
          lea_);
  ASSERT_TRUE(created.ok) << created.message;
  json jc(created.json);
  EXPECT_EQ(jc.flag("/changed"), true);
  EXPECT_EQ(jc.str("/channel/channel"), "crisis-acme");
  EXPECT_EQ(jc.str("/channel/title"), "Acme recall");
  EXPECT_EQ(jc.str("/channel/severity"), "sev2");
  EXPECT_EQ(jc.str("/channel/status"), "open");
  EXPECT_EQ(jc.num("/channel/created_at"), ms(t0));
  EXPECT_EQ(jc.num("/offset"), 1);

  auto again = run("channel.create",
                   cmd("channel.create", {{"channel", "crisis-acme"}, {"title", "Dup"}}), lea_);
  EXPECT_EQ(again.code, errc::already_exists);
  auto no_title = run("channel.create", cmd("channel.create", {{"channel", "crisis-x"}}), lea_);
  EXPECT_EQ(no_title.code, errc::bad_request);
  EXPECT_EQ(no_title.message, "title is required");
  auto bad_status = run(
      "channel.create",
      cmd("channel.create", {{"channel", "crisis-x"}, {"title", "X"}, {"status", "closed"}}), lea_);
  EXPECT_EQ(bad_status.code, errc::bad_request);
  EXPECT_EQ(bad_status.message, "status must be one of open monitoring resolved");
  auto bad_sev = run(
      "channel.create",
      cmd("channel.create", {{"channel", "crisis-x"}, {"title", "X"}, {"severity", "high"}}), lea_);
  EXPECT_EQ(bad_sev.code, errc::bad_request);
  EXPECT_EQ(
      run("channel.update", cmd("channel.update", {{"channel", "nope"}, {"title", "T"}}), lea_)
          .code,
      errc::not_found);

  now_ += 1min;
  auto upd =
      run("channel.update",
          cmd("channel.update",
              {{"channel", "crisis-acme"}, {"title", "Acme recall"}, {"status", "monitoring"}}),
          admin_);
  ASSERT_TRUE(upd.ok) << upd.message;
  json ju(upd.json);
  EXPECT_EQ(ju.flag("/changed"), true);
  EXPECT_EQ(ju.str("/channel/status"), "monitoring");
  EXPECT_EQ(ju.str("/channel/severity"), "sev2") << "unchanged fields are kept";
  EXPECT_EQ(ju.num("/channel/created_at"), ms(t0));
  EXPECT_EQ(ju.num("/channel/updated_at"), ms(t0 + 1min));
  auto updated = frames("crisis-acme", "channel.updated");
  ASSERT_EQ(updated.size(), 1u);
  EXPECT_EQ(json(updated[0]).strs("/data/changed"), std::vector<std::string>{"status"});

  auto same =
      run("channel.update",
          cmd("channel.update", {{"channel", "crisis-acme"}, {"status", "monitoring"}}), lea_);
  ASSERT_TRUE(same.ok) << same.message;
  EXPECT_EQ(json(same.json).flag("/changed"), false);

  auto two = run("channel.update",
                 cmd("channel.update",
                     {{"channel", "crisis-acme"}, {"title", "Acme v2"}, {"severity", "sev1"}}),
                 lea_);
  ASSERT_TRUE(two.ok) << two.message;
  updated = frames("crisis-acme", "channel.updated");
  ASSERT_EQ(updated.size(), 2u);
  EXPECT_EQ(json(updated[1]).strs("/data/changed"),
            (std::vector<std::string>{"title", "severity"}));
  EXPECT_EQ(event_names("crisis-acme"),
            (std::vector<std::string>{"channel.created", "channel.updated", "channel.updated"}));

  auto got = run("channel.get", cmd("channel.get", {{"channel", "crisis-acme"}}), bot_);
  ASSERT_TRUE(got.ok) << got.message;
  json jg(got.json);
  EXPECT_EQ(jg.str("/channel/title"), "Acme v2");
  EXPECT_EQ(jg.str("/channel/severity"), "sev1");
  EXPECT_EQ(jg.str("/channel/status"), "monitoring");
  EXPECT_EQ(run("channel.get", cmd("channel.get", {{"channel", "nope"}}), bot_).code,
            errc::not_found);

  create_channel("crisis-beta");
  create_channel("other");
  json list(run("channel.list", "{\"id\":1,\"op\":\"channel.list\"}", ana_).json);
  EXPECT_EQ(list.column("/channels", "/channel"),
            (std::vector<std::string>{"crisis-acme", "crisis-beta", "other"}));
  auto limited = make_actor("amb-z", "Zed", auth::role::ambassador, "c-z", {"crisis-*"});
  json mine(run("channel.list", "{\"id\":1,\"op\":\"channel.list\"}", limited).json);
  EXPECT_EQ(mine.column("/channels", "/channel"),
            (std::vector<std::string>{"crisis-acme", "crisis-beta"}));
  // The server's own channels are listed apart, within the allow-list.
  EXPECT_EQ(list.column("/system", "/channel"), (std::vector<std::string>{"triage", "leads"}));
  EXPECT_EQ(list.column("/system", "/purpose"), (std::vector<std::string>{"triage", "leads"}));
  EXPECT_EQ(mine.size("/system"), 0u);
  auto triage_only = make_actor("amb-t", "Tia", auth::role::ambassador, "c-t", {"triage"});
  json t(run("channel.list", "{\"id\":1,\"op\":\"channel.list\"}", triage_only).json);
  EXPECT_EQ(t.column("/system", "/channel"), (std::vector<std::string>{"triage"}));
}

TEST_F(crisis_service, channel_created_by_names_the_user_not_the_connection) {
  // Regression: channel.create/update once built created_by / by from who.info()
  // (client id, name) instead of the token subject, unlike every other "by" (alerts, guidance,
  // templates).
  create_channel("crisis-acme");
  json got(run("channel.get", cmd("channel.get", {{"channel", "crisis-acme"}}), lea_).json);
  EXPECT_EQ(got.str("/channel/created_by/user"), "lead-1");
  auto created = frames("crisis-acme", "channel.created");
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(json(created[0]).str("/data/by/user"), "lead-1");
}

// ---------------------------------------------------------------------------------------------
// Guidance

TEST_F(crisis_service, guidance_post_supersedes_per_kind) {
  // Only the newest guidance of each kind stays pinned; the old one is linked from the new.
  create_channel("crisis-g");
  auto g1 = post_guidance("crisis-g", "holding_statement", "v1");
  auto g2 = post_guidance("crisis-g", "holding_statement", "v2");
  auto g3 = post_guidance("crisis-g", "talking_points", "tp");
  ASSERT_FALSE(g1.empty());
  json list(run("guidance.list", cmd("guidance.list", {{"channel", "crisis-g"}}), bot_).json);
  auto ids = list.column("/pinned", "/id");
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), (std::set<std::string>{g2, g3}));
  for (auto item : {0, 1}) {
    auto base = "/pinned/" + std::to_string(item);
    if (list.str(base + "/id") == g2) {
      EXPECT_EQ(list.str(base + "/supersedes"), g1);
    } else {
      EXPECT_TRUE(list.is_null(base + "/supersedes"));
    }
  }
  EXPECT_EQ(count("crisis-g", "guidance.posted"), 3u);
  EXPECT_EQ(metrics_.total(counter::guidance_posted), 3u);

  auto bad_kind =
      run("guidance.post",
          cmd("guidance.post",
              {{"channel", "crisis-g"}, {"kind", "memo"}, {"title", "t"}, {"body", "b"}}),
          lea_);
  EXPECT_EQ(bad_kind.code, errc::bad_request);
  EXPECT_EQ(bad_kind.message,
            "kind must be one of holding_statement talking_points do_dont update");
  auto no_body = run(
      "guidance.post",
      cmd("guidance.post", {{"channel", "crisis-g"}, {"kind", "update"}, {"title", "t"}}), lea_);
  EXPECT_EQ(no_body.code, errc::bad_request);
  EXPECT_EQ(no_body.message, "body is required");
  EXPECT_EQ(run("guidance.post",
                cmd("guidance.post",
                    {{"channel", "crisis-g"}, {"kind", "update"}, {"title", "t"}, {"body", "b"}}),
                ana_)
                .code,
            errc::forbidden);
  json empty(run("guidance.list", cmd("guidance.list", {{"channel", "crisis-h"}}), bot_).json);
  EXPECT_EQ(empty.size("/pinned"), 0u);
}

TEST_F(crisis_service, guidance_list_tells_each_caller_their_own_state) {
  // After a reload a client learns what this person acknowledged and read, however long ago.
  create_channel("crisis-g");
  auto gid = post_guidance("crisis-g", "do_dont");
  auto list_for = [&](const actor& who) {
    return run("guidance.list", cmd("guidance.list", {{"channel", "crisis-g"}}), who).json;
  };
  json before(list_for(ana_));
  ASSERT_EQ(before.size("/mine"), 1u);
  EXPECT_EQ(before.str("/mine/0/guidance"), gid);
  EXPECT_EQ(before.num("/mine/0/acked_version"), 0);
  EXPECT_EQ(before.num("/mine/0/read_at"), 0);
  now_ += 10s;
  ASSERT_TRUE(
      run("guidance.read", cmd("guidance.read", {{"channel", "crisis-g"}, {"guidance", gid}}), ana_)
          .ok);
  now_ += 20s;
  ASSERT_TRUE(
      run("guidance.ack", cmd("guidance.ack", {{"channel", "crisis-g"}, {"guidance", gid}}), ana_)
          .ok);
  json after(list_for(ana_));
  EXPECT_EQ(after.num("/mine/0/acked_version"), 1);
  EXPECT_EQ(after.num("/mine/0/acked_at"), ms(t0 + 30s));
  EXPECT_EQ(after.num("/mine/0/receipt_version"), 1);
  EXPECT_EQ(after.num("/mine/0/read_at"), ms(t0 + 10s));
  json other(list_for(ben_));
  EXPECT_EQ(other.num("/mine/0/acked_version"), 0) << "each caller sees only their own";
  EXPECT_EQ(other.num("/mine/0/receipt_version"), 0);
  create_channel("crisis-h");
  json empty(run("guidance.list", cmd("guidance.list", {{"channel", "crisis-h"}}), ana_).json);
  EXPECT_EQ(empty.size("/mine"), 0u);
}

TEST_F(crisis_service, guidance_ack_is_recorded_once) {
  // A second ack reports the first one instead of moving its time.
  create_channel("crisis-g");
  auto gid = post_guidance("crisis-g", "do_dont");
  now_ += 45s;
  auto frame = cmd("guidance.ack", {{"channel", "crisis-g"}, {"guidance", gid}});
  auto first = run("guidance.ack", frame, ana_);
  ASSERT_TRUE(first.ok) << first.message;
  json j1(first.json);
  EXPECT_EQ(j1.flag("/already"), false);
  EXPECT_EQ(j1.str("/ack/user"), "amb-a");
  EXPECT_EQ(j1.num("/ack/delay_ms"), 45000);
  now_ += 1h;
  auto second = run("guidance.ack", frame, ana_);
  ASSERT_TRUE(second.ok) << second.message;
  json j2(second.json);
  EXPECT_EQ(j2.flag("/already"), true);
  EXPECT_EQ(j2.num("/ack/at"), ms(t0 + 45s));
  EXPECT_EQ(count("crisis-g", "guidance.acked"), 1u);
  EXPECT_EQ(
      run("guidance.ack", cmd("guidance.ack", {{"channel", "crisis-g"}, {"guidance", "g-x"}}), ana_)
          .code,
      errc::not_found);
  EXPECT_EQ(run("guidance.ack", frame, bot_).code, errc::forbidden);
}

TEST_F(crisis_service, guidance_status_lists_acknowledged_and_pending_ambassadors) {
  // Leads see who still has to read the guidance; only ambassadors are expected to ack.
  create_channel("crisis-g");
  svc_.joined("crisis-g", ana_);
  svc_.joined("crisis-g", ben_);
  svc_.joined("crisis-g", ben_);  // a second subscription changes nothing
  svc_.joined("crisis-g", lea_);
  svc_.joined("crisis-g", bot_);
  auto gid = post_guidance("crisis-g", "holding_statement");
  ASSERT_TRUE(
      run("guidance.ack", cmd("guidance.ack", {{"channel", "crisis-g"}, {"guidance", gid}}), ana_)
          .ok);
  auto frame = cmd("guidance.status", {{"channel", "crisis-g"}, {"guidance", gid}});
  auto st = run("guidance.status", frame, lea_);
  ASSERT_TRUE(st.ok) << st.message;
  json j(st.json);
  EXPECT_EQ(j.str("/guidance/id"), gid);
  EXPECT_EQ(j.column("/acknowledged", "/user"), std::vector<std::string>{"amb-a"});
  EXPECT_EQ(j.column("/pending", "/user"), std::vector<std::string>{"amb-b"});
  EXPECT_EQ(run("guidance.status", frame, ana_).code, errc::forbidden);
  EXPECT_EQ(run("guidance.status",
                cmd("guidance.status", {{"channel", "crisis-g"}, {"guidance", "g-none"}}), lea_)
                .code,
            errc::not_found);
}

TEST_F(crisis_service, reminder_lists_exactly_the_pending_ambassadors_once) {
  // After reminder_after, one reminder names who has not acked; it is never repeated.
  create_channel("crisis-g");
  for (const auto* a : {&ana_, &ben_, &cara_, &lea_}) svc_.joined("crisis-g", *a);
  auto gid = post_guidance("crisis-g", "talking_points");
  now_ = t0 + 100s;
  ASSERT_TRUE(
      run("guidance.ack", cmd("guidance.ack", {{"channel", "crisis-g"}, {"guidance", gid}}), ana_)
          .ok);
  now_ = t0 + 599s;
  scan();
  EXPECT_EQ(count("crisis-g", "guidance.reminder"), 0u);
  now_ = t0 + 600s;
  scan();
  auto rem = frames("crisis-g", "guidance.reminder");
  ASSERT_EQ(rem.size(), 1u);
  json j(rem[0]);
  EXPECT_EQ(j.str("/data/guidance/id"), gid);
  EXPECT_EQ(j.column("/data/pending", "/user"), (std::vector<std::string>{"amb-b", "amb-c"}));
  now_ += 1h;
  scan();
  metrics other_metrics(1);
  service other_node(engine_, opts_, other_metrics, clock());
  scan_with(other_node);
  EXPECT_EQ(count("crisis-g", "guidance.reminder"), 1u);
  EXPECT_EQ(metrics_.total(counter::guidance_reminders), 1u);
  EXPECT_EQ(index_size(service::remind_index), 0u);
}

TEST_F(crisis_service, no_reminder_when_everyone_acknowledged) {
  // Nothing to nag about: no event, and the reminder is not kept around.
  create_channel("crisis-g");
  svc_.joined("crisis-g", ana_);
  auto gid = post_guidance("crisis-g", "update");
  ASSERT_TRUE(
      run("guidance.ack", cmd("guidance.ack", {{"channel", "crisis-g"}, {"guidance", gid}}), ana_)
          .ok);
  now_ = t0 + 1h;
  scan();
  EXPECT_EQ(count("crisis-g", "guidance.reminder"), 0u);
  EXPECT_EQ(index_size(service::remind_index), 0u);
  EXPECT_EQ(metrics_.total(counter::guidance_reminders), 0u);
}

TEST_F(crisis_service, guidance_to_all_posts_in_every_open_crisis_channel) {
  // "*" reaches every crisis channel not resolved (and allowed to the poster).
  auto none = run(
      "guidance.post",
      cmd("guidance.post", {{"channel", "*"}, {"kind", "update"}, {"title", "t"}, {"body", "b"}}),
      lea_);
  EXPECT_EQ(none.code, errc::not_found) << "no crisis channel yet";
  create_channel("crisis-a");
  create_channel("crisis-b");
  create_channel("crisis-c");
  ASSERT_TRUE(run("channel.update",
                  cmd("channel.update", {{"channel", "crisis-c"}, {"status", "resolved"}}), lea_)
                  .ok);
  auto frame = cmd("guidance.post",
                   {{"channel", "*"}, {"kind", "update"}, {"title", "All hands"}, {"body", "b"}});
  auto r = run("guidance.post", frame, lea_);
  ASSERT_TRUE(r.ok) << r.message;
  json j(r.json);
  auto posted = j.column("/posted", "/guidance/channel");
  EXPECT_EQ(std::set<std::string>(posted.begin(), posted.end()),
            (std::set<std::string>{"crisis-a", "crisis-b"}));
  for (std::string_view ch : {"crisis-a", "crisis-b"})
    EXPECT_EQ(json(run("guidance.list", cmd("guidance.list", {{"channel", ch}}), ana_).json)
                  .size("/pinned"),
              1u)
        << ch;
  EXPECT_EQ(count("crisis-c", "guidance.posted"), 0u);

  auto only_a = make_actor("lead-2", "Lou", auth::role::lead, "c-lou", {"crisis-a"});
  json ja(run("guidance.post", frame, only_a).json);
  EXPECT_EQ(ja.column("/posted", "/guidance/channel"), std::vector<std::string>{"crisis-a"});
  EXPECT_EQ(count("crisis-b", "guidance.posted"), 1u);

  auto bad = run(
      "guidance.post",
      cmd("guidance.post", {{"channel", "*"}, {"kind", "x"}, {"title", "t"}, {"body", "b"}}), lea_);
  EXPECT_EQ(bad.code, errc::bad_request);
  EXPECT_EQ(run("guidance.post", frame, ana_).code, errc::forbidden);
}

// ---------------------------------------------------------------------------------------------
// Templates

TEST_F(crisis_service, templates_put_list_delete) {
  // Reply templates are per channel; leads curate them, ambassadors read them.
  auto put = [&](std::string_view name, std::string_view text, const actor& who) {
    return run("template.put",
               cmd("template.put", {{"channel", "triage"}, {"name", name}, {"text", text}}), who);
  };
  auto p1 = put("thanks", "Thanks for reaching out", lea_);
  ASSERT_TRUE(p1.ok) << p1.message;
  EXPECT_EQ(json(p1.json).str("/template/title"), "thanks") << "title defaults to the name";
  ASSERT_TRUE(put("sorry", "We are sorry", lea_).ok);
  ASSERT_TRUE(put("thanks", "Thank you!", admin_).ok);
  EXPECT_EQ(put("x", "y", ana_).code, errc::forbidden);
  auto no_text =
      run("template.put", cmd("template.put", {{"channel", "triage"}, {"name", "n"}}), lea_);
  EXPECT_EQ(no_text.code, errc::bad_request);
  EXPECT_EQ(no_text.message, "text is required");

  auto list_frame = cmd("template.list", {{"channel", "triage"}});
  json list(run("template.list", list_frame, ana_).json);
  EXPECT_EQ(list.column("/templates", "/name"), (std::vector<std::string>{"sorry", "thanks"}));
  EXPECT_EQ(list.column("/templates", "/text"),
            (std::vector<std::string>{"We are sorry", "Thank you!"}));
  EXPECT_EQ(run("template.list", list_frame, bot_).code, errc::forbidden);

  auto del_frame = cmd("template.delete", {{"channel", "triage"}, {"name", "thanks"}});
  auto del = run("template.delete", del_frame, lea_);
  ASSERT_TRUE(del.ok) << del.message;
  EXPECT_EQ(json(del.json).str("/deleted"), "thanks");
  EXPECT_EQ(run("template.delete", del_frame, lea_).code, errc::not_found);
  EXPECT_EQ(json(run("template.list", list_frame, ana_).json).column("/templates", "/name"),
            std::vector<std::string>{"sorry"});
  EXPECT_EQ(event_names("triage"),
            (std::vector<std::string>{"template.updated", "template.updated", "template.updated",
                                      "template.deleted"}));
}

// ---------------------------------------------------------------------------------------------
// Stats

TEST_F(crisis_service, stats_count_per_person_with_medians) {
  // Times come from the injected clock, so every median is exact.
  auto a1 = push_new("https://x.com/s/1");
  auto a2 = push_new("https://x.com/s/2");
  auto a3 = push_new("https://x.com/s/3");
  auto respond = [&](const std::string& id, const actor& who) {
    return run("alert.respond",
               cmd("alert.respond", {{"channel", "triage"}, {"alert", id}, {"reply_text", "r"}}),
               who);
  };
  now_ = t0 + 10s;
  ASSERT_TRUE(act("alert.claim", a1, ana_).ok);
  now_ = t0 + 20s;
  ASSERT_TRUE(act("alert.claim", a3, ben_).ok);
  now_ = t0 + 30s;
  ASSERT_TRUE(act("alert.claim", a2, ana_).ok);
  now_ = t0 + 70s;
  ASSERT_TRUE(respond(a1, ana_).ok);
  now_ = t0 + 130s;
  ASSERT_TRUE(respond(a2, ana_).ok);
  ASSERT_TRUE(run("alert.push", alert_frame("https://x.com/s/3"), bot_).ok);  // a 2nd trigger
  now_ = t0 + 200s;
  auto gid = post_guidance("triage", "update");
  auto ack = cmd("guidance.ack", {{"channel", "triage"}, {"guidance", gid}});
  now_ = t0 + 230s;
  ASSERT_TRUE(run("guidance.ack", ack, ana_).ok);
  now_ = t0 + 290s;
  ASSERT_TRUE(run("guidance.ack", ack, ben_).ok);

  auto r = run("stats", cmd("stats", {{"channel", "triage"}}), lea_);
  ASSERT_TRUE(r.ok) << r.message;
  json j(r.json);
  ASSERT_EQ(j.size("/channels"), 1u) << r.json;
  const std::string c = "/channels/0";
  EXPECT_EQ(j.str(c + "/channel"), "triage");
  EXPECT_EQ(j.num(c + "/alerts/total"), 3);
  EXPECT_EQ(j.num(c + "/alerts/new"), 0);
  EXPECT_EQ(j.num(c + "/alerts/claimed"), 1);
  EXPECT_EQ(j.num(c + "/alerts/responded"), 2);
  EXPECT_EQ(j.num(c + "/alerts/escalated"), 0);
  EXPECT_EQ(j.num(c + "/alerts/triggers"), 4);
  EXPECT_EQ(j.num(c + "/median_time_to_claim_ms"), 20000);    // 10, 20, 30 s
  EXPECT_EQ(j.num(c + "/median_time_to_respond_ms"), 80000);  // 60, 100 s
  EXPECT_EQ(j.num(c + "/guidance/posted"), 1);
  EXPECT_EQ(j.num(c + "/guidance/acks"), 2);
  EXPECT_EQ(j.num(c + "/guidance/median_ack_delay_ms"), 60000);  // 30, 90 s
  EXPECT_EQ(j.column(c + "/people", "/user"), (std::vector<std::string>{"amb-a", "amb-b"}));
  const std::string pa = c + "/people/0", pb = c + "/people/1";
  EXPECT_EQ(j.str(pa + "/name"), "Ana");
  EXPECT_EQ(j.num(pa + "/claimed"), 2);
  EXPECT_EQ(j.num(pa + "/responded"), 2);
  EXPECT_EQ(j.num(pa + "/median_time_to_claim_ms"), 20000);  // 10, 30 s
  EXPECT_EQ(j.num(pa + "/median_time_to_respond_ms"), 80000);
  EXPECT_EQ(j.num(pa + "/acks"), 1);
  EXPECT_EQ(j.num(pa + "/median_ack_delay_ms"), 30000);
  EXPECT_EQ(j.num(pb + "/claimed"), 1);
  EXPECT_EQ(j.num(pb + "/responded"), 0);
  EXPECT_EQ(j.num(pb + "/median_time_to_claim_ms"), 20000);
  EXPECT_EQ(j.num(pb + "/median_time_to_respond_ms"), -1) << "no sample: -1";
  EXPECT_EQ(j.num(pb + "/median_ack_delay_ms"), 90000);

  EXPECT_EQ(run("stats", cmd("stats", {{"channel", "triage"}}), ana_).code, errc::forbidden);
  // Without a channel: every crisis channel the caller may see (triage was never created).
  create_channel("crisis-s");
  json every(run("stats", "{\"id\":1,\"op\":\"stats\"}", lea_).json);
  EXPECT_EQ(every.column("/channels", "/channel"), std::vector<std::string>{"crisis-s"});
  EXPECT_EQ(every.num("/channels/0/median_time_to_claim_ms"), -1);
}

// ---------------------------------------------------------------------------------------------
// PagerDuty Events API v2

TEST_F(crisis_service, pagerduty_trigger_acknowledge_resolve) {
  // Monitoring tools speak PagerDuty: trigger creates, acknowledge claims, resolve closes.
  const std::string trigger = R"({"routing_key":"k","event_action":"trigger","dedup_key":"disk-1",
    "payload":{"summary":"Disk full on db-1","source":"db-1","severity":"critical",
               "component":"disk","group":"prod"},
    "links":[{"href":"https://status.example/i/1"}]})";
  auto r = http(trigger, bot_);
  ASSERT_TRUE(r.ok) << r.message;
  json j(r.json);
  EXPECT_EQ(j.flag("/deduplicated"), false);
  auto id = j.str("/alert/id");
  EXPECT_EQ(j.str("/alert/severity"), "sev1");
  EXPECT_EQ(j.str("/alert/source"), "pagerduty");
  EXPECT_EQ(j.str("/alert/author"), "db-1");
  EXPECT_EQ(j.str("/alert/text"), "Disk full on db-1");
  EXPECT_EQ(j.str("/alert/dedup_key"), "disk-1");
  EXPECT_EQ(j.str("/alert/url"), "https://status.example/i/1");
  EXPECT_EQ(j.strs("/alert/tags"), (std::vector<std::string>{"disk", "prod"}));

  auto again = http(trigger, bot_);
  ASSERT_TRUE(again.ok) << again.message;
  EXPECT_EQ(json(again.json).flag("/deduplicated"), true);
  EXPECT_EQ(json(again.json).str("/alert/id"), id);

  auto ack = http(R"({"routing_key":"k","event_action":"acknowledge","dedup_key":"disk-1"})", lea_);
  ASSERT_TRUE(ack.ok) << ack.message;
  json ja(ack.json);
  EXPECT_EQ(ja.str("/alert/status"), "claimed");
  EXPECT_EQ(ja.str("/alert/holder/user"), "lead-1");

  now_ += 5min;
  auto res = http(R"({"routing_key":"k","event_action":"resolve","dedup_key":"disk-1"})", bot_);
  ASSERT_TRUE(res.ok) << res.message;
  json jr(res.json);
  EXPECT_EQ(jr.str("/alert/status"), "resolved");
  EXPECT_EQ(jr.str("/alert/closed_by"), "bot-1");
  EXPECT_EQ(jr.num("/alert/closed_at"), ms(t0 + 5min));
  EXPECT_EQ(event_names("triage"), (std::vector<std::string>{"alert.new", "alert.updated",
                                                             "alert.claimed", "alert.resolved"}));
  auto gone = http(R"({"routing_key":"k","event_action":"resolve","dedup_key":"disk-1"})", bot_);
  EXPECT_EQ(gone.code, errc::not_found);
}

TEST_F(crisis_service, pagerduty_severities_map_to_sev_levels) {
  // critical→sev1, error→sev2, warning→sev3, info→sev4; no link: a pagerduty:// URL.
  const std::pair<std::string_view, std::string_view> map[] = {
      {"critical", "sev1"}, {"error", "sev2"}, {"warning", "sev3"}, {"info", "sev4"}};
  for (const auto& [pd, sev] : map) {
    auto body = R"({"event_action":"trigger","dedup_key":"k-)" + std::string(pd) +
                R"(","payload":{"summary":"s","source":"mon","severity":")" + std::string(pd) +
                R"("}})";
    auto r = http(body, bot_);
    ASSERT_TRUE(r.ok) << r.message;
    json j(r.json);
    EXPECT_EQ(j.str("/alert/severity"), sev) << pd;
    EXPECT_EQ(j.str("/alert/url"), "pagerduty://mon/k-" + std::string(pd));
  }
  // Without a dedup_key the URL is the key: the same trigger folds.
  auto nokey =
      R"({"event_action":"trigger","payload":{"summary":"s","source":"m2","severity":"info"}})";
  ASSERT_TRUE(http(nokey, bot_).ok);
  EXPECT_EQ(json(http(nokey, bot_).json).flag("/deduplicated"), true);
}

TEST_F(crisis_service, pagerduty_validation_names_the_field) {
  // Bad PagerDuty bodies are refused with the offending field named.
  struct bad_case {
    std::string body;
    errc code;
    std::string message;
  };
  const std::vector<bad_case> cases = {
      {R"({"event_action":"trigger","payload":{"source":"m","severity":"info"}})",
       errc::bad_request, "payload.summary is required"},
      {R"({"event_action":"trigger","payload":{"summary":"s","severity":"info"}})",
       errc::bad_request, "payload.source is required"},
      {R"({"event_action":"trigger","payload":{"summary":"s","source":"m","severity":"bad"}})",
       errc::bad_request, "payload.severity must be critical, error, warning or info"},
      {R"({"event_action":"trigger"})", errc::bad_request, "payload is required"},
      {R"({"event_action":"trigger","payload":[]})", errc::bad_request,
       "payload must be an object"},
      {R"({"event_action":"acknowledge"})", errc::bad_request,
       "dedup_key is required for acknowledge"},
      {R"({"event_action":"explode","dedup_key":"k"})", errc::bad_request,
       "event_action must be trigger, acknowledge or resolve"},
      {R"({"event_action":"resolve","dedup_key":"never-seen"})", errc::not_found,
       "no open alert with dedup_key never-seen"},
      {"not json", errc::bad_json, "body must be a JSON object"},
  };
  for (const auto& c : cases) {
    auto r = http(c.body, bot_);
    EXPECT_FALSE(r.ok) << c.body;
    EXPECT_EQ(wire_name(r.code), wire_name(c.code)) << c.body;
    EXPECT_EQ(r.message, c.message) << c.body;
  }
  // Ambassadors may not push over HTTP: the HTTP API checks its row of the matrix first.
  EXPECT_FALSE(muster::server::permitted(auth::role::ambassador, "http.alerts"));
  // The native body works over HTTP too.
  auto native = http(R"({"source":"x","url":"https://x.com/1","severity":"sev2"})", bot_);
  ASSERT_TRUE(native.ok) << native.message;
  EXPECT_EQ(json(native.json).str("/alert/severity"), "sev2");
  EXPECT_TRUE(events("triage").size() == 1u);
}

TEST_F(crisis_service, pagerduty_resolve_finds_a_routed_alert) {
  // Regression: read_pagerduty returns before setting source/severity for acknowledge/resolve,
  // and ingestion once routed that empty input to triage: an alert whose trigger was routed
  // elsewhere can never be acknowledged or resolved.
  route_rule pd;
  pd.sources = {"pagerduty"};
  pd.channels = {"ops"};
  opts_.routes = {pd};
  auto r = http(R"({"event_action":"trigger","dedup_key":"d1",
                    "payload":{"summary":"s","source":"m","severity":"error"}})",
                bot_);
  ASSERT_TRUE(r.ok) << r.message;
  ASSERT_EQ(json(r.json).str("/alert/channel"), "ops");
  auto res = http(R"({"event_action":"resolve","dedup_key":"d1"})", bot_);
  EXPECT_TRUE(res.ok) << res.message;
  EXPECT_EQ(json(res.json).str("/alert/status"), "resolved");
}

// ---------------------------------------------------------------------------------------------
// Role and allow-list checks in run()

TEST_F(crisis_service, run_checks_roles_and_the_token_allow_list) {
  // The matrix and the token's channel patterns are enforced before anything is read.
  auto amb =
      run("channel.create", cmd("channel.create", {{"channel", "crisis-a"}, {"title", "A"}}), ana_);
  EXPECT_EQ(amb.code, errc::forbidden);
  EXPECT_EQ(amb.message, "role ambassador may not channel.create");
  auto id = push_new("https://x.com/u/status/1");
  EXPECT_EQ(act("alert.claim", id, bot_).code, errc::forbidden);

  auto scoped = make_actor("lead-9", "Nia", auth::role::lead, "c-nia", {"crisis-*"});
  auto outside =
      run("channel.create", cmd("channel.create", {{"channel", "other"}, {"title", "O"}}), scoped);
  EXPECT_EQ(outside.code, errc::forbidden);
  EXPECT_TRUE(contains(outside.message, "allow-list")) << outside.message;
  EXPECT_EQ(act("alert.get", id, scoped).code, errc::forbidden);
  EXPECT_EQ(act("alert.claim", id, scoped).code, errc::forbidden);
  EXPECT_TRUE(run("channel.create",
                  cmd("channel.create", {{"channel", "crisis-ok"}, {"title", "O"}}), scoped)
                  .ok);
  EXPECT_EQ(run("stats", cmd("stats", {{"channel", "triage"}}), scoped).code, errc::forbidden);

  // Unknown ops are refused by the decoder; known non-crisis ops are not handled here.
  EXPECT_EQ(run("alert.explode", cmd("alert.explode", {{"channel", "triage"}}), admin_).code,
            errc::unknown_op);
  EXPECT_EQ(run("subscribe", cmd("subscribe", {{"channel", "triage"}}), admin_).code,
            errc::unknown_op);
  EXPECT_EQ(run("channel.get", "{\"op\":\"channel.get\",not json", admin_).code, errc::bad_json);
  // A malformed name is the decoder's bad_channel; "*" is a name only guidance.post takes.
  auto bad_name = run("channel.get", cmd("channel.get", {{"channel", "bad name!"}}), admin_);
  EXPECT_EQ(bad_name.code, errc::bad_channel);
  auto star = run("channel.get", cmd("channel.get", {{"channel", "*"}}), admin_);
  EXPECT_EQ(star.code, errc::bad_request);
  EXPECT_EQ(star.message, "channel is not a valid channel name");
  EXPECT_EQ(run("channel.get", "{\"id\":1,\"op\":\"channel.get\"}", admin_).message,
            "channel is required");
  // Nothing but the one alert.new was written by all of the above.
  EXPECT_EQ(event_names("triage"), std::vector<std::string>{"alert.new"});
  EXPECT_TRUE(events("other").empty());
}

// ---------------------------------------------------------------------------------------------
// Timeline

TEST_F(crisis_service, timeline_returns_every_event_in_order) {
  // The export is the whole stream, one JSON line per event, across history pages.
  create_channel("crisis-t");
  constexpr int n = 1203;  // more than one history page (1000) and the default history size
  for (int i = 0; i < n; ++i)
    ASSERT_TRUE(run("template.put",
                    cmd("template.put", {{"channel", "crisis-t"},
                                         {"name", "t" + std::to_string(i % 7)},
                                         {"text", "v" + std::to_string(i)}}),
                    lea_)
                    .ok);
  std::optional<std::error_code> err;
  std::string lines;
  std::uint64_t first = 0;
  svc_.timeline("crisis-t", [&](std::error_code ec, std::string text, std::uint64_t f) {
    err = ec;
    lines = std::move(text);
    first = f;
  });
  ASSERT_TRUE(err.has_value()) << "timeline did not complete synchronously";
  EXPECT_FALSE(*err);
  EXPECT_EQ(first, 1u);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), '\n');
  std::vector<std::string> split;
  for (std::size_t pos = 0; pos < lines.size();) {
    auto nl = lines.find('\n', pos);
    split.push_back(lines.substr(pos, nl - pos));
    pos = nl + 1;
  }
  ASSERT_EQ(split.size(), static_cast<std::size_t>(n + 1));
  for (std::size_t i = 0; i < split.size(); ++i) {
    json j(split[i]);
    ASSERT_TRUE(j.valid()) << split[i];
    EXPECT_EQ(j.num("/offset"), static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(j.str("/event"), i == 0 ? "channel.created" : "template.updated");
  }
  EXPECT_EQ(json(split.back()).str("/data/template/text"), "v" + std::to_string(n - 1));
}

TEST_F(crisis_service, timeline_reports_the_first_offset_still_held) {
  // When retention dropped the start, the export says where it begins.
  memory_engine small{memory_engine::options{3, 86400s}, clock()};
  metrics small_metrics(1);
  service node(small, opts_, small_metrics, clock());
  for (int i = 0; i < 5; ++i) {
    std::optional<result> r;
    run_crisis_frame(node, alert_frame("https://x.com/p/" + std::to_string(i)), bot_,
                     [&r](result x) { r = std::move(x); });
    ASSERT_TRUE(r && r->ok);
  }
  std::string lines;
  std::uint64_t first = 0;
  node.timeline("triage", [&](std::error_code, std::string text, std::uint64_t f) {
    lines = std::move(text);
    first = f;
  });
  EXPECT_EQ(first, 3u);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 3);
  EXPECT_EQ(json(lines.substr(0, lines.find('\n'))).num("/offset"), 3);
  // An unknown channel has an empty timeline.
  node.timeline("nothing-here", [&](std::error_code ec, std::string text, std::uint64_t) {
    EXPECT_FALSE(ec);
    EXPECT_TRUE(text.empty());
  });
}

}  // namespace

TEST_F(crisis_service, superseded_guidance_gets_no_reminder) {
  // Only the pinned (newest) guidance of a kind is worth a reminder.
  create_channel("crisis-g");
  svc_.joined("crisis-g", ana_);
  post_guidance("crisis-g", "talking_points");
  now_ = t0 + 10s;
  auto newer = post_guidance("crisis-g", "talking_points");
  now_ = t0 + 2h;
  scan();
  auto rem = frames("crisis-g", "guidance.reminder");
  ASSERT_EQ(rem.size(), 1u);
  EXPECT_EQ(json(rem[0]).str("/data/guidance/id"), newer);
  EXPECT_EQ(index_size(service::remind_index), 0u);
}

TEST_F(crisis_service, push_outside_the_tokens_allow_list_is_forbidden) {
  // A bot limited to some channels cannot create alerts elsewhere through routing.
  auto limited = bot_;
  limited.id.channels = {"crisis.*"};
  auto r = run("alert.push", R"({"id":1,"op":"alert.push","source":"x","url":"https://x.com/p/1"})",
               limited);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.code, errc::forbidden);
  EXPECT_NE(r.message.find("triage"), std::string::npos) << r.message;
  EXPECT_TRUE(events("triage").empty());
}

TEST_F(crisis_service, stats_without_a_channel_add_up_each_person_across_channels) {
  route_rule to_p, to_q;
  to_p.sources = {"x"};
  to_p.channels = {"crisis-p"};
  to_q.sources = {"reddit"};
  to_q.channels = {"crisis-q"};
  opts_.routes = {to_p, to_q};
  create_channel("crisis-p");
  create_channel("crisis-q");
  auto push = [&](std::string_view source, std::string_view url) {
    auto r = run("alert.push",
                 R"({"id":1,"op":"alert.push","source":")" + std::string(source) + R"(","url":")" +
                     std::string(url) + "\"}",
                 bot_);
    EXPECT_TRUE(r.ok) << r.message;
    return json(r.json).str("/alert/id");
  };
  auto p = push("x", "https://x.com/p/1");
  auto q = push("reddit", "https://reddit.com/r/q/1");
  now_ = t0 + 10s;
  ASSERT_TRUE(
      run("alert.claim", cmd("alert.claim", {{"channel", "crisis-p"}, {"alert", p}}), ana_).ok);
  now_ = t0 + 30s;
  ASSERT_TRUE(
      run("alert.claim", cmd("alert.claim", {{"channel", "crisis-q"}, {"alert", q}}), ana_).ok);
  json every(run("stats", "{\"id\":1,\"op\":\"stats\"}", lea_).json);
  EXPECT_EQ(every.size("/channels"), 2u);
  EXPECT_EQ(every.column("/people", "/user"), std::vector<std::string>{"amb-a"});
  EXPECT_EQ(every.num("/people/0/claimed"), 2);
  EXPECT_EQ(every.num("/people/0/median_time_to_claim_ms"), 20000);  // 10 s and 30 s
}

TEST_F(crisis_service, the_dedup_pointer_decides_the_home_for_concurrent_first_triggers) {
  // Another node's first trigger for this post already chose crisis-b (its routing differed):
  // this trigger follows it instead of making a second alert elsewhere.
  bool done = false;
  engine_.commit(std::string(muster::server::crisis::keys::pointer_channel),
                 {{"ptr:https://x.com/race/1", 0, "crisis-b"}}, {}, std::nullopt,
                 [&](std::error_code ec, commit_result r) {
                   EXPECT_FALSE(ec);
                   EXPECT_TRUE(r.applied);
                   done = true;
                 });
  ASSERT_TRUE(done);
  auto r = run("alert.push", alert_frame("https://x.com/race/1"), bot_);
  ASSERT_TRUE(r.ok) << r.message;
  EXPECT_EQ(json(r.json).str("/alert/channel"), "crisis-b");
  EXPECT_EQ(json(r.json).column("/alert/channels", ""),
            (std::vector<std::string>{"crisis-b", "triage"}));
  EXPECT_EQ(events("crisis-b").size(), 1u);
  EXPECT_EQ(events("triage").size(), 1u);  // today's route still gets its copy
  // A first trigger claims the pointer for its own home.
  ASSERT_TRUE(run("alert.push", alert_frame("https://x.com/race/2"), bot_).ok);
  std::vector<doc> ptr;
  engine_.read_docs(std::string(muster::server::crisis::keys::pointer_channel),
                    {"ptr:https://x.com/race/2"},
                    [&](std::error_code, std::vector<doc> d) { ptr = std::move(d); });
  ASSERT_EQ(ptr.size(), 1u);
  EXPECT_EQ(ptr[0].value, "triage");
  EXPECT_EQ(ptr[0].version, 1u);
}

TEST_F(crisis_service, guidance_text_that_looks_like_the_reminded_flag_still_gets_its_reminder) {
  // The flag is read from the document's own field, not found anywhere in its text.
  create_channel("crisis-g");
  svc_.joined("crisis-g", ana_);
  auto r = run("guidance.post",
               cmd("guidance.post", {{"channel", "crisis-g"},
                                     {"kind", "update"},
                                     {"title", R"("reminded":true)"},
                                     {"body", R"(say "reminded":true and "reminded":false)"}}),
               lea_);
  ASSERT_TRUE(r.ok) << r.message;
  now_ = t0 + 2h;
  scan();
  auto rem = frames("crisis-g", "guidance.reminder");
  ASSERT_EQ(rem.size(), 1u);
  EXPECT_EQ(json(rem[0]).str("/data/guidance/title"), R"("reminded":true)");
  scan();
  EXPECT_EQ(count("crisis-g", "guidance.reminder"), 1u);
}

// ---------------------------------------------------------------------------------------------
// Idempotency keys on alert pushes

TEST_F(crisis_service, a_push_retried_with_its_key_gets_the_first_reply_and_changes_nothing) {
  auto frame = [](std::string_view url, std::string_view sev) {
    return alert_frame(url, sev, "x", R"(,"idempotency_key":"bot-7")");
  };
  auto first = run("alert.push", frame("https://x.com/k/1", "sev3"), bot_);
  ASSERT_TRUE(first.ok) << first.message;
  // The same key with another body (a retry that was re-serialized): the first reply.
  auto again = run("alert.push", frame("https://x.com/k/2", "sev1"), bot_);
  ASSERT_TRUE(again.ok) << again.message;
  EXPECT_EQ(again.json, first.json);
  EXPECT_EQ(count("triage", "alert.new"), 1u);
  EXPECT_EQ(count("triage", "alert.updated"), 0u) << "not folded either: nothing happened";
  // Over HTTP the header carries the key; it shares the namespace of the field.
  std::optional<result> over_http;
  svc_.push_http(R"({"source":"x","url":"https://x.com/k/3"})", "bot-7", bot_,
                 [&](result r) { over_http = std::move(r); });
  ASSERT_TRUE(over_http && over_http->ok);
  EXPECT_EQ(over_http->json, first.json);
}

TEST_F(crisis_service, an_idempotency_key_is_forgotten_after_the_window) {
  opts_.idempotency_window = 60s;
  auto frame = alert_frame("https://x.com/w/1", "sev3", "x", R"(,"idempotency_key":"w-1")");
  ASSERT_TRUE(run("alert.push", frame, bot_).ok);
  now_ += 61s;
  scan();
  auto later = run("alert.push", frame, bot_);
  ASSERT_TRUE(later.ok);
  EXPECT_EQ(json(later.json).flag("/deduplicated"), true) << "a new push of the same post";
}

TEST_F(crisis_service, a_push_still_running_with_the_key_answers_conflict_until_it_is_stale) {
  // What another node's push leaves while it runs.
  auto pending = encode(crisis::idempotency_record{false, ms(now_), {}});
  bool stored = false;
  engine_.commit(std::string(crisis::keys::pointer_channel),
                 {{crisis::keys::idempotency("busy"), 0, pending}}, {}, std::nullopt,
                 [&](std::error_code, commit_result r) { stored = r.applied; });
  ASSERT_TRUE(stored);
  auto frame = alert_frame("https://x.com/b/1", "sev3", "x", R"(,"idempotency_key":"busy")");
  auto busy = run("alert.push", frame, bot_);
  EXPECT_EQ(busy.code, errc::conflict) << busy.message;
  EXPECT_EQ(count("triage", "alert.new"), 0u);
  now_ += 31s;  // the node that ran it is gone
  EXPECT_TRUE(run("alert.push", frame, bot_).ok);
  EXPECT_EQ(count("triage", "alert.new"), 1u);
}

TEST_F(crisis_service, a_failed_keyed_push_can_be_retried) {
  auto scoped = make_actor("bot-9", "Scoped", auth::role::bot, "c-s", {"crisis-*"});
  auto frame = alert_frame("https://x.com/f/1", "sev3", "x", R"(,"idempotency_key":"f-1")");
  EXPECT_EQ(run("alert.push", frame, scoped).code, errc::forbidden) << "routed to triage";
  EXPECT_EQ(run("alert.push", frame, scoped).code, errc::forbidden)
      << "run again, not answered from a record (no conflict, no stale reply)";
  EXPECT_TRUE(run("alert.push", frame, bot_).ok);
}

TEST_F(crisis_service, a_closed_alerts_dedup_entries_are_dropped_after_the_window) {
  opts_.dedup_window = 3600s;
  auto id = push_new("https://x.com/old/status/1");
  ASSERT_TRUE(act("alert.dismiss", id, lea_).ok);
  auto docs_in = [&](std::string_view channel, std::string key) {
    std::vector<doc> out;
    engine_.read_docs(channel, {std::move(key)},
                      [&](std::error_code, std::vector<doc> d) { out = std::move(d); });
    return out.at(0).version;
  };
  auto key = std::string("https://x.com/old/status/1");
  EXPECT_GT(docs_in("triage", "dedup:" + key), 0u);
  EXPECT_GT(docs_in("_dedup", "ptr:" + key), 0u);
  now_ += 3599s;
  scan();
  EXPECT_GT(docs_in("triage", "dedup:" + key), 0u) << "not yet";
  now_ += 2s;
  scan();
  EXPECT_EQ(docs_in("triage", "dedup:" + key), 0u) << "dropped";
  EXPECT_EQ(docs_in("_dedup", "ptr:" + key), 0u);
  EXPECT_EQ(index_size("forget"), 0u);
  // The alert itself stays (timeline, stats); a repeat of the post is a new alert.
  EXPECT_TRUE(run("alert.get", cmd("alert.get", {{"channel", "triage"}, {"alert", id}}), lea_).ok);
  auto again = run("alert.push", alert_frame("https://x.com/old/status/1"), bot_);
  ASSERT_TRUE(again.ok) << again.message;
  EXPECT_EQ(json(again.json).flag("/deduplicated"), false);
}

TEST_F(crisis_service, a_pass_that_cannot_take_every_due_item_says_so_and_the_next_one_goes_on) {
  opts_.dedup_window = 60s;
  for (int i = 0; i < 300; ++i)
    ASSERT_TRUE(act("alert.dismiss", push_new("https://x.com/many/" + std::to_string(i)), lea_).ok);
  now_ += 61s;
  EXPECT_TRUE(scan()) << "300 due, one pass takes fewer: more is left";
  EXPECT_GT(index_size("forget"), 0u);
  EXPECT_FALSE(scan()) << "the rest";
  EXPECT_EQ(index_size("forget"), 0u);
}

TEST_F(crisis_service, dedup_entries_that_moved_on_to_a_newer_alert_are_kept) {
  opts_.dedup_window = 60s;
  auto first = push_new("https://x.com/again/status/1");
  ASSERT_TRUE(act("alert.resolve", first, lea_).ok);
  auto second = push_new("https://x.com/again/status/1");  // a new alert for the same post
  ASSERT_NE(second, first);
  now_ += 61s;
  scan();
  auto repeat = run("alert.push", alert_frame("https://x.com/again/status/1"), bot_);
  ASSERT_TRUE(repeat.ok);
  EXPECT_EQ(json(repeat.json).flag("/deduplicated"), true) << "still folds into the open one";
  EXPECT_EQ(json(repeat.json).str("/alert/id"), second);
}

// ---------------------------------------------------------------------------------------------
// Claims that cannot rot: expiry, the per-ambassador cap, takeovers; the directory; notes

TEST_F(crisis_service, an_unanswered_claim_expires_once_across_nodes) {
  // A claim nobody answers goes back to the pool at its deadline, exactly once.
  opts_.escalation.claim_ttl = {{severity::sev3, 120s}};
  auto id = push_new("https://x.com/u/status/1");
  now_ = t0 + 10s;
  auto c = act("alert.claim", id, ana_);
  ASSERT_TRUE(c.ok) << c.message;
  EXPECT_EQ(json(c.json).num("/alert/claim_expires_at"), ms(t0 + 130s));
  now_ = t0 + 129s;
  scan();
  EXPECT_EQ(count("triage", "alert.released"), 0u);
  now_ = t0 + 130s;
  metrics other_metrics(1);
  service other_node(engine_, opts_, other_metrics, clock());
  scan();
  scan_with(other_node);
  auto rel = frames("triage", "alert.released");
  ASSERT_EQ(rel.size(), 1u);
  json j(rel[0]);
  EXPECT_EQ(j.str("/data/reason"), "expired");
  EXPECT_EQ(j.str("/data/previous/user"), "amb-a");
  EXPECT_EQ(j.str("/data/previous/name"), "Ana");
  EXPECT_EQ(j.str("/data/by/user"), "muster");
  EXPECT_EQ(j.str("/sender/client"), "scheduler");
  EXPECT_EQ(j.str("/data/alert/status"), "new");
  EXPECT_TRUE(j.is_null("/data/alert/holder"));
  EXPECT_EQ(j.num("/data/alert/expired_claims"), 1);
  EXPECT_EQ(j.num("/data/alert/claim_expires_at"), 0);
  EXPECT_EQ(metrics_.total(counter::claims_expired) + other_metrics.total(counter::claims_expired),
            1u);
  // Free to be claimed again, by anyone.
  EXPECT_TRUE(act("alert.claim", id, ben_).ok);
}

TEST_F(crisis_service, a_response_stops_the_claim_clock) {
  opts_.escalation.claim_ttl = {{severity::sev3, 120s}};
  auto id = push_new("https://x.com/u/status/1");
  ASSERT_TRUE(act("alert.claim", id, ana_).ok);
  now_ = t0 + 60s;
  auto r =
      run("alert.respond",
          cmd("alert.respond", {{"channel", "triage"}, {"alert", id}, {"reply_text", "ok"}}), ana_);
  ASSERT_TRUE(r.ok) << r.message;
  EXPECT_EQ(json(r.json).num("/alert/claim_expires_at"), 0);
  now_ = t0 + 1h;
  scan();
  EXPECT_EQ(count("triage", "alert.released"), 0u);
  EXPECT_EQ(json(act("alert.get", id, ana_).json).str("/alert/status"), "responded");
}

TEST_F(crisis_service, ambassadors_hold_at_most_claim_limit_unanswered_claims) {
  // The cap counts claims held unanswered; answering or letting go frees a place.
  opts_.claim_limit = 2;
  auto a1 = push_new("https://x.com/u/status/1");
  auto a2 = push_new("https://x.com/u/status/2");
  auto a3 = push_new("https://x.com/u/status/3");
  ASSERT_TRUE(act("alert.claim", a1, ana_).ok);
  ASSERT_TRUE(act("alert.claim", a2, ana_).ok);
  EXPECT_TRUE(act("alert.claim", a2, ana_).ok) << "claiming what one holds is no new claim";
  auto third = act("alert.claim", a3, ana_);
  EXPECT_EQ(third.code, errc::claim_limit);
  EXPECT_EQ(third.message,
            "you hold 2 unanswered claims, the most allowed (claim_limit 2); respond to or "
            "release one first");
  EXPECT_EQ(third.extra, "\"limit\":2");
  EXPECT_EQ(json(act("alert.get", a3, ana_).json).str("/alert/status"), "new");
  ASSERT_TRUE(act("alert.release", a1, ana_).ok);
  ASSERT_TRUE(act("alert.claim", a3, ana_).ok);
  EXPECT_EQ(act("alert.claim", a1, ana_).code, errc::claim_limit);
  ASSERT_TRUE(run("alert.respond",
                  cmd("alert.respond", {{"channel", "triage"}, {"alert", a2}, {"reply_text", "x"}}),
                  ana_)
                  .ok);
  EXPECT_TRUE(act("alert.claim", a1, ana_).ok) << "an answered claim no longer counts";
  // Leads are not capped; and a lead may still assign work to someone at the cap.
  auto a4 = push_new("https://x.com/u/status/4");
  auto a5 = push_new("https://x.com/u/status/5");
  EXPECT_TRUE(act("alert.claim", a4, lea_).ok);
  EXPECT_TRUE(run("alert.assign",
                  cmd("alert.assign", {{"channel", "triage"}, {"alert", a5}, {"to", "amb-a"}}),
                  lea_)
                  .ok);
  EXPECT_EQ(act("alert.claim", push_new("https://x.com/u/status/6"), ana_).code, errc::claim_limit);
}

TEST_F(crisis_service, a_claim_the_cap_still_counts_but_the_alert_does_not_is_dropped_at_the_cap) {
  // A release that was never recorded in the held claims (a crash in between) cannot lock
  // anyone out: at the cap the alerts are checked.
  opts_.claim_limit = 1;
  std::optional<std::error_code> wrote;
  namespace c = muster::server::crisis;
  engine_.commit(
      c::keys::people_channel,
      {{c::keys::held("amb-a"), 0, c::encode(c::held_record{"amb-a", {"triage a-gone"}})}}, {},
      std::nullopt, [&](std::error_code ec, commit_result) { wrote = ec; });
  ASSERT_TRUE(wrote && !*wrote);
  auto id = push_new("https://x.com/u/status/1");
  auto r = act("alert.claim", id, ana_);
  EXPECT_TRUE(r.ok) << r.message;
}

TEST_F(crisis_service, a_lead_takes_over_a_claim_and_the_event_names_the_previous_holder) {
  auto id = push_new("https://x.com/u/status/1");
  ASSERT_TRUE(act("alert.claim", id, ana_).ok);
  auto r = run("alert.assign",
               cmd("alert.assign",
                   {{"channel", "triage"}, {"alert", id}, {"to", "amb-b"}, {"to_name", "Benny"}}),
               lea_);
  ASSERT_TRUE(r.ok) << r.message;
  json j(r.json);
  EXPECT_EQ(j.str("/alert/holder/name"), "Ben") << "the directory names the holder";
  EXPECT_EQ(j.num("/alert/takeovers"), 1);
  auto ev = frames("triage", "alert.assigned");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(json(ev[0]).str("/data/previous/user"), "amb-a");
  EXPECT_EQ(json(ev[0]).str("/data/by/user"), "lead-1");
  // Assigning an unclaimed alert takes nothing from anyone.
  auto other = push_new("https://x.com/u/status/2");
  ASSERT_TRUE(run("alert.assign",
                  cmd("alert.assign", {{"channel", "triage"}, {"alert", other}, {"to", "amb-c"}}),
                  lea_)
                  .ok);
  auto ev2 = frames("triage", "alert.assigned");
  ASSERT_EQ(ev2.size(), 2u);
  EXPECT_TRUE(json(ev2[1]).is_null("/data/previous"));
  EXPECT_EQ(json(ev2[1]).num("/data/alert/takeovers"), 0);
}

TEST_F(crisis_service, assigning_to_someone_the_directory_does_not_know_is_refused) {
  auto id = push_new("https://x.com/u/status/1");
  auto r =
      run("alert.assign",
          cmd("alert.assign", {{"channel", "triage"}, {"alert", id}, {"to", "Ben Okafor"}}), lea_);
  EXPECT_EQ(r.code, errc::unknown_user);
  EXPECT_EQ(r.message, "no user Ben Okafor has connected to this server");
  auto bot =
      run("alert.assign",
          cmd("alert.assign", {{"channel", "triage"}, {"alert", id}, {"to", "bot-1"}}), lea_);
  EXPECT_EQ(bot.code, errc::bad_request);
  EXPECT_EQ(json(act("alert.get", id, lea_).json).str("/alert/status"), "new");
  EXPECT_EQ(count("triage", "alert.assigned"), 0u);
}

TEST_F(crisis_service, the_directory_lists_people_with_role_times_and_channels) {
  now_ = t0 + 5s;
  create_channel("crisis-p");
  svc_.joined("crisis-p", ana_);
  svc_.joined("triage", ana_);
  scan();  // writes what the node saw since
  auto r = run("people.list", cmd("people.list", {}), lea_);
  ASSERT_TRUE(r.ok) << r.message;
  json j(r.json);
  EXPECT_EQ(j.column("/people", "/user"),
            (std::vector<std::string>{"admin-1", "amb-a", "amb-b", "amb-c", "bot-1", "lead-1"}));
  EXPECT_EQ(j.num("/total"), 6);
  EXPECT_EQ(j.flag("/truncated"), false);
  EXPECT_EQ(j.str("/people/1/name"), "Ana");
  EXPECT_EQ(j.str("/people/1/role"), "ambassador");
  EXPECT_EQ(j.num("/people/1/first_seen"), ms(t0));
  EXPECT_EQ(j.strs("/people/1/channels"), (std::vector<std::string>{"crisis-p", "triage"}));
  EXPECT_EQ(run("people.list", cmd("people.list", {}), ana_).code, errc::forbidden);
  auto one = run("people.list", "{\"id\":1,\"op\":\"people.list\",\"limit\":2}", lea_);
  EXPECT_EQ(json(one.json).size("/people"), 2u);
  EXPECT_EQ(json(one.json).flag("/truncated"), true);
}

TEST_F(crisis_service, a_channels_members_are_its_ambassadors_with_their_directory_records) {
  create_channel("crisis-m");
  svc_.joined("crisis-m", ana_);
  svc_.joined("crisis-m", lea_);  // leads are not members
  auto r = run("channel.members", cmd("channel.members", {{"channel", "crisis-m"}}), lea_);
  ASSERT_TRUE(r.ok) << r.message;
  json j(r.json);
  EXPECT_EQ(j.column("/members", "/user"), std::vector<std::string>{"amb-a"});
  EXPECT_EQ(j.str("/members/0/role"), "ambassador");
  EXPECT_EQ(j.num("/members/0/last_seen"), ms(t0));
  EXPECT_EQ(j.flag("/members/0/online"), false);
  engine_.presence_join("crisis-m", {"c-ana", "Ana", "amb-a"});
  auto now_on = run("channel.members", cmd("channel.members", {{"channel", "crisis-m"}}), lea_);
  EXPECT_EQ(json(now_on.json).flag("/members/0/online"), true)
      << "presence and members meet on the user";
  EXPECT_EQ(run("channel.members", cmd("channel.members", {{"channel", "crisis-m"}}), ana_).code,
            errc::forbidden);
}

TEST_F(crisis_service, plain_channels_record_no_members_and_their_guidance_expects_no_acks) {
  svc_.joined("plain-x", ana_);
  svc_.joined("plain-x", ben_);
  auto gid = post_guidance("plain-x", "update");
  auto st = run("guidance.status",
                cmd("guidance.status", {{"channel", "plain-x"}, {"guidance", gid}}), lea_);
  ASSERT_TRUE(st.ok) << st.message;
  EXPECT_EQ(json(st.json).size("/pending"), 0u);
  now_ = t0 + 1h;
  scan();
  EXPECT_EQ(count("plain-x", "guidance.reminder"), 0u);
}

TEST_F(crisis_service, ambassadors_subscribed_when_the_channel_is_created_become_members_at_once) {
  // Ben subscribed a moment ago: the directory does not list the channel for him yet.
  svc_.joined("fresh", ben_);
  engine_.presence_join("fresh", {"c-ben", "Ben", "amb-b"});
  engine_.presence_join("fresh", {"c-lea", "Lea", "lead-1"});  // a lead: never a member
  create_channel("fresh");
  auto gid = post_guidance("fresh", "update");
  auto st = run("guidance.status",
                cmd("guidance.status", {{"channel", "fresh"}, {"guidance", gid}}), lea_);
  ASSERT_TRUE(st.ok) << st.message;
  EXPECT_EQ(json(st.json).column("/pending", "/user"), std::vector<std::string>{"amb-b"});
}

TEST_F(crisis_service, ambassadors_who_joined_before_channel_create_become_members) {
  svc_.joined("later", ana_);
  scan();  // the directory now lists the channel for Ana
  create_channel("later");
  auto gid = post_guidance("later", "holding_statement");
  auto st = run("guidance.status",
                cmd("guidance.status", {{"channel", "later"}, {"guidance", gid}}), lea_);
  ASSERT_TRUE(st.ok) << st.message;
  EXPECT_EQ(json(st.json).column("/pending", "/user"), std::vector<std::string>{"amb-a"});
}

TEST_F(crisis_service, notes_are_kept_with_the_alert_and_in_its_timeline) {
  auto id = push_new("https://x.com/u/status/1");
  now_ = t0 + 7s;
  auto r = run("alert.note",
               cmd("alert.note", {{"channel", "triage"}, {"alert", id}, {"text", "Customer DM'd"}}),
               ana_);
  ASSERT_TRUE(r.ok) << r.message;
  json j(r.json);
  EXPECT_EQ(j.num("/alert/notes"), 1);
  EXPECT_EQ(j.str("/note/text"), "Customer DM'd");
  EXPECT_EQ(j.str("/note/by/user"), "amb-a");
  EXPECT_EQ(j.num("/note/at"), ms(t0 + 7s));
  EXPECT_TRUE(j.str("/note/id").starts_with("n-"));
  auto ev = frames("triage", "alert.noted");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(json(ev[0]).str("/data/note/text"), "Customer DM'd");
  EXPECT_EQ(json(ev[0]).num("/offset"), j.num("/offset"));
  now_ = t0 + 8s;
  ASSERT_TRUE(run("alert.note",
                  cmd("alert.note", {{"channel", "triage"}, {"alert", id}, {"text", "Second"}}),
                  lea_)
                  .ok);
  auto got = json(act("alert.get", id, ana_).json);
  EXPECT_EQ(got.column("/notes", "/text"), (std::vector<std::string>{"Customer DM'd", "Second"}));
  EXPECT_EQ(run("alert.note", cmd("alert.note", {{"channel", "triage"}, {"alert", id}}), ana_).code,
            errc::bad_request);
  EXPECT_EQ(run("alert.note",
                cmd("alert.note", {{"channel", "triage"}, {"alert", id}, {"text", "x"}}), bot_)
                .code,
            errc::forbidden);
  EXPECT_EQ(
      run("alert.note",
          cmd("alert.note", {{"channel", "triage"}, {"alert", "a-none"}, {"text", "x"}}), ana_)
          .code,
      errc::not_found);
}

// ---------------------------------------------------------------------------------------------
// Guidance that is versioned and provably read

namespace {
std::string guidance_cmd(
    std::string_view op, std::string_view gid,
    std::initializer_list<std::pair<std::string_view, std::string_view>> more = {}) {
  std::string out = cmd(op, {{"channel", "crisis-v"}, {"guidance", gid}});
  out.pop_back();
  for (auto& [k, v] : more) {
    out += ',';
    muster::protocol::append_json_string(out, k);
    out += ':';
    if (k == "version" || k == "ack_within_s")
      out += v;
    else
      muster::protocol::append_json_string(out, v);
  }
  return out + "}";
}
}  // namespace

class guidance_versions : public crisis_service {
 protected:
  guidance_versions() {
    create_channel("crisis-v");
    for (const auto* a : {&ana_, &ben_, &cara_}) svc_.joined("crisis-v", *a);
  }
  result revise(const std::string& gid, std::string_view body, std::string_view changes = "why") {
    return run("guidance.revise",
               guidance_cmd("guidance.revise", gid, {{"body", body}, {"changes", changes}}), lea_);
  }
  result ack(const std::string& gid, const actor& who) {
    return run("guidance.ack", guidance_cmd("guidance.ack", gid), who);
  }
  json status(const std::string& gid) {
    auto r = run("guidance.status", guidance_cmd("guidance.status", gid), lea_);
    EXPECT_TRUE(r.ok) << r.message;
    return json(r.json);
  }
  // user -> state, from guidance.status
  std::map<std::string, std::string> states(const std::string& gid) {
    auto j = status(gid);
    auto users = j.column("/people", "/user");
    auto st = j.column("/people", "/state");
    std::map<std::string, std::string> out;
    for (std::size_t i = 0; i < users.size() && i < st.size(); ++i) out[users[i]] = st[i];
    return out;
  }
};

TEST_F(guidance_versions, a_revision_resets_acks_and_status_shows_who_acked_which_version) {
  auto gid = post_guidance("crisis-v", "holding_statement");
  ASSERT_TRUE(ack(gid, ana_).ok);
  ASSERT_TRUE(ack(gid, ben_).ok);
  now_ = t0 + 60s;
  auto r = revise(gid, "The recall is official.", "recall confirmed");
  ASSERT_TRUE(r.ok) << r.message;
  json j(r.json);
  EXPECT_EQ(j.num("/guidance/version"), 2);
  EXPECT_EQ(j.str("/guidance/changes"), "recall confirmed");
  EXPECT_EQ(j.num("/guidance/revised_at"), ms(t0 + 60s));
  EXPECT_EQ(j.str("/guidance/revised_by/user"), "lead-1");
  EXPECT_EQ(j.num("/guidance/history/0/version"), 1);
  EXPECT_EQ(j.str("/guidance/body"), "The recall is official.");
  auto ev = frames("crisis-v", "guidance.revised");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(json(ev[0]).num("/offset"), j.num("/offset"));
  EXPECT_EQ(json(ev[0]).num("/data/guidance/version"), 2);

  auto s = status(gid);
  EXPECT_EQ(s.size("/acknowledged"), 0u) << "acks of version 1 no longer count";
  EXPECT_EQ(s.column("/pending", "/user"), (std::vector<std::string>{"amb-a", "amb-b", "amb-c"}));
  now_ = t0 + 90s;
  auto again = ack(gid, ana_);
  ASSERT_TRUE(again.ok) << again.message;
  EXPECT_EQ(json(again.json).flag("/already"), false);
  EXPECT_EQ(json(again.json).num("/ack/version"), 2);
  EXPECT_EQ(json(again.json).num("/ack/delay_ms"), 30000) << "measured from the revision";
  EXPECT_EQ(json(ack(gid, ana_).json).flag("/already"), true);
  auto v2 = status(gid);
  EXPECT_EQ(v2.column("/acknowledged", "/user"), std::vector<std::string>{"amb-a"});
  EXPECT_EQ(v2.column("/pending", "/user"), (std::vector<std::string>{"amb-b", "amb-c"}));
  EXPECT_EQ(v2.column("/people", "/user"), (std::vector<std::string>{"amb-a", "amb-b", "amb-c"}));
  EXPECT_EQ(v2.num("/people/0/acked_version"), 2);
  EXPECT_EQ(v2.num("/people/1/acked_version"), 1) << "Ben acked the old text only";
  EXPECT_EQ(v2.num("/people/2/acked_version"), 0);
  // An ack that names the version it was shown must name the current one.
  auto stale = run("guidance.ack", guidance_cmd("guidance.ack", gid, {{"version", "1"}}), ben_);
  EXPECT_EQ(stale.code, errc::invalid_state);
  EXPECT_EQ(stale.message, "guidance " + gid + " is at version 2, not 1; show it again");
  EXPECT_TRUE(run("guidance.ack", guidance_cmd("guidance.ack", gid, {{"version", "2"}}), ben_).ok);
}

TEST_F(guidance_versions, revise_refusals) {
  auto old = post_guidance("crisis-v", "holding_statement");
  now_ = t0 + 1s;
  auto pinned = post_guidance("crisis-v", "holding_statement");
  EXPECT_EQ(revise(old, "x").code, errc::invalid_state);
  EXPECT_EQ(revise(old, "x").message, "guidance " + old + " was superseded by " + pinned);
  EXPECT_EQ(revise("g-none", "x").code, errc::not_found);
  auto same = revise(pinned, "Say this.");
  ASSERT_TRUE(same.ok) << same.message;
  EXPECT_EQ(json(same.json).flag("/changed"), false);
  EXPECT_EQ(json(same.json).num("/guidance/version"), 1);
  auto no_changes =
      run("guidance.revise", guidance_cmd("guidance.revise", pinned, {{"body", "new"}}), lea_);
  EXPECT_EQ(no_changes.message, "changes is required");
  EXPECT_EQ(run("guidance.revise",
                guidance_cmd("guidance.revise", pinned, {{"body", "new"}, {"changes", "c"}}), ana_)
                .code,
            errc::forbidden);
  EXPECT_EQ(count("crisis-v", "guidance.revised"), 0u);
}

TEST_F(guidance_versions, delivered_read_and_acknowledged_states_per_version) {
  auto gid = post_guidance("crisis-v", "talking_points");
  auto delivered =
      run("guidance.read", guidance_cmd("guidance.read", gid, {{"state", "delivered"}}), ben_);
  ASSERT_TRUE(delivered.ok) << delivered.message;
  EXPECT_EQ(json(delivered.json).num("/receipt/read_at"), 0);
  now_ = t0 + 5s;
  ASSERT_TRUE(run("guidance.read", guidance_cmd("guidance.read", gid), cara_).ok);
  ASSERT_TRUE(ack(gid, ana_).ok);
  EXPECT_EQ(states(gid),
            (std::map<std::string, std::string>{
                {"amb-a", "acknowledged"}, {"amb-b", "delivered"}, {"amb-c", "read"}}));
  auto s = status(gid);
  EXPECT_EQ(s.num("/people/2/read_at"), ms(t0 + 5s));
  EXPECT_EQ(s.num("/people/2/delivered_at"), ms(t0 + 5s)) << "read implies delivered";
  auto repeat = run("guidance.read", guidance_cmd("guidance.read", gid), cara_);
  EXPECT_EQ(json(repeat.json).flag("/changed"), false);
  EXPECT_EQ(
      run("guidance.read", guidance_cmd("guidance.read", gid, {{"state", "seen"}}), cara_).message,
      "state must be one of delivered read");
  ASSERT_TRUE(revise(gid, "New points").ok);
  EXPECT_EQ(states(gid), (std::map<std::string, std::string>{
                             {"amb-a", "pending"}, {"amb-b", "pending"}, {"amb-c", "pending"}}));
  EXPECT_EQ(status(gid).num("/people/2/read_at"), 0);
}

TEST_F(guidance_versions, an_ack_deadline_escalates_once_naming_exactly_the_pending_people) {
  auto r = run("guidance.post",
               guidance_cmd("guidance.post", "",
                            {{"kind", "holding_statement"},
                             {"title", "Hold"},
                             {"body", "Say this"},
                             {"ack_within_s", "300"}}),
               lea_);
  ASSERT_TRUE(r.ok) << r.message;
  auto gid = json(r.json).str("/guidance/id");
  EXPECT_EQ(json(r.json).num("/guidance/ack_deadline"), ms(t0 + 300s));
  ASSERT_TRUE(ack(gid, ana_).ok);
  now_ = t0 + 299s;
  scan();
  EXPECT_EQ(count("crisis-v", "guidance.overdue"), 0u);
  now_ = t0 + 300s;
  metrics other_metrics(1);
  service other_node(engine_, opts_, other_metrics, clock());
  scan();
  scan_with(other_node);
  auto over = frames("crisis-v", "guidance.overdue");
  ASSERT_EQ(over.size(), 1u);
  json j(over[0]);
  EXPECT_EQ(j.column("/data/pending", "/user"), (std::vector<std::string>{"amb-b", "amb-c"}));
  EXPECT_EQ(j.flag("/data/guidance/overdue"), true);
  EXPECT_EQ(j.str("/sender/client"), "scheduler");
  EXPECT_EQ(count("leads", "guidance.overdue"), 1u) << "the leads hear of it too";
  EXPECT_EQ(
      metrics_.total(counter::guidance_overdue) + other_metrics.total(counter::guidance_overdue),
      1u);
  now_ = t0 + 2h;
  scan();
  EXPECT_EQ(count("crisis-v", "guidance.overdue"), 1u);
  // A revision asks everyone again, with a new deadline.
  ASSERT_TRUE(revise(gid, "Say that").ok);
  ASSERT_TRUE(ack(gid, ben_).ok);
  now_ = t0 + 2h + 300s;
  scan();
  over = frames("crisis-v", "guidance.overdue");
  ASSERT_EQ(over.size(), 2u);
  EXPECT_EQ(json(over[1]).column("/data/pending", "/user"),
            (std::vector<std::string>{"amb-a", "amb-c"}));
  EXPECT_EQ(
      run("guidance.post",
          guidance_cmd("guidance.post", "",
                       {{"kind", "update"}, {"title", "t"}, {"body", "b"}, {"ack_within_s", "0"}}),
          lea_)
          .message,
      "ack_within_s must be between 1 and 604800");
}

TEST_F(guidance_versions, nobody_overdue_means_no_escalation) {
  auto r = run(
      "guidance.post",
      guidance_cmd(
          "guidance.post", "",
          {{"kind", "update"}, {"title", "Hold"}, {"body", "Say this"}, {"ack_within_s", "60"}}),
      lea_);
  auto gid = json(r.json).str("/guidance/id");
  for (const auto* a : {&ana_, &ben_, &cara_}) ASSERT_TRUE(ack(gid, *a).ok);
  now_ = t0 + 1h;
  scan();
  EXPECT_EQ(count("crisis-v", "guidance.overdue"), 0u);
  EXPECT_EQ(index_size(muster::server::crisis::keys::overdue_index), 0u);
}

TEST_F(guidance_versions, a_revision_brings_a_new_reminder) {
  auto gid = post_guidance("crisis-v", "do_dont");
  now_ = t0 + 600s;
  scan();
  ASSERT_EQ(count("crisis-v", "guidance.reminder"), 1u);
  now_ = t0 + 700s;
  ASSERT_TRUE(revise(gid, "Don't speculate").ok);
  now_ = t0 + 1299s;
  scan();
  EXPECT_EQ(count("crisis-v", "guidance.reminder"), 1u);
  now_ = t0 + 1300s;
  scan();
  auto rem = frames("crisis-v", "guidance.reminder");
  ASSERT_EQ(rem.size(), 2u);
  EXPECT_EQ(json(rem[1]).num("/data/guidance/version"), 2);
}

TEST_F(guidance_versions, responses_record_the_guidance_in_force_and_stats_flag_superseded_ones) {
  auto hold = post_guidance("crisis-v", "holding_statement");
  auto tips = post_guidance("crisis-v", "talking_points");
  auto answer = [&](std::string_view url) {
    auto id = push_new(url);
    auto moved =
        run("alert.assign",
            cmd("alert.assign", {{"channel", "triage"}, {"alert", id}, {"to", "amb-a"}}), lea_);
    EXPECT_TRUE(moved.ok) << moved.message;
    auto r = run("alert.respond",
                 cmd("alert.respond", {{"channel", "triage"}, {"alert", id}, {"reply_text", "ok"}}),
                 ana_);
    EXPECT_TRUE(r.ok) << r.message;
    return std::pair{id, r.json};
  };
  // Alerts are answered in their home channel: here the guidance lives in triage too.
  auto g1 = run("guidance.post",
                cmd("guidance.post", {{"channel", "triage"},
                                      {"kind", "holding_statement"},
                                      {"title", "Hold"},
                                      {"body", "v1"}}),
                lea_);
  auto triage_hold = json(g1.json).str("/guidance/id");
  auto [first, reply1] = answer("https://x.com/u/status/1");
  json j1(reply1);
  EXPECT_EQ(j1.str("/alert/guidance/0/id"), triage_hold);
  EXPECT_EQ(j1.num("/alert/guidance/0/version"), 1);
  EXPECT_EQ(j1.str("/alert/guidance/0/kind"), "holding_statement");
  auto rv =
      run("guidance.revise",
          cmd("guidance.revise",
              {{"channel", "triage"}, {"guidance", triage_hold}, {"body", "v2"}, {"changes", "c"}}),
          lea_);
  ASSERT_TRUE(rv.ok) << rv.message;
  auto [second, reply2] = answer("https://x.com/u/status/2");
  EXPECT_EQ(json(reply2).num("/alert/guidance/0/version"), 2);
  auto st = run("stats", cmd("stats", {{"channel", "triage"}}), lea_);
  ASSERT_TRUE(st.ok) << st.message;
  json s(st.json);
  EXPECT_EQ(s.num("/channels/0/guidance/responses_under_superseded"), 1);
  EXPECT_EQ(s.strs("/channels/0/guidance/superseded_responses"),
            std::vector<std::string>{std::string(first)});
  (void)hold;
  (void)tips;
  (void)second;
}

// ---------------------------------------------------------------------------------------------
// Who is on an alert: alert.view / alert.draft

namespace {
std::string on_alert(std::string_view op, std::string_view id, bool active = true) {
  std::string out = cmd(op, {{"channel", "triage"}, {"alert", id}});
  if (!active) out.insert(out.size() - 1, ",\"active\":false");
  return out;
}
}  // namespace

TEST_F(crisis_service, viewers_and_drafters_show_with_the_alert_until_their_entry_expires) {
  opts_.activity_ttl = 10s;
  auto id = push_new("https://x.com/u/status/1");
  auto v = run("alert.view", on_alert("alert.view", id), ana_);
  ASSERT_TRUE(v.ok) << v.message;
  EXPECT_EQ(json(v.json).str("/activity/state"), "viewing");
  EXPECT_EQ(json(v.json).num("/activity/expires_at"), ms(t0 + 10s));
  now_ = t0 + 2s;
  ASSERT_TRUE(run("alert.draft", on_alert("alert.draft", id), ben_).ok);
  auto ben_tab = make_actor("amb-b", "Ben", auth::role::ambassador, "c-ben-2");
  ASSERT_TRUE(run("alert.view", on_alert("alert.view", id), ben_tab).ok) << "a second tab";
  json got(act("alert.get", id, cara_).json);
  EXPECT_EQ(got.column("/activity", "/user"), (std::vector<std::string>{"amb-a", "amb-b"}));
  EXPECT_EQ(got.column("/activity", "/state"), (std::vector<std::string>{"viewing", "drafting"}))
      << "drafting in one tab beats viewing in another";
  json listed(run("alert.list", cmd("alert.list", {{"channel", "triage"}}), cara_).json);
  EXPECT_EQ(listed.column("/activity/" + id, "/user"),
            (std::vector<std::string>{"amb-a", "amb-b"}));
  EXPECT_TRUE(events("triage").size() == 1u) << "activity is not in the timeline";
  now_ = t0 + 10s;
  EXPECT_EQ(json(act("alert.get", id, cara_).json).column("/activity", "/user"),
            std::vector<std::string>{"amb-b"})
      << "Ana's entry expired; Ben's came later";
  now_ = t0 + 13s;
  EXPECT_EQ(json(act("alert.get", id, cara_).json).size("/activity"), 0u);
}

TEST_F(crisis_service, a_claim_says_who_else_is_drafting_a_reply) {
  auto id = push_new("https://x.com/u/status/1");
  ASSERT_TRUE(run("alert.draft", on_alert("alert.draft", id), ben_).ok);
  ASSERT_TRUE(run("alert.draft", on_alert("alert.draft", id), ana_).ok);
  auto won = act("alert.claim", id, ana_);
  ASSERT_TRUE(won.ok) << won.message;
  EXPECT_EQ(json(won.json).column("/drafting", "/user"), std::vector<std::string>{"amb-b"})
      << "not the claimer herself";
  auto lost = act("alert.claim", id, cara_);
  EXPECT_EQ(lost.code, errc::already_claimed);
  EXPECT_EQ(lost.extra.find("\"drafting\":[{\"user\":\"amb-a\""), lost.extra.find("\"drafting\""))
      << lost.extra;
  EXPECT_NE(lost.extra.find("amb-b"), std::string::npos) << lost.extra;
  auto plain = act("alert.claim", push_new("https://x.com/u/status/2"), cara_);
  EXPECT_EQ(json(plain.json).size("/drafting"), 0u);
}

TEST_F(crisis_service, leaving_ends_what_a_connection_was_on) {
  auto a1 = push_new("https://x.com/u/status/1");
  auto a2 = push_new("https://x.com/u/status/2");
  ASSERT_TRUE(run("alert.view", on_alert("alert.view", a1), ana_).ok);
  ASSERT_TRUE(run("alert.draft", on_alert("alert.draft", a2), ana_).ok);
  ASSERT_TRUE(run("alert.view", on_alert("alert.view", a1), ben_).ok);
  auto off = run("alert.view", on_alert("alert.view", a1, false), ben_);
  ASSERT_TRUE(off.ok) << off.message;
  EXPECT_EQ(json(off.json).str("/activity/state"), "none");
  EXPECT_EQ(json(act("alert.get", a1, lea_).json).column("/activity", "/user"),
            std::vector<std::string>{"amb-a"});
  svc_.left("elsewhere", ana_);
  EXPECT_EQ(json(act("alert.get", a1, lea_).json).size("/activity"), 1u);
  svc_.left("triage", ana_);
  EXPECT_EQ(json(act("alert.get", a1, lea_).json).size("/activity"), 0u);
  EXPECT_EQ(json(act("alert.get", a2, lea_).json).size("/activity"), 0u);
  ASSERT_TRUE(run("alert.view", on_alert("alert.view", a1), ana_).ok);
  svc_.disconnected(ana_);
  EXPECT_EQ(json(act("alert.get", a1, lea_).json).size("/activity"), 0u);
}

TEST_F(crisis_service, activity_signals_are_rate_limited_and_bounded_per_connection) {
  auto id = push_new("https://x.com/u/status/1");
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(run("alert.view", on_alert("alert.view", id), ana_).ok);
  auto over = run("alert.view", on_alert("alert.view", id), ana_);
  EXPECT_EQ(over.code, errc::rate_limited);
  EXPECT_TRUE(over.message.starts_with("too many activity signals; retry after")) << over.message;
  EXPECT_TRUE(run("alert.view", on_alert("alert.view", id), ben_).ok) << "others are not slowed";
  now_ = t0 + 10s;  // tokens come back; and one connection is on at most 16 alerts
  std::vector<std::string> ids;
  for (int i = 0; i < 17; ++i) {
    ids.push_back(push_new("https://x.com/u/status/" + std::to_string(100 + i)));
    ASSERT_TRUE(run("alert.view", on_alert("alert.view", ids.back()), cara_).ok) << i;
  }
  EXPECT_EQ(json(act("alert.get", ids.front(), lea_).json).size("/activity"), 0u);
  EXPECT_EQ(json(act("alert.get", ids.back(), lea_).json).size("/activity"), 1u);
}

TEST_F(crisis_service, activity_refusals) {
  auto id = push_new("https://x.com/u/status/1");
  EXPECT_EQ(run("alert.view", on_alert("alert.view", id), admin_).message,
            "alert.view needs a WebSocket connection");
  EXPECT_EQ(run("alert.view", on_alert("alert.view", "a-none"), ana_).code, errc::not_found);
  EXPECT_EQ(run("alert.draft", on_alert("alert.draft", id), bot_).code, errc::forbidden);
  EXPECT_EQ(
      run("alert.view",
          R"({"id":1,"op":"alert.view","channel":"triage","alert":")" + id + R"(","active":"no"})",
          ana_)
          .message,
      "active must be true or false");
}
