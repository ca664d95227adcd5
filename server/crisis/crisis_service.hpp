#pragma once
// The crisis workflow on top of any engine: crisis channels, alert ingestion (native and
// PagerDuty v2 bodies) with dedup and routing, exclusive claims, escalation, guidance with
// acknowledgements and reminders, reply templates, timeline export and stats. State lives in
// engine documents changed only by compare-and-set commits, so every node may serve any
// request and exactly one of several racing updates wins. No sockets: callable from any thread;
// completion handlers run on whatever thread the engine answers on.
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/error.hpp"
#include "server/auth/jwt.hpp"
#include "server/config.hpp"
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

struct ingest_request;

class service {
 public:
  using clock_fn = std::function<std::chrono::system_clock::time_point()>;
  service(engine& eng, const config& cfg, metrics& m,
          clock_fn clock = &std::chrono::system_clock::now);

  /// Runs the crisis command `op` (see PROTOCOL.md) whose fields are in the JSON object `frame`.
  /// Checks the role matrix and the token's channel allow-list first.
  void run(std::string_view op, std::string_view frame, const actor& who, done_fn done);
  /// POST /api/v1/alerts: a native alert body or a PagerDuty Events API v2 body.
  void push_http(std::string_view body, const actor& who, done_fn done);
  /// Every event of `channel` as JSON Lines, oldest first, and the first offset still held
  /// (1 unless retention dropped the start).
  using timeline_fn = std::function<void(std::error_code, std::string, std::uint64_t)>;
  void timeline(std::string channel, timeline_fn done);
  /// Stats for one channel, or for every crisis channel the actor may see.
  void stats(std::optional<std::string> channel, const actor& who, done_fn done);
  /// An ambassador subscribed to `channel`: from now on guidance there expects their ack.
  void note_member(const std::string& channel, const actor& who);
  /// One pass over due escalations and guidance reminders; `done` runs when it finished.
  void scan(std::function<void()> done);

  /// Index names shared by every node.
  static constexpr std::string_view channels_index = "channels";
  static constexpr std::string_view due_index = "due";
  static constexpr std::string_view remind_index = "remind";
  /// Where each dedup key's alert lives, whatever routing says today. Not a valid client
  /// channel name, so no client can address it.
  static constexpr std::string_view dedup_channel = "_dedup";

  struct alert_record;   // an alert's stored document
  struct person_totals;  // one person's claims, responses and acks, with the raw delays
  using people_map = std::map<std::string, person_totals>;

 private:
  struct plan;
  using mutate_fn = std::function<plan(const std::vector<doc>&)>;
  /// Read `keys`, let `fn` decide the writes and events, commit them if nothing changed in
  /// between, else read again (bounded).
  void modify(std::string channel, std::vector<std::string> keys, mutate_fn fn, done_fn done,
              std::optional<retention> keep = {}, int attempt = 0);
  using alert_fn = std::function<std::optional<result>(alert_record&, std::vector<std::string>&)>;
  /// Applies `fn` to one alert; each event name `fn` adds is published with the alert.
  void modify_alert(const std::string& channel, const std::string& id, const actor& who,
                    alert_fn fn, done_fn done);
  void after_alert_commit(const alert_record& rec, const std::vector<event_spec>& events);
  void schedule(const alert_record& rec);
  void ingest(ingest_request in, const actor& who, done_fn done, int attempt = 0);
  /// Ingestion in the alert's home channel (where its dedup entry and document live).
  void ingest_at(ingest_request in, std::string home, const actor& who, done_fn done, int attempt);
  /// Points the dedup key at today's routed home (compare-and-set from `expect`), then ingests
  /// there; losing the race means another trigger chose first: start over and follow it.
  void claim_home(ingest_request in, std::uint64_t expect, const actor& who, done_fn done,
                  int attempt);
  void escalate(const std::string& channel, const std::string& id, std::function<void()> next);
  void remind(const std::string& channel, const std::string& gid, std::function<void()> next);
  void post_guidance(const std::string& channel, const std::string& kind, const std::string& title,
                     const std::string& body, const actor& who, done_fn done);
  void channel_stats(const std::string& channel,
                     std::function<void(std::error_code, std::string, people_map)> done);
  std::int64_t now_ms() const;

  engine& eng_;
  const config& cfg_;
  metrics& metrics_;
  clock_fn clock_;
};

}  // namespace muster::server::crisis
