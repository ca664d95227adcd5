#pragma once
// What the crisis layer is configured with (a part of musterd's configuration, handed down so
// that this layer does not depend on the server's config). Plain values.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "server/crisis/alert.hpp"

namespace muster::server::crisis {

/// What a drill channel's report (PROTOCOL.md 20.5) scores it against.
struct drill_targets {
  std::int64_t first_claim_s = 300;  // median time to first claim at most this
  double answered_share = 0.8;       // alerts responded to before being escalated
  double ack_share = 0.9;            // acks of current versions / expected acks
};

struct options {
  std::string triage_channel = "triage";  // where alerts no route matches go
  std::string leads_channel = "leads";    // also hears every escalation
  std::size_t timeline_size = 100000;     // stream entries a crisis channel keeps
  std::chrono::seconds timeline_ttl{90LL * 86400};
  std::chrono::seconds reminder_after{600};  // guidance reminder delay
  escalation_policy escalation;
  std::vector<route_rule> routes;
  std::chrono::seconds idempotency_window{600};  // how long a push's idempotency key is kept
  std::chrono::seconds dedup_window{86400};      // how long a closed alert still catches repeats
  std::size_t claim_limit = 10;  // unanswered claims an ambassador may hold at once (0: no cap)
  std::chrono::milliseconds activity_ttl{15000};  // how long alert.view / alert.draft last
  drill_targets drill;                            // config keys drill.target_*
};

}  // namespace muster::server::crisis
