#pragma once
// Which documents of one channel may be on disk only, in a few bytes per document: the keys
// themselves stay in the file. No I/O; the caller locks (the channel's shard mutex).
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

namespace muster::server::embedded {

/// A multiset of key hashes plus a count per key kind ("alert:", the text up to the first ':').
/// `may_hold` has no false negatives: false means the key is certainly not cold; true means
/// "ask the file" (two keys sharing a hash only cost a read). Counts stay exact as long as
/// `add` and `remove` are called only for keys that really enter and leave the cold set.
class cold_keys {
 public:
  void add(std::string_view key);
  void remove(std::string_view key);
  bool may_hold(std::string_view key) const;
  /// Whether a key starting with `prefix` may be cold.
  bool may_hold_prefix(std::string_view prefix) const;
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  static std::uint64_t hash(std::string_view key);
  static std::string_view kind(std::string_view key);

  boost::unordered_flat_set<std::uint64_t> hashes_;
  boost::unordered_flat_map<std::uint64_t, std::uint32_t> shared_;  // hash -> keys beyond one
  std::map<std::string, std::size_t, std::less<>> kinds_;
  std::size_t size_ = 0;
};

}  // namespace muster::server::embedded
