#pragma once
// The dedup key of a link: one canonical URL per post, by a table of the social platforms' link
// forms. Pure functions over constant tables; safe to call from any thread.
#include <string>
#include <string_view>

namespace muster::server::crisis {

/// The same post reached through different links (share parameters, mobile or old hosts, other
/// path forms) gets one key; the rules are PROTOCOL.md section 15.4. Any input is accepted.
std::string canonical_url(std::string_view url);

}  // namespace muster::server::crisis
