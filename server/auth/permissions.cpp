#include "server/auth/permissions.hpp"

#include <array>

namespace muster::server::auth {

namespace {
// Bit per role: ambassador, lead, bot, admin.
constexpr unsigned A = 1, L = 2, B = 4, D = 8;
constexpr unsigned everyone = A | L | B | D;
constexpr unsigned people = A | L | D;
constexpr unsigned leads = L | D;

struct rule {
  std::string_view op;
  unsigned roles;
};
constexpr std::array rules{
    rule{"subscribe", everyone},    rule{"unsubscribe", everyone},
    rule{"history", everyone},      rule{"presence", everyone},
    rule{"publish", people},        rule{"channel.create", leads},
    rule{"channel.update", leads},  rule{"channel.list", everyone},
    rule{"channel.get", everyone},  rule{"alert.push", B | L | D},
    rule{"alert.claim", people},    rule{"alert.release", people},
    rule{"alert.assign", leads},    rule{"alert.respond", people},
    rule{"alert.resolve", people},  rule{"alert.dismiss", leads},
    rule{"alert.get", everyone},    rule{"alert.list", everyone},
    rule{"guidance.post", leads},   rule{"guidance.ack", people},
    rule{"guidance.status", leads}, rule{"guidance.list", everyone},
    rule{"template.put", leads},    rule{"template.delete", leads},
    rule{"template.list", people},  rule{"stats", leads},
    rule{"http.alerts", B | L | D}, rule{"http.timeline", leads},
    rule{"http.stats", leads},      rule{"http.channels", everyone},
};

unsigned bit(role r) {
  switch (r) {
    case role::ambassador:
      return A;
    case role::lead:
      return L;
    case role::bot:
      return B;
    case role::admin:
      return D;
  }
  return 0;
}
}  // namespace

bool allowed(role r, std::string_view op) noexcept {
  for (const auto& x : rules)
    if (x.op == op) return (x.roles & bit(r)) != 0;
  return false;
}

}  // namespace muster::server::auth
