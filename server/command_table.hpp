#pragma once
// The one list of commands. Each WebSocket command (chat and crisis) is one row: its wire spec
// (name, channel use, limits: what the decoder checks), the roles allowed, and its handler — a
// session handler for the v1 ops, a crisis handler for the rest. The permission matrix
// (PROTOCOL.md section 12.1) is this table plus the HTTP endpoints below; a test checks the
// document against it. Constants and pure functions; thread-safe.
#include <optional>
#include <span>
#include <string_view>

#include "protocol/codec.hpp"
#include "server/auth/roles.hpp"
#include "server/crisis/request.hpp"

namespace muster::server {

class client_session;
namespace crisis {
class service;
}

struct command_row {
  protocol::op_spec spec;
  auth::role_set roles;
  /// v1 ops: run by the session that received them, on its thread.
  void (client_session::*on_session)(protocol::command&) = nullptr;
  /// Crisis ops: run by the crisis layer (from WebSocket, HTTP or a test alike).
  crisis::handler on_crisis = nullptr;
  /// Allowed before `connect` (connect, ping).
  bool before_connect = false;
};

/// The HTTP API's endpoints, for the permission matrix.
struct http_endpoint {
  std::string_view name;   // "http.alerts", ...
  std::string_view route;  // "POST /api/v1/alerts", as PROTOCOL.md names it
  std::string_view what;   // for "role <role> may not <what>"
  auth::role_set roles;
};

std::span<const command_row> command_table();
std::span<const http_endpoint> http_endpoints();
const command_row* find_command(std::string_view name);
/// The decoder's view of the table.
const protocol::op_spec* lookup_op(std::string_view name);
/// The row a decoded command's spec belongs to.
const command_row& row_of(const protocol::op_spec& spec);
const http_endpoint& endpoint(std::string_view name);

/// True when `r` may run the command or HTTP endpoint `op`; unknown operations are refused.
bool permitted(auth::role r, std::string_view op);

/// The role check, then (v1 ops) the channel allow-list: the refusal, or none.
std::optional<crisis::result> refuse(const command_row& row, const protocol::command& cmd,
                                     const crisis::actor& who);

/// Runs a decoded crisis command (role and allow-list already checked by `refuse`): the
/// channel rules of PROTOCOL.md section 13.1, then its handler.
void run_crisis(const command_row& row, crisis::context& ctx, const protocol::command& cmd,
                const crisis::actor& who, crisis::done_fn done);

/// Decodes and runs one crisis command frame: for the HTTP API and tests.
void run_crisis_frame(crisis::service& service, std::string_view frame, const crisis::actor& who,
                      crisis::done_fn done);

}  // namespace muster::server
