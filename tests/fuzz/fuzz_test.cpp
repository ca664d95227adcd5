// Every fuzz target over its seeds and a bounded number of deterministic random mutations
// of them, in the ordinary suite (the sanitizer suite turns a memory error into a failure).
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "tests/fuzz/targets.hpp"

namespace {

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

}  // namespace

TEST(fuzz_targets, survive_their_seeds_and_mutations_of_them) {
  std::mt19937 rng(20261201);
  for (const auto& t : muster::fuzz::targets()) {
    SCOPED_TRACE(std::string(t.name));
    t.run("");
    for (auto seed : t.seeds) {
      t.run(seed);
      std::string s(seed);
      for (int i = 0; i < 300; ++i) {
        s = i % 10 == 0 ? std::string(seed) : mutate(s, rng);
        t.run(s);
      }
    }
  }
}
