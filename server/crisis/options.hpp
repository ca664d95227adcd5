#pragma once
// What the crisis layer is configured with (a part of musterd's configuration, handed down so
// that this layer does not depend on the server's config). Plain values.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "server/crisis/alert.hpp"
#include "server/crisis/spike.hpp"

namespace muster::server::crisis {

/// Spike detection in one channel (section 14.5).
struct spike_settings {
  bool enabled = true;
  spike_policy policy;
  bool raise_severity = false;  // a spike also raises the channel's severity one step
};

/// What a drill's report measures the team against (section 20.5).
struct drill_targets {
  std::chrono::seconds first_claim{300};  // median time to the first claim
  double answered_share = 0.8;            // alerts answered before they escalated
  double ack_share = 0.9;                 // acknowledgements received of those expected
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
  spike_settings spike;
  std::map<std::string, spike_settings> spike_channels;  // per-channel settings
  viral_policy viral{10.0, 10000};
  std::chrono::seconds approval_escalate_after{300};  // a proposal pending longer: the leads hear
  std::int64_t auth_leeway_s = 30;  // clock skew allowed on tokens (user revocations cover it)
  drill_targets drill;

  const spike_settings& spike_for(const std::string& channel) const {
    auto it = spike_channels.find(channel);
    return it == spike_channels.end() ? spike : it->second;
  }
};

}  // namespace muster::server::crisis
