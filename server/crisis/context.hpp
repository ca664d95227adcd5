#pragma once
// What every crisis capability works with: who asks, what a command answers, and the shared
// context (engine concerns, options, metrics, clock). Callable from any thread; completion
// handlers run on whatever thread the engine answers on.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "protocol/error.hpp"
#include "server/auth/jwt.hpp"
#include "server/crisis/options.hpp"
#include "server/engine/engine.hpp"
#include "server/metrics.hpp"

namespace muster::server::crisis {

/// Who asks: from a verified token (or a stand-in admin when auth is disabled).
struct actor {
  auth::identity id;
  std::string client;  // connection id; empty for HTTP requests
  client_info info() const { return {client.empty() ? "http" : client, id.name}; }
};

/// The outcome of one command: a result object, or an error code with its message.
struct result {
  bool ok = true;
  protocol::errc code = protocol::errc::internal;
  std::string message;
  std::string extra;  // extra fields of the error object, e.g. "holder":{...}
  std::string json;   // the result object on success

  static result success(std::string json) { return {true, {}, {}, {}, std::move(json)}; }
  static result failure(protocol::errc c, std::string msg, std::string extra = {}) {
    return {false, c, std::move(msg), std::move(extra), {}};
  }
};
using done_fn = std::function<void(result)>;

/// An engine failure as a result: `what` ("cannot read alerts") + the engine's message. A
/// write (`changes`) that may have been applied is `outcome_unknown`, never `unavailable`.
result engine_failure(std::string_view what, std::error_code ec, bool changes);

class store;
namespace activity {
class tracker;
}
namespace spikes {
class batch;
}

struct context {
  using clock_fn = std::function<std::chrono::system_clock::time_point()>;
  store& st;
  stream_store& streams;
  document_store& docs;
  index_store& indexes;
  ephemeral_store& ephemeral;
  presence_store& presence;
  activity::tracker& activity;  // this node's connections on alerts
  spikes::batch& spikes;        // this node's new alerts, for spike detection
  const options& opts;
  metrics& stats;
  clock_fn clock;

  /// Copies `events` into the leads channel, which keeps its stream as long as a crisis
  /// channel's timeline (escalations must outlive [history]).
  void tell_leads(std::vector<event_spec> events, const std::string& about) const;

  std::int64_t now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock().time_since_epoch())
        .count();
  }
};

/// The actor the scheduler acts as (escalations, reminders).
actor scheduler();

}  // namespace muster::server::crisis
