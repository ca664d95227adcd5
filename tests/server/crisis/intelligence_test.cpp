// Crisis intelligence on the memory engine with an injected clock: spikes raised once across
// nodes, viral reach jumps, reply approval, drills.
#include <gtest/gtest.h>

#include <string>

#include "tests/server/crisis/service_fixture.hpp"

using namespace crisis_test;

namespace {

class crisis_intelligence : public crisis_service {
 protected:
  crisis_intelligence() {
    auto& s = opts_.spike;
    s.policy.window = 60s;
    s.policy.baseline = 600s;
    s.policy.factor = 3;
    s.policy.rearm_factor = 1.5;
    s.policy.min_alerts = 4;
    s.raise_severity = true;
    create_channel("triage", "Everything unrouted");
  }

  // A new alert from `node` with `reach`.
  std::string push_on(service& node, std::string_view url, std::uint64_t reach = 0) {
    auto r = run_on(
        node, "alert.push",
        alert_frame(url, "sev3", "x", ",\"metrics\":{\"reach\":" + std::to_string(reach) + "}"),
        bot_);
    EXPECT_TRUE(r.ok) << r.message;
    return json(r.json).str("/alert/id");
  }
  // One alert a minute from `from` for `minutes`, scanning after each.
  void steady(int minutes, std::string_view tag) {
    for (int i = 0; i < minutes; ++i) {
      now_ += 60s;
      push_on(svc_, "https://x.com/steady/" + std::string(tag) + std::to_string(i), 100);
      scan();
    }
  }
};

TEST_F(crisis_intelligence, a_steady_rate_raises_no_spike) {
  steady(30, "s");
  EXPECT_EQ(count("triage", "channel.spike"), 0u);
}

TEST_F(crisis_intelligence, a_burst_raises_one_spike_across_nodes_and_rearms_when_it_fades) {
  metrics other_metrics(1);
  service other_node(engine_, opts_, other_metrics, clock());
  steady(12, "a");
  // Twelve alerts in twenty seconds, half on each node, each node scanning after every push.
  for (int i = 0; i < 12; ++i) {
    now_ += 2s;
    auto& node = i % 2 ? other_node : svc_;
    push_on(node, "https://x.com/burst/" + std::to_string(i), 1000u * static_cast<unsigned>(i));
    scan_with(node);
  }
  auto spikes = frames("triage", "channel.spike");
  ASSERT_EQ(spikes.size(), 1u);
  json j(spikes[0]);
  EXPECT_EQ(j.str("/data/channel"), "triage");
  EXPECT_EQ(j.flag("/data/drill"), false);
  EXPECT_EQ(j.flag("/data/by_reach"), false);
  EXPECT_GE(j.num("/data/alerts_in_window"), 4);
  EXPECT_EQ(j.num("/data/window_s"), 60);
  EXPECT_EQ(j.num("/data/baseline_s"), 600);
  EXPECT_EQ(j.str("/sender/client"), "scheduler");
  EXPECT_EQ(j.flag("/data/severity_raised"), true);
  // The highest reach first, at most five.
  ASSERT_GE(j.size("/data/top"), 1u);
  EXPECT_LE(j.size("/data/top"), 5u);
  EXPECT_EQ(j.str("/data/top/0/severity"), "sev3");
  EXPECT_GE(j.num("/data/top/0/reach"), j.num("/data/top/1/reach"));
  EXPECT_EQ(count("leads", "channel.spike"), 1u) << "the leads hear of it too";
  EXPECT_EQ(metrics_.total(counter::spikes) + other_metrics.total(counter::spikes), 1u);
  // The channel's severity went up one step, announced once.
  auto updated = frames("triage", "channel.updated");
  ASSERT_EQ(updated.size(), 1u);
  EXPECT_EQ(json(updated[0]).str("/data/channel/severity"), "sev2");
  EXPECT_EQ(json(updated[0]).str("/data/changed/0"), "severity");

  // The rate falls back; a later burst is a new spike.
  steady(12, "b");
  EXPECT_EQ(count("triage", "channel.spike"), 1u);
  for (int i = 0; i < 12; ++i) {
    now_ += 2s;
    push_on(svc_, "https://x.com/burst2/" + std::to_string(i));
  }
  scan();
  EXPECT_EQ(count("triage", "channel.spike"), 2u) << "one batch, one spike";
  EXPECT_EQ(json(frames("triage", "channel.updated").back()).str("/data/channel/severity"), "sev1");
}

TEST_F(crisis_intelligence, spikes_can_be_off_for_a_channel) {
  opts_.spike_channels["triage"] = opts_.spike;
  opts_.spike_channels["triage"].enabled = false;
  steady(12, "a");
  for (int i = 0; i < 12; ++i) {
    now_ += 1s;
    push_on(svc_, "https://x.com/burst/" + std::to_string(i));
  }
  scan();
  EXPECT_EQ(count("triage", "channel.spike"), 0u);
}

TEST_F(crisis_intelligence, a_repeat_whose_reach_jumps_raises_the_alerts_severity) {
  opts_.viral = {10.0, 10000};
  auto id = push_on(svc_, "https://x.com/viral/1", 2000);
  auto again =
      run("alert.push",
          alert_frame("https://x.com/viral/1", "sev3", "x", R"(,"metrics":{"reach":30000})"), bot_);
  ASSERT_TRUE(again.ok) << again.message;
  EXPECT_EQ(json(again.json).flag("/viral"), true);
  EXPECT_EQ(json(again.json).flag("/severity_raised"), true);
  auto updated = frames("triage", "alert.updated");
  ASSERT_EQ(updated.size(), 1u);
  json u(updated[0]);
  EXPECT_EQ(u.str("/data/alert/id"), id);
  EXPECT_EQ(u.str("/data/alert/severity"), "sev2");
  EXPECT_EQ(u.num("/data/alert/reach_jumps"), 1);
  EXPECT_EQ(u.flag("/data/viral"), true);
  EXPECT_EQ(u.flag("/data/severity_raised"), true);
  auto small =
      run("alert.push",
          alert_frame("https://x.com/viral/1", "sev3", "x", R"(,"metrics":{"reach":40000})"), bot_);
  EXPECT_EQ(json(small.json).flag("/viral"), false);
}

}  // namespace

