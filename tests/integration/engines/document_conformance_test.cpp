// The documents concern of the engine contract, against every engine.
#include "tests/integration/engines/engine_fixture.hpp"

using namespace muster::server;
using namespace muster::test;
using namespace std::chrono_literals;

class document_conformance : public engine_fixture {};

TEST_P(document_conformance, commit_is_compare_and_set_and_appends_events_in_order) {
  publish("docs", R"({"n":1})");
  auto r = commit("docs", {{"alert:1", 0, R"({"s":"open"})"}, {"dedup:x", 0, "1"}},
                  {{"alert.new", R"({"alert":"1"})", {"c1", "bot"}}});
  ASSERT_TRUE(r.applied);
  EXPECT_EQ(r.versions, (std::vector<std::uint64_t>{1, 1}));
  EXPECT_EQ(r.offsets, (std::vector<std::uint64_t>{2}));
  EXPECT_FALSE(r.epoch.empty());

  // A second writer expecting "absent" loses and learns the current value.
  auto lost = commit("docs", {{"alert:1", 0, R"({"s":"other"})"}},
                     {{"alert.new", R"({"alert":"1"})", {"c2", "bot"}}});
  EXPECT_FALSE(lost.applied);
  ASSERT_EQ(lost.current.size(), 1u);
  EXPECT_EQ(lost.current[0].value, R"({"s":"open"})");
  EXPECT_EQ(lost.current[0].version, 1u);

  // All-or-nothing: one failed expectation applies none of the writes.
  auto partial = commit("docs", {{"dedup:x", 1, "2"}, {"alert:1", 7, "{}"}});
  EXPECT_FALSE(partial.applied);
  auto docs = read_docs("docs", {"dedup:x", "alert:1", "missing"});
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0].value, "1");
  EXPECT_EQ(docs[0].version, 1u);
  EXPECT_EQ(docs[1].version, 1u);
  EXPECT_EQ(docs[2].version, 0u);
  EXPECT_EQ(docs[2].key, "missing");

  auto claimed = commit("docs", {{"alert:1", 1, R"({"s":"claimed"})"}},
                        {{"alert.claimed", R"({"alert":"1"})", {"c3", "amy"}},
                         {"alert.escalated", R"({"alert":"1","step":1})", {"c3", "amy"}}});
  ASSERT_TRUE(claimed.applied);
  EXPECT_EQ(claimed.versions, (std::vector<std::uint64_t>{2}));
  EXPECT_EQ(claimed.offsets, (std::vector<std::uint64_t>{3, 4}));
  auto any = commit("docs", {{"alert:1", doc_write::any, R"({"s":"resolved"})"}});
  ASSERT_TRUE(any.applied);
  EXPECT_EQ(any.versions, (std::vector<std::uint64_t>{3}));

  // The events are stream entries like messages: in history, with their own event names.
  auto h = history("docs", 0, 10);
  ASSERT_EQ(offsets(h), (std::vector<std::uint64_t>{1, 2, 3, 4}));
  EXPECT_NE(h.publications[1].frame->find(R"("event":"alert.new")"), std::string::npos);
  EXPECT_NE(h.publications[1].frame->find(R"("data":{"alert":"1"})"), std::string::npos);
  EXPECT_NE(h.publications[2].frame->find(R"("event":"alert.claimed")"), std::string::npos);
  EXPECT_NE(h.publications[2].frame->find(R"("name":"amy")"), std::string::npos);

  // Deleting: an empty value removes the document.
  ASSERT_TRUE(commit("docs", {{"dedup:x", 1, ""}}).applied);
  EXPECT_EQ(read_docs("docs", {"dedup:x"})[0].version, 0u);
}

TEST_P(document_conformance, list_docs_by_prefix_in_key_order) {
  commit("lst", {{"alert:b", 0, "2"}, {"alert:a", 0, "1"}, {"guidance:z", 0, "3"}});
  commit("lst", {{"alertx", 0, "4"}});
  auto l = list_docs("lst", "alert:");
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].key, "alert:a");
  EXPECT_EQ(l[0].value, "1");
  EXPECT_EQ(l[0].version, 1u);
  EXPECT_EQ(l[1].key, "alert:b");
  EXPECT_TRUE(list_docs("lst", "nothing:").empty());
  EXPECT_EQ(list_docs("other", "alert:").size(), 0u);
}

TEST_P(document_conformance, retention_set_by_commit_keeps_more_than_history_size) {
  // SetUp made history_size 5; a channel given a larger retention keeps its whole timeline.
  commit("timeline", {{"meta", 0, "{}"}}, {}, retention{100, std::chrono::seconds(3600)});
  for (int i = 0; i < 20; ++i) publish("timeline", std::to_string(i));
  auto h = history("timeline", 0, 100);
  EXPECT_EQ(h.publications.size(), 20u);
  EXPECT_EQ(h.first_offset, 1u);
  for (int i = 0; i < 20; ++i) publish("plain", std::to_string(i));
  EXPECT_EQ(history("plain", 0, 100).publications.size(), 5u);
}

INSTANTIATE_TEST_SUITE_P(engines, document_conformance, engine_kinds, engine_name);
