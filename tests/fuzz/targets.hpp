#pragma once
// Fuzz targets, one per parser of untrusted input: each takes any bytes and must neither crash,
// hang nor leak. Built as libFuzzer binaries with clang (`bash .ci/fuzz`), and run by the unit
// suite over their seeds and bounded random mutations of them. Plain functions; one thread each.
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace muster::fuzz {

struct target {
  std::string_view name;
  void (*run)(std::string_view input);
  std::vector<std::string_view> seeds;  // well-formed inputs the mutations start from
  bool protocol_examples = false;       // PROTOCOL.md's JSON examples are seeds too
};

/// Every target, by name.
std::span<const target> targets();

/// The target called `name`, or null.
const target* find_target(std::string_view name);

/// A target's seeds: its own, then (protocol_examples) the JSON examples of `protocol_md`,
/// the path of protocol/PROTOCOL.md.
std::vector<std::string> seeds_of(const target& t, const std::string& protocol_md);

}  // namespace muster::fuzz
