// How `muster tail`, `chat` and `timeline --format text` show events: one line per event type,
// fed events as the server sends them.
#include "clients/cli/render.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

using namespace muster;
using namespace muster::cli;

namespace {

client::server_message event(const std::string& raw) {
  client::frame_parser parser;
  auto messages = parser.parse(raw);
  EXPECT_EQ(messages.size(), 1u);
  return messages.at(0);
}

// An event of `name` in `channel` with `data`, sent by Ana at 2026-01-01T09:00:42Z.
std::string line(const std::string& name, const std::string& data,
                 const std::string& channel = "triage", const render_options& o = {}) {
  return render_event(
      event(
          R"({"event":")" + name + R"(","channel":")" + channel +
          R"(","offset":4,"epoch":"9f1c2a7e","ts":1767258042000,"sender":{"client":"k-0-1","name":"Ana"},"data":)" +
          data + "}"),
      o);
}

const std::string ana = R"({"user":"amb-12","name":"Ana"})";
const std::string lena = R"({"user":"lena","name":"Lena Park"})";

std::string alert(const std::string& status, const std::string& holder = "null",
                  const std::string& extra = "") {
  // `extra` first: of two equal keys the reader takes the first.
  return "{" + extra.substr(extra.empty() ? 0 : 1) + (extra.empty() ? "" : ",") +
         R"("id":"a-1b2c","channel":"triage","channels":["triage"],"status":")" + status +
         R"(","source":"x","url":"https://x.com/kettlefan/status/1","author":"@kettlefan","text":"My KX-200 caught fire","severity":"sev1","metrics":{"reach":0,"engagement":0},"holder":)" +
         holder + R"(,"count":1,"drill":false})";
}

const std::string guidance =
    R"({"id":"g-77","channel":"crisis.x","kind":"holding_statement","title":"Title","body":"b","by":{"user":"lena","name":"Lena"},"version":2,"changes":"Recall is official","ack_within_s":0})";

}  // namespace

