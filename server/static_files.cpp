#include "server/static_files.hpp"

#include <fstream>
#include <iterator>
#include <stdexcept>

namespace muster::server {

namespace fs = std::filesystem;

std::string_view mime_type(std::string_view name) noexcept {
  auto dot = name.rfind('.');
  auto ext = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
  struct entry {
    std::string_view ext, mime;
  };
  static constexpr entry table[] = {
      {"html", "text/html; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"json", "application/json"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"ico", "image/x-icon"},
      {"webmanifest", "application/manifest+json"},
      {"txt", "text/plain; charset=utf-8"},
  };
  for (const auto& e : table)
    if (e.ext == ext) return e.mime;
  return "application/octet-stream";
}

namespace {
// FNV-1a 64: enough to tell versions of one file apart for caches.
std::string etag_of(std::string_view body) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : body) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (int i = 60; i >= 0; i -= 4) out.push_back(hex[(h >> i) & 15]);
  out.push_back('"');
  return out;
}
}  // namespace

static_files::static_files(const fs::path& root) {
  if (!fs::is_directory(root))
    throw std::runtime_error("web root " + root.string() + " is not a directory");
  std::size_t total = 0;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    const auto& entry = *it;
    auto name = entry.path().filename().string();
    if (!name.empty() && name[0] == '.') {  // .git, editor files: never served
      if (entry.is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (entry.is_symlink() || !entry.is_regular_file()) continue;
    if (files_.size() >= max_files)
      throw std::runtime_error("web root " + root.string() + " has more than 512 files");
    std::ifstream in(entry.path(), std::ios::binary);
    if (!in) throw std::runtime_error("web root: cannot read " + entry.path().string());
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    total += body.size();
    if (total > max_total_bytes)
      throw std::runtime_error("web root " + root.string() + " holds more than 32 MiB");
    // Appended, not "/" + str: GCC 12's -Wrestrict misfires on that in Release builds.
    std::string rel = "/";
    rel += fs::relative(entry.path(), root).generic_string();
    file f{std::move(body), mime_type(name), {}};
    f.etag = etag_of(f.body);
    files_.emplace(std::move(rel), std::move(f));
  }
}

const static_files::file* static_files::find(std::string_view path) const {
  if (path.empty() || path[0] != '/') return nullptr;
  if (path.find("..") != std::string_view::npos || path.find('\\') != std::string_view::npos ||
      path.find('%') != std::string_view::npos || path.find('\0') != std::string_view::npos ||
      path.find("//") != std::string_view::npos)
    return nullptr;
  std::string key(path);
  if (key.back() == '/') key += "index.html";
  auto it = files_.find(key);
  if (it == files_.end()) it = files_.find(key + "/index.html");
  return it == files_.end() ? nullptr : &it->second;
}

}  // namespace muster::server