namespace {

// A crisis channel whose replies need approval, with one alert Ana holds.
class reply_approval : public crisis_service {
 protected:
  reply_approval() {
    create_channel("crisis.a");
    set_approval(R"({"required":true})");
    alert_ = push_into("crisis.a", "https://x.com/brand/status/1");
    auto c = act("alert.claim", alert_, ana_, "crisis.a");
    EXPECT_TRUE(c.ok) << c.message;
  }
  void set_approval(std::string_view approval) {
    auto r = run("channel.update",
                 R"({"id":1,"op":"channel.update","channel":"crisis.a","approval":)" +
                     std::string(approval) + "}",
                 lea_);
    ASSERT_TRUE(r.ok) << r.message;
  }
  std::string push_into(std::string_view channel, std::string_view url,
                        std::string_view sev = "sev3") {
    auto r = run("alert.push",
                 alert_frame(url, sev, "x", ",\"channel\":\"" + std::string(channel) + "\""), bot_);
    EXPECT_TRUE(r.ok) << r.message;
    return json(r.json).str("/alert/id");
  }
  result propose(const actor& who, std::string_view extra, const std::string& id = {}) {
    return run("alert.propose",
               R"({"id":1,"op":"alert.propose","channel":"crisis.a","alert":")" +
                   (id.empty() ? alert_ : id) + "\"" + std::string(extra) + "}",
               who);
  }
  result decide(std::string_view op, const std::string& proposal, std::string_view extra = "") {
    return run(op,
               R"({"id":1,"op":")" + std::string(op) + R"(","channel":"crisis.a","alert":")" +
                   alert_ + R"(","proposal":")" + proposal + "\"" + std::string(extra) + "}",
               lea_);
  }
  result respond(const actor& who, std::string_view extra, const std::string& id = {}) {
    return run("alert.respond",
               R"({"id":1,"op":"alert.respond","channel":"crisis.a","alert":")" +
                   (id.empty() ? alert_ : id) + "\"" + std::string(extra) + "}",
               who);
  }
  std::string alert_;
};

