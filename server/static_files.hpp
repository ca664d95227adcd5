#pragma once
// The web console's files (clients/web), read once at start-up so that serving them never
// touches the disk on an I/O thread, and only files that exist under the root can be named
// (no path traversal by construction). Immutable after construction: thread-safe lookups.
#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

namespace muster::server {

class static_files {
 public:
  struct file {
    std::string body;
    std::string_view mime;
    std::string etag;  // strong validator: a hash of the body, quoted
  };
  static constexpr std::size_t max_files = 512;
  static constexpr std::size_t max_total_bytes = 32 * 1024 * 1024;

  static_files() = default;
  /// Loads every regular file under `root` (symlinks and hidden files skipped). Throws
  /// std::runtime_error when `root` is not a directory or the bounds are exceeded.
  explicit static_files(const std::filesystem::path& root);

  /// The file for a URL path ("/" and directory-like paths map to their index.html), or nullptr.
  /// Paths with "..", backslashes, NUL or percent-escapes are never found.
  const file* find(std::string_view url_path) const;
  std::size_t size() const { return files_.size(); }

 private:
  std::map<std::string, file, std::less<>> files_;  // key: "/relative/path"
};

/// The Content-Type for a file name's extension (application/octet-stream when unknown).
std::string_view mime_type(std::string_view file_name) noexcept;

}  // namespace muster::server