TEST(render, alert_events) {
  EXPECT_EQ(line("alert.new", R"({"alert":)" + alert("new") + "}"),
            R"([triage] ALERT sev1 x @kettlefan "My KX-200 caught fire" → a-1b2c (new))");
  EXPECT_EQ(line("alert.new",
                 R"({"alert":)" + alert("new", "null", R"(,"metrics":{"reach":2400000})") + "}",
                 "crisis.exec"),
            "[crisis.exec] ALERT sev1 x @kettlefan \"My KX-200 caught fire\" reach 2.4M → a-1b2c "
            "(new, home triage)");
  EXPECT_EQ(line("alert.updated", R"({"alert":)" + alert("new", "null", R"(,"count":3)") +
                                      R"(,"by":)" + ana + R"(,"severity_raised":true})"),
            "[triage] UPDATED a-1b2c: 3 triggers, sev1 (severity raised)");
  EXPECT_EQ(line("alert.claimed", R"({"alert":)" + alert("claimed", ana) + R"(,"by":)" + ana + "}"),
            "[triage] CLAIMED a-1b2c by Ana");
  EXPECT_EQ(line("alert.released", R"({"alert":)" + alert("new") + R"(,"by":)" + ana +
                                       R"(,"reason":"released","previous":)" + ana + "}"),
            "[triage] RELEASED a-1b2c by Ana");
  EXPECT_EQ(line("alert.released",
                 R"({"alert":)" + alert("new") +
                     R"(,"by":{"user":"muster","name":"muster"},"reason":"expired","previous":)" +
                     ana + "}"),
            "[triage] RELEASED a-1b2c (claim of Ana expired)");
  EXPECT_EQ(line("alert.assigned", R"({"alert":)" +
                                       alert("claimed", R"({"user":"amb-7","name":"Omar"})") +
                                       R"(,"by":)" + lena + R"(,"previous":)" + ana + "}"),
            "[triage] ASSIGNED a-1b2c to Omar by Lena Park (was Ana)");
  EXPECT_EQ(line("alert.assigned", R"({"alert":)" + alert("claimed", ana) + R"(,"by":)" + lena +
                                       R"(,"previous":null})"),
            "[triage] ASSIGNED a-1b2c to Ana by Lena Park");
  EXPECT_EQ(line("alert.noted", R"({"alert":)" + alert("claimed", ana) + R"(,"by":)" + ana +
                                    R"(,"note":{"id":"n-1","text":"refund\nin progress"}})"),
            R"([triage] NOTE on a-1b2c by Ana: "refund in progress")");
  EXPECT_EQ(line("alert.responded",
                 R"({"alert":)" +
                     alert("responded", ana,
                           R"(,"reply_url":"https://x.com/brand/status/2","reply_text":"Sorry")") +
                     R"(,"by":)" + ana + "}"),
            R"([triage] RESPONDED a-1b2c by Ana: https://x.com/brand/status/2 "Sorry")");
  EXPECT_EQ(
      line("alert.resolved", R"({"alert":)" + alert("resolved", ana) + R"(,"by":)" + ana + "}"),
      "[triage] RESOLVED a-1b2c by Ana");
  EXPECT_EQ(line("alert.dismissed", R"({"alert":)" + alert("dismissed") + R"(,"by":)" + lena + "}"),
            "[triage] DISMISSED a-1b2c by Lena Park");
  EXPECT_EQ(line("alert.escalated",
                 R"({"alert":)" + alert("new") +
                     R"(,"by":{"user":"muster","name":"muster"},"step":1,"reason":"unclaimed"})"),
            R"([triage] ESCALATED a-1b2c step 1 (unclaimed) sev1 "My KX-200 caught fire")");
  EXPECT_EQ(line("alert.escalated",
                 R"({"alert":)" + alert("claimed", ana) + R"(,"step":2,"reason":"no_response"})",
                 "leads"),
            "[leads] ESCALATED a-1b2c step 2 (no_response) sev1 \"My KX-200 caught fire\" held "
            "by Ana");
  EXPECT_EQ(
      line(
          "alert.activity",
          R"({"alert":"a-1b2c","user":"amb-12","name":"Ana","client":"k","state":"drafting","since":1,"expires_at":2})"),
      "[triage] ACTIVITY a-1b2c: Ana drafting");
  EXPECT_EQ(
      line(
          "alert.activity",
          R"({"alert":"a-1b2c","user":"amb-12","name":"Ana","client":"k","state":"none","since":1,"expires_at":0})"),
      "[triage] ACTIVITY a-1b2c: Ana left");
}

TEST(render, approval_events) {
  auto prop = [](const std::string& p) {
    return R"({"alert":)" + alert("claimed", ana) + R"(,"by":)" + lena + R"(,"proposal":)" + p +
           "}";
  };
  EXPECT_EQ(
      line("alert.proposed",
           R"({"alert":)" + alert("claimed", ana) + R"(,"by":)" + ana +
               R"(,"proposal":{"id":"p-1","text":"We're sorry; DM us","url":"","template":""}})"),
      R"([triage] PROPOSED reply to a-1b2c by Ana: "We're sorry; DM us")");
  EXPECT_EQ(
      line(
          "alert.approved",
          prop(R"({"id":"p-1","text":"Sorry","url":"","template":"","edited":true,"auto":false})")),
      R"([triage] APPROVED reply to a-1b2c by Lena Park (edited): "Sorry")");
  EXPECT_EQ(
      line(
          "alert.approved",
          prop(
              R"({"id":"p-1","text":"Sorry","url":"","template":"apology","edited":false,"auto":true})")),
      R"([triage] APPROVED reply to a-1b2c by template apology: "Sorry")");
  EXPECT_EQ(line("alert.rejected", prop(R"({"id":"p-1","text":"Sorry","comment":"too casual"})")),
            R"([triage] REJECTED reply to a-1b2c by Lena Park: "too casual")");
  EXPECT_EQ(
      line(
          "alert.approval_overdue",
          R"({"alert":)" + alert("claimed", ana) +
              R"(,"proposal":{"id":"p-1","text":"x","by":{"user":"amb-12","name":"Ana"}},"waited_ms":360000})",
          "leads"),
      "[leads] APPROVAL OVERDUE a-1b2c: reply by Ana waited 6m");
}

TEST(render, channel_events) {
  std::string ch =
      R"({"channel":"crisis.x","title":"Kettle recall","severity":"sev2","status":"monitoring","drill":false,"approval":{"required":true,"min_severity":null}})";
  EXPECT_EQ(line("channel.created", R"({"channel":)" + ch + R"(,"by":)" + lena + "}", "crisis.x"),
            R"([crisis.x] CHANNEL created "Kettle recall" sev2 monitoring by Lena Park)");
  EXPECT_EQ(line("channel.updated",
                 R"({"channel":)" + ch + R"(,"changed":["status","approval"],"by":)" + lena + "}",
                 "crisis.x"),
            "[crisis.x] CHANNEL updated status monitoring, approval required by Lena Park");
  // The channel list feed names the channel the change is about.
  EXPECT_EQ(line("channel.updated",
                 R"({"channel":)" + ch + R"(,"changed":["title"],"by":)" + lena + "}", "_channels"),
            R"([crisis.x] CHANNEL updated title "Kettle recall" by Lena Park)");
  std::string drill =
      R"({"channel":"drill.k","title":"Drill","severity":"sev3","status":"open","drill":true})";
  EXPECT_EQ(line("channel.created", R"({"channel":)" + drill + R"(,"by":)" + lena + "}", "drill.k"),
            R"([drill.k] CHANNEL created "Drill" sev3 open by Lena Park [drill])");
  EXPECT_EQ(
      line(
          "channel.spike",
          R"({"channel":"crisis.x","drill":false,"at":1,"rate":72,"baseline_rate":4.5,"factor":14.4,"reach_rate":2400000,"baseline_reach_rate":90000,"reach_factor":26.7,"by_reach":false,"alerts_in_window":12,"window_s":600,"baseline_s":43200,"top":[{"id":"a-9","url":"u","author":"@angry","reach":250000,"severity":"sev2"}],"severity_raised":true})",
          "crisis.x"),
      "[crisis.x] SPIKE 12 alerts in 10m, 14.4x the usual rate; top a-9 @angry reach 250k "
      "(severity raised)");
}

TEST(render, guidance_and_template_events) {
  std::string posted = guidance;
  posted.replace(posted.find(R"("version":2)"), 11, R"("version":1)");
  EXPECT_EQ(line("guidance.posted", R"({"guidance":)" + posted + "}", "crisis.x"),
            R"([crisis.x] GUIDANCE holding_statement v1 "Title" by Lena → g-77)");
  EXPECT_EQ(
      line("guidance.revised", R"({"guidance":)" + guidance + R"(,"by":)" + lena + "}", "crisis.x"),
      "[crisis.x] GUIDANCE holding_statement v2 \"Title\" by Lena Park → g-77 (revised: "
      "\"Recall is official\")");
  EXPECT_EQ(
      line(
          "guidance.acked",
          R"({"guidance":"g-77","kind":"holding_statement","user":"amb-12","name":"Ana","at":1,"delay_ms":45000,"version":2})",
          "crisis.x"),
      "[crisis.x] ACKED holding_statement v2 g-77 by Ana after 45s");
  std::string pending =
      R"(,"pending":[{"user":"amb-7","name":"Omar","since":1},{"user":"bo","name":"","since":1}],"as_of":2})";
  EXPECT_EQ(line("guidance.reminder", R"({"guidance":)" + guidance + pending, "crisis.x"),
            R"([crisis.x] REMINDER g-77 "Title": 2 pending (Omar, bo))");
  EXPECT_EQ(line("guidance.overdue", R"({"guidance":)" + guidance + pending, "leads"),
            R"([leads] OVERDUE g-77 "Title": 2 pending (Omar, bo))");
  EXPECT_EQ(line("template.updated",
                 R"({"name":"apology-dm","template":{"name":"apology-dm"},"by":)" + lena + "}",
                 "crisis.x"),
            "[crisis.x] TEMPLATE apology-dm updated by Lena Park");
  EXPECT_EQ(line("template.deleted", R"({"name":"apology-dm","by":)" + lena + "}", "crisis.x"),
            "[crisis.x] TEMPLATE apology-dm deleted by Lena Park");
}

TEST(render, messages_presence_and_the_unknown) {
  EXPECT_EQ(line("message", R"({"text":"I'll take this one"})", "ops"),
            "[ops #4] Ana: I'll take this one");
  EXPECT_EQ(line("message", R"({"lat":1})", "ops"), R"([ops #4] Ana: {"lat":1})");
  EXPECT_EQ(
      render_event(event(
          R"({"event":"join","channel":"ops","client":"k","name":"amb-12","user":"amb-12"})")),
      "* amb-12 joined ops");
  EXPECT_EQ(render_event(event(R"({"event":"unsubscribed","channel":"ops","reason":"gap"})")),
            "[ops] UNSUBSCRIBED (gap)");
  // Unknown events and crisis events whose data is not an object: the raw line.
  std::string raw =
      R"({"event":"alert.teleported","channel":"ops","offset":1,"epoch":"e","ts":1,"sender":{"client":"c","name":"n"},"data":{}})";
  EXPECT_EQ(render_event(event(raw)), raw);
  std::string odd =
      R"({"event":"alert.claimed","channel":"ops","offset":1,"epoch":"e","ts":1,"sender":{"client":"c","name":"n"},"data":"x"})";
  EXPECT_EQ(render_event(event(odd)), odd);
}

TEST(render, timestamps_are_local_clock_time) {
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  render_options o;
  o.timestamps = true;
  EXPECT_EQ(line("alert.claimed", R"({"alert":)" + alert("claimed", ana) + R"(,"by":)" + ana + "}",
                 "triage", o),
            "09:00:42 [triage] CLAIMED a-1b2c by Ana");
  EXPECT_EQ(local_clock(0), "00:00:00");
}

TEST(render, counts_durations_lines_and_tables) {
  EXPECT_EQ(format_count(0), "0");
  EXPECT_EQ(format_count(950), "950");
  EXPECT_EQ(format_count(1000), "1k");
  EXPECT_EQ(format_count(2450), "2.4k");
  EXPECT_EQ(format_count(12000), "12k");
  EXPECT_EQ(format_count(999999), "999k");
  EXPECT_EQ(format_count(2400000), "2.4M");
  EXPECT_EQ(format_count(1200000000), "1.2B");
  EXPECT_EQ(format_duration(-1), "-");
  EXPECT_EQ(format_duration(45000), "45s");
  EXPECT_EQ(format_duration(12 * 60000 + 5), "12m");
  EXPECT_EQ(format_duration(3 * 3600000), "3h");
  EXPECT_EQ(format_duration(2 * 86400000LL), "2d");
  EXPECT_EQ(one_line("short", 60), "short");
  EXPECT_EQ(one_line("a\nb\tc", 60), "a b c");
  EXPECT_EQ(one_line("abcdef", 4), "abc…");
  EXPECT_EQ(one_line("ééééé", 3), "éé…");  // cut between characters, never inside one
  EXPECT_EQ(format_table({{"ID", "WHO"}, {"a-1", "Zoë"}, {"a-22", "-"}}),
            "ID    WHO\na-1   Zoë\na-22  -\n");
}
