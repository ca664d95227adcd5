// The reply approval state machine, fed inputs: who may propose, what a lead may decide, what a
// response must carry, and when a pending proposal is overdue.
#include "server/crisis/approval.hpp"

#include <gtest/gtest.h>

using namespace muster::server::crisis;
using namespace muster::server::crisis::approval;
using namespace std::chrono_literals;

namespace {

const person ana{"amb-a", "Ana"}, ben{"amb-b", "Ben"}, lea{"lead-1", "Lea"};

alert_record claimed_by(const person& p) {
  alert_record r;
  r.a.id = "a-1";
  r.channel = "crisis.a";
  r.a.status = alert_status::claimed;
  r.a.holder = p.user;
  r.holder_name = p.name;
  return r;
}

}  // namespace

TEST(approval, channels_require_it_from_a_severity_up) {
  channel_record ch;
  EXPECT_FALSE(required(ch, severity::sev1)) << "off by default";
  ch.approval_required = true;
  EXPECT_TRUE(required(ch, severity::sev4)) << "every severity";
  ch.approval_min_severity = severity::sev2;
  EXPECT_TRUE(required(ch, severity::sev1));
  EXPECT_TRUE(required(ch, severity::sev2));
  EXPECT_FALSE(required(ch, severity::sev3));
}

TEST(approval, only_the_holder_proposes_and_a_new_proposal_withdraws_the_pending_one) {
  auto r = claimed_by(ana);
  EXPECT_EQ(propose(r, ben, {"Sorry", "", "", false}, "p-0", 10), verdict::not_holder);
  auto open = r;
  open.a.status = alert_status::open;
  EXPECT_EQ(propose(open, ana, {"Sorry", "", "", false}, "p-0", 10), verdict::not_claimed);
  EXPECT_TRUE(r.proposals.empty()) << "nothing half-applied";
  EXPECT_EQ(propose(r, ana, {"Sorry", "", "", false}, "p-1", 10), verdict::ok);
  ASSERT_NE(pending(r), nullptr);
  EXPECT_EQ(pending(r)->id, "p-1");
  EXPECT_EQ(propose(r, ana, {"Sorry!", "https://x.com/r", "", false}, "p-2", 20), verdict::ok);
  EXPECT_EQ(r.proposals[0].state, "withdrawn");
  EXPECT_EQ(pending(r)->id, "p-2");
  EXPECT_EQ(approve(r, "p-1", lea, {}, {}, "", 30), verdict::decided) << "withdrawn";
}

TEST(approval, a_lead_approves_with_edits_or_rejects_and_only_pending_ones) {
  auto r = claimed_by(ana);
  EXPECT_EQ(approve(r, "p-9", lea, {}, {}, "", 5), verdict::unknown) << "never proposed";
  EXPECT_EQ(reject(r, "p-9", lea, "no", 5), verdict::unknown);
  ASSERT_EQ(propose(r, ana, {"We are sorry", "", "", false}, "p-1", 10), verdict::ok);
  EXPECT_EQ(reject(r, "p-1", lea, "Too vague", 40), verdict::ok);
  EXPECT_EQ(r.proposals[0].state, "rejected");
  EXPECT_EQ(r.proposals[0].comment, "Too vague");
  EXPECT_EQ(r.proposals[0].decided_at, 40);
  EXPECT_EQ(approve(r, "p-1", lea, {}, {}, "", 50), verdict::decided);
  ASSERT_EQ(propose(r, ana, {"We are sorry; DM us", "", "", false}, "p-2", 60), verdict::ok);
  EXPECT_EQ(approve(r, "p-2", lea, std::string("We are sorry. Please DM us."), {}, "tone", 70),
            verdict::ok);
  const auto& p = r.proposals.back();
  EXPECT_EQ(p.state, "approved");
  EXPECT_TRUE(p.edited);
  EXPECT_EQ(p.text, "We are sorry. Please DM us.");
  EXPECT_EQ(p.decided_by, lea);
  ASSERT_EQ(propose(r, ana, {"Same", "", "", false}, "p-3", 80), verdict::ok);
  EXPECT_FALSE(r.proposals.back().edited);
  ASSERT_EQ(approve(r, "p-3", lea, std::string("Same"), {}, "", 90), verdict::ok);
  EXPECT_FALSE(r.proposals.back().edited) << "the same text is no edit";
}

