#include "server/crisis/alert.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace muster::server::crisis;
using namespace std::chrono_literals;

namespace {
const time_point t0 = time_point{} + 1'800'000'000s;

alert make_alert(severity s = severity::sev2) {
  alert a;
  a.id = "a1";
  a.input.source = "x";
  a.input.url = "https://x.com/u/status/1";
  a.input.severity = s;
  a.first_seen = a.last_seen = t0;
  return a;
}
}  // namespace

TEST(alert, claim_is_exclusive_and_idempotent_for_the_holder) {
  auto a = make_alert();
  EXPECT_EQ(claim(a, "amb1", t0 + 5s), outcome::ok);
  EXPECT_EQ(a.status, alert_status::claimed);
  EXPECT_EQ(claim(a, "amb2", t0 + 6s), outcome::already_claimed);
  EXPECT_EQ(a.holder, "amb1");
  EXPECT_EQ(claim(a, "amb1", t0 + 7s), outcome::ok);
  EXPECT_EQ(a.claimed_at, t0 + 5s);
}

TEST(alert, full_lifecycle_and_its_refusals) {
  auto a = make_alert();
  EXPECT_EQ(respond(a, "amb1", "u", "t", false, t0), outcome::not_claimed);
  ASSERT_EQ(claim(a, "amb1", t0), outcome::ok);
  EXPECT_EQ(respond(a, "amb2", "u", "t", false, t0), outcome::forbidden);
  EXPECT_EQ(release(a, "amb2", false), outcome::forbidden);
  EXPECT_EQ(
      respond(a, "amb1", "https://x.com/brand/status/9", "Thanks, we are on it", false, t0 + 60s),
      outcome::ok);
  EXPECT_EQ(a.status, alert_status::responded);
  EXPECT_EQ(a.responded_at, t0 + 60s);
  EXPECT_EQ(claim(a, "amb2", t0), outcome::already_claimed);
  EXPECT_EQ(resolve(a, "amb2", false), outcome::forbidden);
  EXPECT_EQ(resolve(a, "amb1", false), outcome::ok);
  EXPECT_EQ(claim(a, "amb2", t0), outcome::invalid_state);
  EXPECT_EQ(dismiss(a, true), outcome::invalid_state);
}

TEST(alert, release_assign_and_dismiss) {
  auto a = make_alert();
  ASSERT_EQ(claim(a, "amb1", t0), outcome::ok);
  EXPECT_EQ(release(a, "lead", true), outcome::ok) << "a lead may release anyone's claim";
  EXPECT_EQ(a.status, alert_status::open);
  EXPECT_EQ(release(a, "amb1", false), outcome::not_claimed);
  EXPECT_EQ(assign(a, "amb3", t0 + 1s), outcome::ok);
  EXPECT_EQ(a.holder, "amb3");
  EXPECT_EQ(assign(a, "amb4", t0 + 2s), outcome::ok) << "reassign";
  EXPECT_EQ(dismiss(a, false), outcome::forbidden);
  EXPECT_EQ(dismiss(a, true), outcome::ok);
  EXPECT_EQ(status_name(a.status), "dismissed");
}

TEST(alert, a_reach_jump_raises_the_severity_one_step_once_per_jump) {
  auto a = make_alert(severity::sev3);
  a.input.reach = 1000;
  viral_policy viral{5.0, 20000};
  alert_input again = a.input;
  again.reach = 4999;
  EXPECT_FALSE(fold_trigger(a, again, t0 + 1s, viral)) << "below the factor";
  again.reach = 20000;  // 4x the 4999 known now: not a jump
  EXPECT_FALSE(fold_trigger(a, again, t0 + 2s, viral));
  EXPECT_EQ(a.reach_jumps, 0u);
  again.reach = 100000;  // 5x
  EXPECT_TRUE(fold_trigger(a, again, t0 + 3s, viral));
  EXPECT_EQ(a.input.severity, severity::sev2);
  EXPECT_EQ(a.reach_jumps, 1u);
  EXPECT_FALSE(fold_trigger(a, again, t0 + 4s, viral)) << "the same reach again is no jump";
  again.reach = 600000;
  again.severity = severity::sev2;  // the bot's own raise and the jump: one step past it
  EXPECT_TRUE(fold_trigger(a, again, t0 + 5s, viral));
  EXPECT_EQ(a.input.severity, severity::sev1);
  again.reach = 6000000;
  EXPECT_FALSE(fold_trigger(a, again, t0 + 6s, viral)) << "sev1 is the top";
  EXPECT_EQ(a.reach_jumps, 3u);

  auto small = make_alert(severity::sev4);
  small.input.reach = 10;
  again = small.input;
  again.reach = 900;  // 90x, but under min_reach
  EXPECT_FALSE(fold_trigger(small, again, t0, viral));
  auto unknown = make_alert(severity::sev4);
  unknown.input.reach = 0;  // no reach known before: no jump to measure
  again.reach = 1000000;
  EXPECT_FALSE(fold_trigger(unknown, again, t0, viral));
  EXPECT_FALSE(fold_trigger(a, again, t0, viral_policy{})) << "off by default";
}

