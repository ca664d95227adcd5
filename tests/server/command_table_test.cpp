#include "server/command_table.hpp"

#include <gtest/gtest.h>

#include <array>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>

using muster::server::auth::acts_for_others;
using muster::server::auth::role;
using muster::server::auth::role_name;

namespace {

// The intended policy, written out cell by cell (not derived from command_table.cpp):
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
    row{"http.report", false, true, false, true},
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

TEST(command_table, every_cell_of_the_matrix_matches_the_policy) {
  // 31 operations in the command table and HTTP endpoints: a missing row here would hide a new op.
  static_assert(expected.size() == 31);
  for (const auto& r : expected)
    for (auto who : roles)
      EXPECT_EQ(muster::server::permitted(who, r.op), cell(r, who))
          << role_name(who) << " × " << r.op;
}

TEST(command_table, unknown_operations_are_refused_for_every_role) {
  // Deny by default: a typo or a future op must never be open.
  for (auto who : roles)
    for (std::string_view op : {"", "alert", "alert.claimx", "Alert.claim", "publish ", "http.",
                                "channel.delete", "admin", "*"})
      EXPECT_FALSE(muster::server::permitted(who, op)) << role_name(who) << " × '" << op << "'";
}

TEST(command_table, an_out_of_range_role_is_refused) {
  // A corrupted role value must not map onto any permission bit.
  auto bogus = static_cast<role>(42);
  for (const auto& r : expected) EXPECT_FALSE(muster::server::permitted(bogus, r.op)) << r.op;
}

TEST(command_table, only_leads_and_admins_act_for_others) {
  // Releasing/responding on someone else's claim is a lead's power.
  EXPECT_FALSE(acts_for_others(role::ambassador));
  EXPECT_TRUE(acts_for_others(role::lead));
  EXPECT_FALSE(acts_for_others(role::bot));
  EXPECT_TRUE(acts_for_others(role::admin));
}

namespace {

// The rows of PROTOCOL.md's table 12.1: operation -> ✓ per column (ambassador, lead, bot,
// admin), read from the document as a client author would.
std::map<std::string, std::array<bool, 4>> documented_matrix() {
  std::ifstream in(MUSTER_SOURCE_DIR "/protocol/PROTOCOL.md");
  std::map<std::string, std::array<bool, 4>> out;
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.starts_with("### 12.1"))
      inside = true;
    else if (inside && line.starts_with("###"))
      break;
    if (!inside || !line.starts_with("| ") || line.starts_with("| Operation") ||
        line.starts_with("|---"))
      continue;
    std::vector<std::string> cells;
    std::stringstream ss(line.substr(1));
    std::string cell;
    while (std::getline(ss, cell, '|')) cells.push_back(cell);
    if (cells.size() < 5) continue;
    auto op = cells[0];
    std::erase(op, '`');
    while (!op.empty() && op.back() == ' ') op.pop_back();
    while (!op.empty() && op.front() == ' ') op.erase(op.begin());
    std::array<bool, 4> allowed{};
    for (int i = 0; i < 4; ++i) allowed[i] = cells[1 + i].find("✓") != std::string::npos;
    out[op] = allowed;
  }
  return out;
}

}  // namespace

TEST(command_table, protocol_md_matrix_is_the_code_table) {
  using namespace muster::server;
  constexpr std::array roles_in_columns{role::ambassador, role::lead, role::bot, role::admin};
  auto doc = documented_matrix();
  ASSERT_FALSE(doc.empty()) << "table 12.1 not found in PROTOCOL.md";
  std::set<std::string> in_code;
  auto check = [&](const std::string& name, const auth::role_set& roles) {
    in_code.insert(name);
    auto it = doc.find(name);
    ASSERT_NE(it, doc.end()) << name << " is missing from PROTOCOL.md 12.1";
    for (std::size_t i = 0; i < roles_in_columns.size(); ++i)
      EXPECT_EQ(it->second[i], roles.has(roles_in_columns[i]))
          << name << " × " << role_name(roles_in_columns[i]);
  };
  for (const auto& row : command_table())
    if (!row.before_connect)  // connect and ping: open to everyone, not in the table
      check(std::string(row.spec.name), row.roles);
  for (const auto& e : http_endpoints()) check("HTTP " + std::string(e.route), e.roles);
  for (const auto& [name, cells] : doc)
    EXPECT_TRUE(in_code.count(name)) << name << " is documented but not in the command table";
}

TEST(command_table, limits_live_with_their_command) {
  using namespace muster::server;
  EXPECT_EQ(find_command("history")->spec.limit.max, 1000u);
  EXPECT_EQ(find_command("alert.list")->spec.limit.max, 10000u);
  EXPECT_EQ(find_command("alert.list")->spec.limit.min, 1u);
  // Every command is found by the decoder's lookup under its own name, once.
  std::set<std::string_view> names;
  for (const auto& row : command_table()) {
    EXPECT_TRUE(names.insert(row.spec.name).second) << row.spec.name << " twice";
    EXPECT_EQ(lookup_op(row.spec.name), &row.spec);
    EXPECT_EQ(&row_of(row.spec), &row);
    EXPECT_TRUE((row.on_session != nullptr) != (row.on_crisis != nullptr)) << row.spec.name;
  }
  EXPECT_EQ(lookup_op("alert.explode"), nullptr);
}
