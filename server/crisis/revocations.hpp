#pragma once
// token.revoke: an admin revokes a token (by its `jti`) or every token of a user issued until
// now. The revocation is a document of the `_revocations` channel and an event of its stream,
// so every node learns of it (node.cpp applies them and closes the connections concerned).
// Thread: whichever runs the crisis command.
#include "server/crisis/request.hpp"

namespace muster::server::crisis::revocations {

inline constexpr std::string_view channel = "_revocations";

void revoke(context& ctx, request& r, done_fn done);

}  // namespace muster::server::crisis::revocations