TEST(alert, repeated_trigger_folds_and_reports_rising_severity) {
  auto a = make_alert(severity::sev3);
  alert_input again = a.input;
  again.reach = 5000;
  EXPECT_FALSE(fold_trigger(a, again, t0 + 10s));
  EXPECT_EQ(a.count, 2u);
  EXPECT_EQ(a.input.reach, 5000u);
  again.severity = severity::sev1;  // went viral
  EXPECT_TRUE(fold_trigger(a, again, t0 + 20s));
  EXPECT_EQ(a.input.severity, severity::sev1);
  again.severity = severity::sev4;
  EXPECT_FALSE(fold_trigger(a, again, t0 + 30s)) << "severity never drops by a trigger";
  EXPECT_EQ(a.input.severity, severity::sev1);
  EXPECT_EQ(a.last_seen, t0 + 30s);
}

TEST(alert, escalation_steps_are_due_once_each) {
  escalation_policy p;
  p.escalate_after[severity::sev2] = 300s;
  p.respond_within[severity::sev2] = 600s;
  auto a = make_alert(severity::sev2);
  EXPECT_FALSE(escalation_due(a, p, t0 + 299s));
  ASSERT_EQ(escalation_due(a, p, t0 + 300s), 1u);
  a.escalations = 1;
  EXPECT_FALSE(escalation_due(a, p, t0 + 900s)) << "step 1 only once";
  ASSERT_EQ(claim(a, "amb1", t0 + 1000s), outcome::ok);
  EXPECT_FALSE(escalation_due(a, p, t0 + 1599s));
  ASSERT_EQ(escalation_due(a, p, t0 + 1600s), 2u);
  a.escalations = 2;
  EXPECT_FALSE(escalation_due(a, p, t0 + 5000s));
  auto b = make_alert(severity::sev4);
  EXPECT_FALSE(escalation_due(b, p, t0 + 100000s)) << "no policy for sev4: never";
}

TEST(alert, next_escalation_says_which_step_comes_when) {
  escalation_policy p;
  p.escalate_after[severity::sev2] = 300s;
  p.respond_within[severity::sev2] = 600s;
  auto a = make_alert(severity::sev2);
  auto next = next_escalation(a, p);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->step, 1u);
  EXPECT_EQ(next->at, t0 + 300s);
  ASSERT_EQ(claim(a, "amb1", t0 + 100s), outcome::ok);
  next = next_escalation(a, p);
  ASSERT_TRUE(next) << "claimed in time: the respond deadline is next";
  EXPECT_EQ(next->step, 2u);
  EXPECT_EQ(next->at, t0 + 700s);
  ASSERT_EQ(release(a, "amb1", false), outcome::ok);
  a.escalations = 1;
  EXPECT_FALSE(next_escalation(a, p)) << "released after step 1: nothing more while unclaimed";
  ASSERT_EQ(claim(a, "amb2", t0 + 800s), outcome::ok);
  ASSERT_TRUE(next_escalation(a, p));
  EXPECT_EQ(next_escalation(a, p)->at, t0 + 1400s);
  ASSERT_EQ(respond(a, "amb2", "https://x.com/r", "", false, t0 + 900s), outcome::ok);
  EXPECT_FALSE(next_escalation(a, p)) << "answered: no step pending";
}

