#pragma once
// Fuzz targets, one per parser of untrusted input: each takes any bytes and must neither crash,
// hang nor leak. Built as libFuzzer binaries with clang (`bash .ci/fuzz`), and run by the unit
// suite over their seeds and bounded random mutations of them. Plain functions; one thread each.
#include <span>
#include <string_view>
#include <vector>

namespace muster::fuzz {

struct target {
  std::string_view name;
  void (*run)(std::string_view input);
  std::vector<std::string_view> seeds;  // well-formed inputs the mutations start from
};

/// Every target, by name.
std::span<const target> targets();

}  // namespace muster::fuzz
