#pragma once
// One crisis command as its handler sees it, after the command table checked the role and the
// channel: the decoded v1 fields, a reader for the command's own fields, and who asks.
#include <string>

#include "protocol/codec.hpp"
#include "server/crisis/context.hpp"
#include "server/crisis/fields.hpp"

namespace muster::server::crisis {

struct request {
  const protocol::command& cmd;
  fields& f;
  const actor& who;
  std::string channel;  // checked and allowed; "*" for "every channel"; empty when none
};

/// A crisis command's handler (a row of the command table).
using handler = void (*)(context&, request&, done_fn);

/// False (after answering `done` with `bad_request` and the first field problem) when the
/// command's fields did not read cleanly.
inline bool fields_ok(request& r, const done_fn& done) {
  if (!r.f.error()) return true;
  done(result::failure(protocol::errc::bad_request, *r.f.error()));
  return false;
}

}  // namespace muster::server::crisis