TEST(alert, routing_rules_and_fallback) {
  std::vector<route_rule> rules(3);
  rules[0].sources = {"news"};
  rules[0].channels = {"press"};
  rules[1].keywords = {"Recall", "lawsuit"};
  rules[1].channels = {"legal", "press"};
  rules[2].tags = {"vip"};
  rules[2].min_severity = severity::sev2;
  rules[2].channels = {"exec"};
  alert_input in;
  in.source = "x";
  in.text = "Is this a product RECALL?";
  in.severity = severity::sev3;
  EXPECT_EQ(route(in, rules, "triage"), (std::vector<std::string>{"legal", "press"}));
  in.text = "nice weather";
  EXPECT_EQ(route(in, rules, "triage"), (std::vector<std::string>{"triage"}));
  in.tags = {"vip"};
  EXPECT_EQ(route(in, rules, "triage"), (std::vector<std::string>{"triage"}))
      << "vip but not severe enough";
  in.severity = severity::sev1;
  EXPECT_EQ(route(in, rules, "triage"), (std::vector<std::string>{"exec"}));
  in.source = "news";
  EXPECT_EQ(route(in, rules, "triage"), (std::vector<std::string>{"press", "exec"}));
}

TEST(alert, names_round_trip) {
  for (auto s : {severity::sev1, severity::sev2, severity::sev3, severity::sev4})
    EXPECT_EQ(parse_severity(severity_name(s)), s);
  EXPECT_FALSE(parse_severity("sev5"));
  EXPECT_EQ(outcome_name(outcome::already_claimed), "already_claimed");
}

TEST(alert, ids_sort_by_creation_time_and_do_not_repeat) {
  std::set<std::string> seen;
  std::string previous;
  for (int i = 0; i < 5000; ++i) {
    auto id = new_id('a', t0 + std::chrono::milliseconds(i / 10));
    ASSERT_EQ(id.size(), 20u) << id;
    ASSERT_TRUE(id.starts_with("a-")) << id;
    ASSERT_EQ(id.find_first_not_of("0123456789abcdef", 2), std::string::npos) << id;
    // The time part (11 hex digits) orders ids of different milliseconds.
    if (i % 10 == 0) {
      EXPECT_LT(previous.substr(0, 13), id.substr(0, 13));
    }
    EXPECT_TRUE(seen.insert(id).second) << id << " repeated";
    previous = id;
  }
  EXPECT_EQ(new_id('g', t0).substr(0, 13), "g-" + std::string("1a3185c5000"));
}

TEST(alert, only_http_and_https_urls_with_a_host_are_web_urls) {
  for (std::string_view ok : {"https://x.com/u/status/1", "HTTP://Example.com",
                              "http://a:8080/x?q=1", "https://xn--bcher-kva.example/p"})
    EXPECT_TRUE(is_web_url(ok)) << ok;
  for (std::string_view bad :
       {"javascript://%0Aalert(1)", "JavaScript://x", "data://text/html,x", "file:///etc/passwd",
        "x.com/1", "https://", "https:///path", "https://?q", "https://x.com/a b",
        "https://x.com/\n", "ftp://x.com/f", "//x.com/1", ""})
    EXPECT_FALSE(is_web_url(bad)) << bad;
}

TEST(alert, a_repeat_keeps_the_first_text_and_collects_the_other_texts_bounded) {
  auto a = make_alert();
  a.input.text = "first words";
  alert_input again = a.input;
  again.text = "";
  fold_trigger(a, again, t0);
  EXPECT_EQ(a.input.text, "first words") << "an empty repeat text changes nothing";
  EXPECT_TRUE(a.later_texts.empty());
  again.text = "first words";
  fold_trigger(a, again, t0);
  EXPECT_TRUE(a.later_texts.empty()) << "the same text is not kept twice";
  for (int i = 0; i < 14; ++i) {
    again.text = "repeat " + std::to_string(i);
    fold_trigger(a, again, t0);
    fold_trigger(a, again, t0);  // each differing text once
  }
  EXPECT_EQ(a.input.text, "first words");
  ASSERT_EQ(a.later_texts.size(), max_later_texts);
  EXPECT_EQ(a.later_texts.front(), "repeat 4") << "the oldest drop out";
  EXPECT_EQ(a.later_texts.back(), "repeat 13");
  EXPECT_EQ(a.count, 31u);
  auto empty = make_alert();
  empty.input.text = "";
  again.text = "late text";
  fold_trigger(empty, again, t0);
  EXPECT_EQ(empty.input.text, "late text") << "a first alert without text takes the first one";
}