TEST_F(reply_approval, only_an_approved_reply_is_recorded_and_every_step_is_in_the_timeline) {
  auto early = respond(ana_, R"(,"reply_url":"https://x.com/r/1")");
  EXPECT_EQ(early.code, errc::approval_required);
  EXPECT_EQ(early.message, "alert " + alert_ + " needs an approved reply first (alert.propose)");

  auto stranger = propose(ben_, R"(,"text":"Sorry")");
  EXPECT_EQ(stranger.code, errc::forbidden);
  EXPECT_EQ(stranger.message, "only the holder of alert " + alert_ + " may propose a reply to it");

  auto p1 = propose(ana_, R"(,"text":"We are sorry")");
  ASSERT_TRUE(p1.ok) << p1.message;
  json j1(p1.json);
  auto id1 = j1.str("/proposal/id");
  EXPECT_EQ(j1.str("/proposal/state"), "pending");
  EXPECT_EQ(j1.str("/alert/proposals/0/id"), id1);
  EXPECT_EQ(respond(ana_, R"(,"reply_url":"https://x.com/r/1")").message,
            "proposal " + id1 + " of alert " + alert_ + " is still waiting for approval");

  auto queue = run("approval.list", cmd("approval.list", {{"channel", "crisis.a"}}), lea_);
  ASSERT_TRUE(queue.ok) << queue.message;
  EXPECT_EQ(json(queue.json).size("/proposals"), 1u);
  EXPECT_EQ(json(queue.json).str("/proposals/0/proposal/id"), id1);

  EXPECT_EQ(decide("alert.approve", "p-nope").code, errc::not_found);
  EXPECT_EQ(decide("alert.approve", "p-nope").message, "no proposal p-nope on alert " + alert_);
  auto no_comment = decide("alert.reject", id1);
  EXPECT_EQ(no_comment.code, errc::bad_request);
  EXPECT_EQ(no_comment.message, "comment is required");
  auto rejected = decide("alert.reject", id1, R"(,"comment":"Too vague")");
  ASSERT_TRUE(rejected.ok) << rejected.message;
  EXPECT_EQ(json(rejected.json).str("/proposal/state"), "rejected");
  EXPECT_EQ(decide("alert.approve", id1).message, "proposal " + id1 + " is rejected");

  auto p2 = propose(ana_, R"(,"text":"We are sorry; DM us","url":"https://brand.example/help")");
  ASSERT_TRUE(p2.ok);
  auto id2 = json(p2.json).str("/proposal/id");
  auto approved = decide("alert.approve", id2, R"(,"text":"We are sorry. Please DM us.")");
  ASSERT_TRUE(approved.ok) << approved.message;
  EXPECT_EQ(json(approved.json).flag("/proposal/edited"), true);
  EXPECT_EQ(json(approved.json).str("/proposal/decided_by/user"), "lead-1");
  auto differs = respond(ana_, R"(,"reply_text":"Something else")");
  EXPECT_EQ(differs.code, errc::approval_required);
  auto ok = respond(ana_, R"(,"reply_url":"https://x.com/r/2")");
  ASSERT_TRUE(ok.ok) << ok.message;
  EXPECT_EQ(json(ok.json).str("/alert/reply_text"), "We are sorry. Please DM us.");
  EXPECT_EQ(json(ok.json).str("/alert/reply_url"), "https://x.com/r/2");

  std::vector<std::string> steps;
  for (auto& e : events("crisis.a"))
    if (e.name.starts_with("alert.") && e.name != "alert.new" && e.name != "alert.claimed")
      steps.push_back(e.name);
  EXPECT_EQ(steps, (std::vector<std::string>{"alert.proposed", "alert.rejected", "alert.proposed",
                                             "alert.approved", "alert.responded"}));
  json ev(frames("crisis.a", "alert.rejected")[0]);
  EXPECT_EQ(ev.str("/data/proposal/comment"), "Too vague");
  EXPECT_EQ(ev.str("/data/by/user"), "lead-1");
}

TEST_F(reply_approval, proposing_refusals_change_nothing) {
  EXPECT_EQ(propose(ana_, "").message, "text or url or template is required");
  EXPECT_EQ(propose(ana_, R"j(,"url":"javascript:alert(1)")j").message,
            "url must be an http or https URL");
  EXPECT_EQ(propose(ana_, R"(,"template":"nope")").code, errc::not_found);
  auto other = push_into("crisis.a", "https://x.com/brand/status/2");
  EXPECT_EQ(propose(ana_, R"(,"text":"x")", other).code, errc::invalid_state) << "not claimed";
  EXPECT_EQ(propose(ana_, R"(,"text":"x")", "a-missing").code, errc::not_found);
  EXPECT_EQ(count("crisis.a", "alert.proposed"), 0u);
}

TEST_F(reply_approval, a_template_reply_is_approved_at_once) {
  auto put = run("template.put",
                 cmd("template.put", {{"channel", "crisis.a"},
                                      {"name", "apology"},
                                      {"title", "Apology"},
                                      {"text", "Sorry, please DM us."}}),
                 lea_);
  ASSERT_TRUE(put.ok) << put.message;
  auto p = propose(ana_, R"(,"template":"apology")");
  ASSERT_TRUE(p.ok) << p.message;
  EXPECT_EQ(json(p.json).str("/proposal/state"), "approved");
  EXPECT_EQ(json(p.json).flag("/proposal/auto"), true);
  EXPECT_EQ(json(p.json).str("/proposal/text"), "Sorry, please DM us.");
  EXPECT_EQ(count("crisis.a", "alert.approved"), 1u);
  EXPECT_TRUE(respond(ana_, R"(,"reply_url":"https://x.com/r/3")").ok);
  auto changed = propose(ana_, R"(,"template":"apology","text":"Sorry!")");
  EXPECT_EQ(changed.code, errc::invalid_state) << "responded: nothing more to propose";
}

TEST_F(reply_approval, a_proposal_is_withdrawn_when_the_alert_changes_hands) {
  auto p = propose(ana_, R"(,"text":"Sorry")");
  ASSERT_TRUE(p.ok);
  auto pid = json(p.json).str("/proposal/id");
  ASSERT_TRUE(act("alert.release", alert_, ana_, "crisis.a").ok);
  auto released = json(frames("crisis.a", "alert.released")[0]);
  EXPECT_EQ(released.str("/data/alert/proposals/0/state"), "withdrawn");
  ASSERT_TRUE(act("alert.claim", alert_, ben_, "crisis.a").ok);
  EXPECT_EQ(respond(ben_, R"(,"reply_url":"https://x.com/r/1")").message,
            "alert " + alert_ + " needs an approved reply first (alert.propose)");
  EXPECT_EQ(decide("alert.approve", pid).message, "proposal " + pid + " is withdrawn");
  EXPECT_EQ(decide("alert.reject", pid, R"(,"comment":"x")").code, errc::invalid_state);
  EXPECT_EQ(decide("alert.reject", "p-never", R"(,"comment":"x")").code, errc::not_found);
  auto queue = run("approval.list", cmd("approval.list", {{"channel", "crisis.a"}}), lea_);
  EXPECT_EQ(json(queue.json).size("/proposals"), 0u);
  now_ += 3600s;
  scan();
  EXPECT_EQ(count("crisis.a", "alert.approval_overdue"), 0u) << "nobody waits for it";
}

TEST_F(reply_approval, a_template_with_a_link_still_needs_a_lead) {
  run("template.put",
      cmd("template.put",
          {{"channel", "crisis.a"}, {"name", "apology"}, {"title", "A"}, {"text", "Sorry."}}),
      lea_);
  auto p = propose(ana_, R"(,"template":"apology","url":"https://example.com/anything")");
  ASSERT_TRUE(p.ok) << p.message;
  EXPECT_EQ(json(p.json).str("/proposal/state"), "pending");
}

TEST_F(reply_approval, an_edited_template_still_needs_a_lead) {
  run("template.put",
      cmd("template.put",
          {{"channel", "crisis.a"}, {"name", "apology"}, {"title", "A"}, {"text", "Sorry."}}),
      lea_);
  auto p = propose(ana_, R"(,"template":"apology","text":"Sorry. Also, refunds!")");
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(json(p.json).str("/proposal/state"), "pending");
  EXPECT_EQ(json(p.json).str("/proposal/template"), "apology");
}

TEST_F(reply_approval, a_proposal_pending_too_long_is_escalated_once) {
  opts_.approval_escalate_after = 300s;
  auto p = propose(ana_, R"(,"text":"Sorry")");
  ASSERT_TRUE(p.ok);
  now_ += 299s;
  scan();
  EXPECT_EQ(count("crisis.a", "alert.approval_overdue"), 0u);
  now_ += 1s;
  scan();
  scan();
  auto overdue = frames("crisis.a", "alert.approval_overdue");
  ASSERT_EQ(overdue.size(), 1u);
  EXPECT_EQ(json(overdue[0]).num("/data/waited_ms"), 300000);
  EXPECT_EQ(json(overdue[0]).flag("/data/proposal/overdue"), true);
  EXPECT_EQ(count("leads", "alert.approval_overdue"), 1u);
  EXPECT_EQ(metrics_.total(counter::approvals_overdue), 1u);
  EXPECT_TRUE(decide("alert.approve", json(p.json).str("/proposal/id")).ok)
      << "still decidable after the leads were told";
}

TEST_F(reply_approval, approval_applies_from_its_severity_up_and_not_to_leads) {
  set_approval(R"({"required":true,"min_severity":"sev2"})");
  EXPECT_TRUE(respond(ana_, R"(,"reply_url":"https://x.com/r/1")").ok) << "sev3 is below sev2";
  auto urgent = push_into("crisis.a", "https://x.com/brand/status/9", "sev1");
  ASSERT_TRUE(act("alert.claim", urgent, ana_, "crisis.a").ok);
  EXPECT_EQ(respond(ana_, R"(,"reply_url":"https://x.com/r/9")", urgent).code,
            errc::approval_required);
  EXPECT_TRUE(respond(lea_, R"(,"reply_url":"https://x.com/r/9")", urgent).ok)
      << "leads approve; they need no approval";
  auto bad = run(
      "channel.update",
      R"({"id":1,"op":"channel.update","channel":"crisis.a","approval":{"min_severity":"sev2"}})",
      lea_);
  EXPECT_EQ(bad.message, "approval.required is required");
}

// ---------------------------------------------------------------------------------------------
// Drills

TEST_F(reply_approval,
       a_drill_channel_marks_its_alerts_keeps_its_own_dedup_and_stays_out_of_stats) {
  auto created = run(
      "channel.create",
      R"({"id":1,"op":"channel.create","channel":"drill.one","title":"Drill","drill":true})", lea_);
  ASSERT_TRUE(created.ok) << created.message;
  EXPECT_EQ(json(created.json).flag("/channel/drill"), true);
  auto pushed = run(
      "alert.push",
      alert_frame("https://x.com/brand/status/1", "sev2", "x", R"(,"channel":"drill.one")"), bot_);
  ASSERT_TRUE(pushed.ok) << pushed.message;
  json a(pushed.json);
  EXPECT_EQ(a.flag("/deduplicated"), false) << "the real alert of that post is not touched";
  EXPECT_EQ(a.flag("/alert/drill"), true);
  EXPECT_EQ(a.str("/alert/channel"), "drill.one");
  EXPECT_EQ(json(frames("drill.one", "alert.new")[0]).flag("/data/alert/drill"), true);
  auto again = run(
      "alert.push",
      alert_frame("https://x.com/brand/status/1", "sev2", "x", R"(,"channel":"drill.one")"), bot_);
  EXPECT_EQ(json(again.json).flag("/deduplicated"), true) << "drills dedup among themselves";
  auto real = json(
      run("alert.get", cmd("alert.get", {{"channel", "crisis.a"}, {"alert", alert_}}), lea_).json);
  EXPECT_EQ(real.num("/alert/count"), 1);
  EXPECT_EQ(real.flag("/alert/drill"), false);

  auto all = json(run("stats", R"({"id":1,"op":"stats"})", lea_).json);
  EXPECT_EQ(all.column("/channels", "/channel"), (std::vector<std::string>{"crisis.a"}))
      << "real stats leave drills out";
  auto drill = json(run("stats", cmd("stats", {{"channel", "drill.one"}}), lea_).json);
  EXPECT_EQ(drill.flag("/channels/0/drill"), true);
  EXPECT_EQ(drill.num("/channels/0/alerts/total"), 1);
  EXPECT_EQ(metrics_.total(counter::drill_alerts), 1u);

  // Never over real work: not on a channel with events, nor on the server's own channels.
  auto busy =
      run("channel.create",
          R"({"id":1,"op":"channel.create","channel":"triage","title":"D","drill":true})", lea_);
  EXPECT_EQ(busy.code, errc::invalid_state);
  EXPECT_EQ(busy.message,
            "triage is one of the server's own channels; a drill needs a channel of its own");
  run("alert.push", alert_frame("https://x.com/x/status/5", "sev3", "x", R"(,"channel":"used")"),
      bot_);
  auto used =
      run("channel.create",
          R"({"id":1,"op":"channel.create","channel":"used","title":"D","drill":true})", lea_);
  EXPECT_EQ(used.code, errc::invalid_state);
  EXPECT_EQ(used.message, "channel used has events already; a drill needs a channel of its own");
  auto change = run("channel.update",
                    R"({"id":1,"op":"channel.update","channel":"drill.one","drill":false})", lea_);
  EXPECT_EQ(change.code, errc::bad_request);
  EXPECT_EQ(change.message, "drill can only be set by channel.create");
}

}  // namespace

namespace {

TEST_F(reply_approval, stats_give_approval_counts_and_delays) {
  auto p1 = json(propose(ana_, R"(,"text":"One")").json).str("/proposal/id");
  now_ += 60s;
  ASSERT_TRUE(decide("alert.reject", p1, R"(,"comment":"no")").ok);
  auto p2 = json(propose(ana_, R"(,"text":"Two")").json).str("/proposal/id");
  now_ += 120s;
  ASSERT_TRUE(decide("alert.approve", p2, R"(,"text":"Two, edited")").ok);
  auto s = json(run("stats", cmd("stats", {{"channel", "crisis.a"}}), lea_).json);
  EXPECT_EQ(s.num("/channels/0/approvals/proposed"), 2);
  EXPECT_EQ(s.num("/channels/0/approvals/approved"), 1);
  EXPECT_EQ(s.num("/channels/0/approvals/rejected"), 1);
  EXPECT_EQ(s.num("/channels/0/approvals/pending"), 0);
  EXPECT_EQ(s.num("/channels/0/approvals/edited"), 1);
  EXPECT_EQ(s.num("/channels/0/approvals/median_delay_ms"), 90000);
  EXPECT_EQ(s.num("/channels/0/approvals/p90_delay_ms"), 120000);
}

}  // namespace
