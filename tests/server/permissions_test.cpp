#include "server/auth/permissions.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string_view>

using muster::server::auth::acts_for_others;
using muster::server::auth::allowed;
using muster::server::auth::role;
using muster::server::auth::role_name;

namespace {

// The intended policy, written out cell by cell (not derived from permissions.cpp):
// columns are ambassador, lead, bot, admin.
struct row {
  std::string_view op;
  bool ambassador, lead, bot, admin;
};

constexpr std::array expected{
    // Everyone may read.
    row{"subscribe", true, true, true, true},
    row{"unsubscribe", true, true, true, true},
    row{"history", true, true, true, true},
    row{"presence", true, true, true, true},
    row{"channel.list", true, true, true, true},
    row{"channel.get", true, true, true, true},
    row{"alert.get", true, true, true, true},
    row{"alert.list", true, true, true, true},
    row{"guidance.list", true, true, true, true},
    row{"http.channels", true, true, true, true},
    // People (not bots) talk and work alerts.
    row{"publish", true, true, false, true},
    row{"alert.claim", true, true, false, true},
    row{"alert.release", true, true, false, true},
    row{"alert.respond", true, true, false, true},
    row{"alert.resolve", true, true, false, true},
    row{"guidance.ack", true, true, false, true},
    row{"template.list", true, true, false, true},
    // Leads and admins run the crisis.
    row{"channel.create", false, true, false, true},
    row{"channel.update", false, true, false, true},
    row{"alert.assign", false, true, false, true},
    row{"alert.dismiss", false, true, false, true},
    row{"guidance.post", false, true, false, true},
    row{"guidance.status", false, true, false, true},
    row{"template.put", false, true, false, true},
    row{"template.delete", false, true, false, true},
    row{"stats", false, true, false, true},
    row{"http.stats", false, true, false, true},
    row{"http.timeline", false, true, false, true},
    // Bots, leads and admins push alerts.
    row{"alert.push", false, true, true, true},
    row{"http.alerts", false, true, true, true},
};

constexpr std::array roles{role::ambassador, role::lead, role::bot, role::admin};

bool cell(const row& r, role who) {
  switch (who) {
    case role::ambassador:
      return r.ambassador;
    case role::lead:
      return r.lead;
    case role::bot:
      return r.bot;
    case role::admin:
      return r.admin;
  }
  return false;
}

}  // namespace

TEST(permissions, every_cell_of_the_matrix_matches_the_policy) {
  // 30 operations listed in permissions.cpp: a missing row here would hide a new op.
  static_assert(expected.size() == 30);
  for (const auto& r : expected)
    for (auto who : roles)
      EXPECT_EQ(allowed(who, r.op), cell(r, who)) << role_name(who) << " × " << r.op;
}

TEST(permissions, unknown_operations_are_refused_for_every_role) {
  // Deny by default: a typo or a future op must never be open.
  for (auto who : roles)
    for (std::string_view op : {"", "alert", "alert.claimx", "Alert.claim", "publish ", "http.",
                                "channel.delete", "admin", "*"})
      EXPECT_FALSE(allowed(who, op)) << role_name(who) << " × '" << op << "'";
}

TEST(permissions, an_out_of_range_role_is_refused) {
  // A corrupted role value must not map onto any permission bit.
  auto bogus = static_cast<role>(42);
  for (const auto& r : expected) EXPECT_FALSE(allowed(bogus, r.op)) << r.op;
}

TEST(permissions, only_leads_and_admins_act_for_others) {
  // Releasing/responding on someone else's claim is a lead's power.
  EXPECT_FALSE(acts_for_others(role::ambassador));
  EXPECT_TRUE(acts_for_others(role::lead));
  EXPECT_FALSE(acts_for_others(role::bot));
  EXPECT_TRUE(acts_for_others(role::admin));
}
