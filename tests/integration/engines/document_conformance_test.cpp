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

TEST_P(document_conformance, a_commit_writes_other_channels_documents_atomically_where_it_can) {
  if (!eng->linked_writes()) {
    // Redis: a write to another channel is refused whole, nothing stored.
    std::error_code refused;
    await<bool>([&](auto set) {
      eng->commit("home", {{"alert:1", 0, "{}"}, {"ptr:x", 0, "home", false, "pointers"}}, {},
                  std::nullopt, [set, &refused](std::error_code ec, commit_result) {
                    refused = ec;
                    set(true);
                  });
    });
    EXPECT_TRUE(refused);
    EXPECT_EQ(read_docs("home", {"alert:1"})[0].version, 0u);
    return;
  }
  auto r = commit("home", {{"alert:1", 0, "{}"}, {"ptr:x", 0, "home", false, "pointers"}},
                  {{"alert.new", R"({"alert":"1"})", {"c1", "bot"}}});
  ASSERT_TRUE(r.applied);
  EXPECT_EQ(r.versions, (std::vector<std::uint64_t>{1, 1}));
  EXPECT_EQ(r.offsets, (std::vector<std::uint64_t>{1}));
  auto ptr = read_docs("pointers", {"ptr:x"});
  EXPECT_EQ(ptr[0].value, "home");
  EXPECT_EQ(ptr[0].version, 1u);
  // A failed expectation in the other channel applies nothing anywhere.
  auto lost = commit("home", {{"alert:2", 0, "{}"}, {"ptr:x", 0, "elsewhere", false, "pointers"}},
                     {{"alert.new", R"({"alert":"2"})", {"c1", "bot"}}});
  EXPECT_FALSE(lost.applied);
  ASSERT_EQ(lost.current.size(), 2u);
  EXPECT_EQ(lost.current[1].value, "home");
  EXPECT_EQ(lost.current[1].version, 1u);
  EXPECT_EQ(read_docs("home", {"alert:2"})[0].version, 0u);
  EXPECT_EQ(offsets(history("home", 0, 10)), (std::vector<std::uint64_t>{1}));
  EXPECT_TRUE(history("pointers", 0, 10).publications.empty()) << "events stay in the commit's";
  // Deleting there, and a write to the commit's own channel in the same breath.
  ASSERT_TRUE(
      commit("home", {{"ptr:x", 1, "", false, "pointers"}, {"alert:1", 1, R"({"s":1})"}}).applied);
  EXPECT_EQ(read_docs("pointers", {"ptr:x"})[0].version, 0u);
  EXPECT_EQ(read_docs("home", {"alert:1"})[0].version, 2u);
}

TEST_P(document_conformance, a_commit_changes_indexes_with_its_documents_where_it_can) {
  auto commit_idx = [&](std::vector<doc_write> w, std::vector<index_write> idx) {
    std::pair<std::error_code, commit_result> out;
    await<bool>([&](auto set) {
      eng->commit_with_indexes("home", std::move(w), {}, std::nullopt, std::move(idx),
                               [set, &out](std::error_code ec, commit_result r) {
                                 out = {ec, std::move(r)};
                                 set(true);
                               });
    });
    return out;
  };
  if (!eng->linked_writes()) {
    auto [ec, r] = commit_idx({{"alert:1", 0, "{}"}}, {{"due", "home 1", 100}});
    EXPECT_TRUE(ec) << "refused whole";
    EXPECT_EQ(read_docs("home", {"alert:1"})[0].version, 0u);
    EXPECT_TRUE(index_range("due", 1000, 10).empty());
    return;
  }
  index_op(true, "due", "home 0", 50);
  auto [ec, r] =
      commit_idx({{"alert:1", 0, "{}"}}, {{"due", "home 1", 100}, {"due", "home 0", {}}});
  ASSERT_FALSE(ec);
  ASSERT_TRUE(r.applied);
  auto due = index_range("due", 1000, 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0], (std::pair<std::string, std::int64_t>{"home 1", 100}));
  // A lost compare-and-set changes no index either.
  auto [ec2, lost] = commit_idx({{"alert:1", 0, "{}"}}, {{"due", "home 1", 900}});
  ASSERT_FALSE(ec2);
  EXPECT_FALSE(lost.applied);
  EXPECT_EQ(index_range("due", 1000, 10)[0].second, 100);
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