TEST(approval, a_proposal_whose_proposer_lost_the_alert_cannot_be_decided) {
  auto r = claimed_by(ana);
  ASSERT_EQ(propose(r, ana, {"Sorry", "", "", false}, "p-1", 10), verdict::ok);
  r.a.holder = ben.user;  // reassigned by a lead
  EXPECT_EQ(pending(r), nullptr);
  EXPECT_EQ(approve(r, "p-1", lea, {}, {}, "", 20), verdict::changed_hands);
  EXPECT_EQ(deadline(r, 300s), 0) << "nobody waits for it";
}

TEST(approval, a_proposal_is_withdrawn_when_its_proposer_no_longer_holds_the_alert) {
  auto r = claimed_by(ana);
  ASSERT_EQ(propose(r, ana, {"Sorry", "", "", false}, "p-1", 10), verdict::ok);
  withdraw_stale(r);
  EXPECT_EQ(r.proposals[0].state, "pending") << "still hers";
  r.a.holder = ben.user;
  withdraw_stale(r);
  EXPECT_EQ(r.proposals[0].state, "withdrawn");
  r.a.holder = ana.user;  // she claims it again: the old one stays withdrawn
  withdraw_stale(r);
  EXPECT_EQ(pending(r), nullptr);
  EXPECT_EQ(check_reply(r, "https://x.com/r", "").message,
            "alert a-1 needs an approved reply first (alert.propose)");
}

TEST(approval, a_template_reply_is_approved_at_once) {
  auto r = claimed_by(ana);
  ASSERT_EQ(propose(r, ana, {"Please DM us.", "", "apology-dm", true}, "p-1", 10), verdict::ok);
  const auto& p = r.proposals.back();
  EXPECT_EQ(p.state, "approved");
  EXPECT_TRUE(p.automatic);
  EXPECT_EQ(p.decided_by, (person{"muster", "muster"}));
  EXPECT_EQ(p.template_name, "apology-dm");
  EXPECT_TRUE(check_reply(r, "https://x.com/r/1", "").ok);
}

TEST(approval, only_the_approved_reply_may_be_recorded) {
  auto r = claimed_by(ana);
  auto none = check_reply(r, "https://x.com/r/1", "hi");
  EXPECT_FALSE(none.ok);
  EXPECT_EQ(none.message, "alert a-1 needs an approved reply first (alert.propose)");
  ASSERT_EQ(propose(r, ana, {"Sorry", "https://brand.example/faq", "", false}, "p-1", 10),
            verdict::ok);
  EXPECT_EQ(check_reply(r, "", "Sorry").message,
            "proposal p-1 of alert a-1 is still waiting for approval");
  ASSERT_EQ(reject(r, "p-1", lea, "no", 20), verdict::ok);
  EXPECT_EQ(check_reply(r, "", "Sorry").message,
            "proposal p-1 of alert a-1 was rejected; propose another");
  ASSERT_EQ(propose(r, ana, {"Sorry", "https://brand.example/faq", "", false}, "p-2", 30),
            verdict::ok);
  ASSERT_EQ(approve(r, "p-2", lea, {}, {}, "", 40), verdict::ok);
  EXPECT_EQ(check_reply(r, "", "Sorry, truly").message,
            "reply_text differs from the approved proposal p-2");
  auto ok = check_reply(r, "https://x.com/r/9", "");
  ASSERT_TRUE(ok.ok);
  EXPECT_EQ(ok.text, "Sorry") << "the approved text is recorded";
  EXPECT_EQ(ok.url, "https://x.com/r/9") << "where it was posted";
  EXPECT_EQ(check_reply(r, "", "Sorry").url, "https://brand.example/faq");
}

TEST(approval, a_pending_proposal_is_overdue_once_and_history_is_bounded) {
  auto r = claimed_by(ana);
  ASSERT_EQ(propose(r, ana, {"Sorry", "", "", false}, "p-1", 1000), verdict::ok);
  EXPECT_EQ(deadline(r, 300s), 301000);
  EXPECT_FALSE(mark_overdue(r, 300999, 300s));
  EXPECT_TRUE(mark_overdue(r, 301000, 300s));
  EXPECT_FALSE(mark_overdue(r, 400000, 300s)) << "once";
  EXPECT_EQ(deadline(r, 300s), 0);
  for (int i = 2; i < 30; ++i)
    ASSERT_EQ(propose(r, ana, {"v" + std::to_string(i), "", "", false}, "p-" + std::to_string(i),
                      1000 + i),
              verdict::ok);
  EXPECT_EQ(r.proposals.size(), max_proposals);
  EXPECT_EQ(r.proposals.back().id, "p-29");
  EXPECT_EQ(r.proposals.front().id, "p-20");
}
