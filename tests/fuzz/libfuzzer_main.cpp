// The libFuzzer entry point of every target: `muster_fuzz --target=<name> [libFuzzer flags]
// [corpus dirs]`; `--list` names the targets. `--write-seeds=<dir>` writes the target's seeds
// (PROTOCOL.md's examples included, `--protocol=<path>` to read another copy) into <dir> and exits.
// libFuzzer ignores flags that start with "--" and leaves them to us.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "tests/fuzz/targets.hpp"

namespace {

const muster::fuzz::target* chosen = nullptr;

// A stable file name per seed (so writing them again replaces, never duplicates).
std::string seed_name(std::string_view seed) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : seed) h = (h ^ c) * 1099511628211ull;
  char name[32];
  std::snprintf(name, sizeof name, "seed-%016llx", static_cast<unsigned long long>(h));
  return name;
}

int write_seeds(const std::string& dir, const std::string& protocol_md) {
  std::filesystem::create_directories(dir);
  auto seeds = muster::fuzz::seeds_of(*chosen, protocol_md);
  for (const auto& s : seeds) std::ofstream(dir + "/" + seed_name(s), std::ios::binary) << s;
  std::printf("%zu seeds of %.*s in %s\n", seeds.size(), static_cast<int>(chosen->name.size()),
              chosen->name.data(), dir.c_str());
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  std::string name, seeds_dir, protocol_md = MUSTER_SOURCE_DIR "/protocol/PROTOCOL.md";
  for (int i = 1; i < *argc; ++i) {
    std::string_view a = (*argv)[i];
    if (a == "--list") {
      for (const auto& t : muster::fuzz::targets())
        std::printf("%.*s\n", static_cast<int>(t.name.size()), t.name.data());
      std::exit(0);
    }
    if (a.starts_with("--target=")) name = a.substr(9);
    if (a.starts_with("--write-seeds=")) seeds_dir = a.substr(14);
    if (a.starts_with("--protocol=")) protocol_md = a.substr(11);
  }
  chosen = muster::fuzz::find_target(name);
  if (!chosen) {
    std::fprintf(stderr,
                 "usage: muster_fuzz --target=<name> [libFuzzer flags] [corpus dirs]\n"
                 "targets:");
    for (const auto& t : muster::fuzz::targets())
      std::fprintf(stderr, " %.*s", static_cast<int>(t.name.size()), t.name.data());
    std::fprintf(stderr, "\n");
    std::exit(2);
  }
  if (!seeds_dir.empty()) std::exit(write_seeds(seeds_dir, protocol_md));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  chosen->run({reinterpret_cast<const char*>(data), size});
  return 0;
}
