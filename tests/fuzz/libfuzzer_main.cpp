// The libFuzzer entry point of one target, chosen at build time (MUSTER_FUZZ_TARGET).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto* chosen = [] {
    for (const auto& t : muster::fuzz::targets())
      if (t.name == MUSTER_FUZZ_TARGET) return &t;
    return static_cast<const muster::fuzz::target*>(nullptr);
  }();
  if (chosen) chosen->run({reinterpret_cast<const char*>(data), size});
  return 0;
}
