// Every fuzz target over its seeds and a bounded number of deterministic random mutations
// of them, in the ordinary suite (the sanitizer suite turns a memory error into a failure);
// the extraction of PROTOCOL.md's examples that seed them; inputs the fuzzers found.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <random>
#include <string>

#include "tests/fuzz/protocol_examples.hpp"
#include "tests/fuzz/targets.hpp"

namespace {

const std::string protocol_md = MUSTER_SOURCE_DIR "/protocol/PROTOCOL.md";

// Flips, inserts, deletes, duplicates and truncates bytes, a few times.
std::string mutate(std::string s, std::mt19937& rng) {
  std::uniform_int_distribution<int> op(0, 5), byte(0, 255), times(1, 4);
  for (int n = times(rng); n > 0; --n) {
    auto at = s.empty() ? 0 : std::uniform_int_distribution<std::size_t>(0, s.size() - 1)(rng);
    switch (op(rng)) {
      case 0:
        if (!s.empty()) s[at] = static_cast<char>(byte(rng));
        break;
      case 1:
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), static_cast<char>(byte(rng)));
        break;
      case 2:
        if (!s.empty()) s.erase(at, 1);
        break;
      case 3:
        s.insert(at, s.substr(at, 8));
        break;
      case 4:
        s.resize(at);
        break;
      default:
        s.insert(at, std::string(1, "{}[]\":,\\0"[byte(rng) % 9]));
    }
  }
  return s;
}

void run_mutations(const muster::fuzz::target& t, const std::string& seed, int count,
                   std::mt19937& rng) {
  t.run(seed);
  std::string s = seed;
  for (int i = 0; i < count; ++i) {
    s = i % 10 == 0 ? seed : mutate(s, rng);
    t.run(s);
  }
}

}  // namespace

TEST(fuzz_targets, survive_their_seeds_and_mutations_of_them) {
  std::mt19937 rng(20261201);
  for (const auto& t : muster::fuzz::targets()) {
    SCOPED_TRACE(std::string(t.name));
    t.run("");
    for (auto seed : t.seeds) run_mutations(t, std::string(seed), 300, rng);
  }
}

TEST(fuzz_targets, survive_the_protocol_examples_and_a_few_mutations_of_them) {
  std::mt19937 rng(20261202);
  auto examples = muster::fuzz::json_examples_of_file(protocol_md);
  ASSERT_FALSE(examples.empty());
  for (const auto& t : muster::fuzz::targets()) {
    if (!t.protocol_examples) continue;
    SCOPED_TRACE(std::string(t.name));
    for (const auto& e : examples) run_mutations(t, e, 10, rng);
  }
}

TEST(fuzz_targets, have_unique_names_and_seeds) {
  for (const auto& t : muster::fuzz::targets()) {
    EXPECT_EQ(muster::fuzz::find_target(t.name), &t);
    EXPECT_FALSE(t.seeds.empty()) << t.name;
    auto seeds = muster::fuzz::seeds_of(t, protocol_md);
    EXPECT_EQ(seeds.size() > t.seeds.size(), t.protocol_examples) << t.name;
  }
  EXPECT_EQ(muster::fuzz::find_target("no such target"), nullptr);
}

TEST(protocol_examples, are_read_from_json_blocks_and_curl_bodies) {
  auto got = muster::fuzz::json_examples(
      "Text {\"not\":1}\n"
      "```json\n"
      "{\"id\":1,\"op\":\"ping\"}\n"
      "{\"id\":1,\"result\":{}}\r\n"
      "```\n"
      "```json\n"
      "{\n"
      "  \"a\": [1,\n"
      "    2]\n"
      "}\n"
      "[1]\n"
      "```\n"
      "```toml\n"
      "{\"no\":1}\n"
      "```\n"
      "```sh\n"
      "curl -X POST http://h/api/v1/alerts \\\n"
      "  -d '{\"source\":\"x\"}'\n"
      "curl --data '{\"b\":2}' http://h/\n"
      "```\n"
      "```\n"
      "{\"bare\":1}\n"
      "```\n");
  std::vector<std::string> want = {"{\"id\":1,\"op\":\"ping\"}", "{\"id\":1,\"result\":{}}",
                                   "{\n  \"a\": [1,\n    2]\n}", "[1]",
                                   "{\"source\":\"x\"}",         "{\"b\":2}"};
  EXPECT_EQ(got, want);
  EXPECT_TRUE(muster::fuzz::json_examples("```json\n{\"unterminated\":").size() == 1);
  EXPECT_TRUE(muster::fuzz::json_examples_of_file("/no/such/file.md").empty());
}

// PROTOCOL.md's examples are the contract: each one (but the elided, with "…") is JSON, and the
// HTTP bodies of its curl examples are among them.
TEST(protocol_examples, of_protocol_md_are_json_and_include_the_http_bodies) {
  auto examples = muster::fuzz::json_examples_of_file(protocol_md);
  EXPECT_GT(examples.size(), 100u);
  simdjson::dom::parser parser;
  int commands = 0, pagerduty = 0;
  for (const auto& e : examples) {
    if (e.find("\xE2\x80\xA6") != std::string::npos) continue;  // "…"
    simdjson::dom::element doc;
    EXPECT_FALSE(parser.parse(e).get(doc)) << e;
    if (e.find("\"op\":") != std::string::npos) ++commands;
    if (e.find("\"event_action\":") != std::string::npos) ++pagerduty;
  }
  EXPECT_GT(commands, 30);
  EXPECT_GE(pagerduty, 2);
}
