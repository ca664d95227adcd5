#include "tests/fuzz/targets.hpp"

#include <simdjson.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

#include "clients/cli/replay_feed.hpp"

#include "protocol/codec.hpp"
#include "server/auth/jwks.hpp"
#include "server/auth/jwks_url.hpp"
#include "server/auth/jwt.hpp"
#include "server/command_table.hpp"
#include "server/config.hpp"
#include "server/crisis/canonical_url.hpp"
#include "server/crisis/records.hpp"
#include "server/crisis/report.hpp"
#include "server/crisis/service.hpp"
#include "server/engine/memory_engine.hpp"
#include "server/engine/redis/replies.hpp"
#include "server/engine/redis/resp.hpp"
#include "server/ws_framing.hpp"
#include "tests/fuzz/protocol_examples.hpp"

namespace muster::fuzz {

namespace c = server::crisis;

namespace {

// An invariant the input broke: reported like a crash (libFuzzer keeps the input).
void require(bool ok, const char* what, std::string_view detail) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant broken: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

// What the HTTP API and the WebSocket session build around a crisis result must be JSON: the
// result object on success, the error's extra members on failure.
void require_json_result(const c::result& r) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (r.ok) {
    require(!parser.parse(r.json).get_object().get(obj), "result is not a JSON object", r.json);
  } else if (!r.extra.empty()) {
    auto wrapped = "{" + r.extra + "}";
    require(!parser.parse(wrapped).get_object().get(obj), "error extra is not JSON members",
            r.extra);
  }
}

// A crisis service on a fresh memory engine, as a node runs it.
struct fresh_service {
  server::memory_engine eng{server::memory_engine::options{}};
  c::options opts;
  server::metrics m{1};
  c::service svc{eng, opts, m};
};

c::actor make_actor(std::string subject, server::auth::role role) {
  c::actor a;
  a.id.subject = subject;
  a.id.name = std::move(subject);
  a.id.role = role;
  a.client = "c-1";
  return a;
}

// A WebSocket command frame, as a client sends it.
void command_frame(std::string_view in) {
  thread_local protocol::decoder decoder(&server::lookup_op);
  protocol::command cmd;
  protocol::decode_failure failure;
  decoder.decode(in, cmd, failure);
}

// A crisis command run end to end on a fresh memory engine: the fields reader, every
// handler's checks, ingestion (URLs, PagerDuty bodies), the stored records it writes.
void crisis_command(std::string_view in) {
  fresh_service s;
  auto& svc = s.svc;
  auto lead = make_actor("lead", server::auth::role::lead);
  server::run_crisis_frame(svc, in, lead, require_json_result);
  svc.push_http(in, "k", lead, require_json_result);
}

// A POST /api/v1/alerts body, as the HTTP API hands it to the crisis layer (after the method,
// role and Idempotency-Key checks): native or PagerDuty, from a bot limited to some channels,
// then retried with the same key (which must answer the same), then without a key.
void http_body(std::string_view in) {
  fresh_service s;
  auto& svc = s.svc;
  auto bot = make_actor("alertbot", server::auth::role::bot);
  bot.id.channels = {"crisis.*", "triage"};
  bot.client = "http";
  std::string first;
  svc.push_http(in, "retry-1", bot, [&](c::result r) {
    require_json_result(r);
    if (r.ok) first = r.json;
  });
  svc.push_http(in, "retry-1", bot, [&](c::result r) {
    require_json_result(r);
    // A refused push stores nothing under the key, so only a success must be answered again.
    if (r.ok) require(r.json == first, "a retry answered differently", r.json);
  });
  svc.push_http(in, "", bot, require_json_result);
}

// Stored documents read back (a damaged or foreign document must not crash a reader).
void stored_records(std::string_view in) {
  c::decoded<c::alert_record>(in);
  c::decoded<c::channel_record>(in);
  c::decoded<c::guidance_record>(in);
  c::decoded<c::ack_record>(in);
  c::decoded<c::member_record>(in);
  c::decoded<c::template_record>(in);
  c::decoded<c::idempotency_record>(in);
  c::decoded<c::person_record>(in);
  c::decoded<c::held_record>(in);
  c::decoded<c::note_record>(in);
  c::decoded<c::receipt_record>(in);
  c::decoded<c::activity_record>(in);
  c::decoded<c::spike_record>(in);
}

// A timeline (JSON Lines) turned into a report, in every format.
void timeline_report(std::string_view in) {
  c::report_builder b;
  for (std::size_t start = 0; start <= in.size();) {
    auto end = in.find('\n', start);
    if (end == std::string_view::npos) end = in.size();
    b.add(in.substr(start, end - start));
    start = end + 1;
  }
  auto r = b.build({});
  for (auto f : {c::report_format::json, c::report_format::html, c::report_format::csv})
    c::render(r, f);
}

// A file given to `muster drill replay`.
void replay_feed(std::string_view in) {
  std::istringstream s{std::string(in)};
  auto plan = cli::read_replay(s);
  cli::replay_delays(plan, 20, 1, 60);
}

void urls(std::string_view in) {
  c::canonical_url(in);
  c::is_web_url(in);
  // auth.jwks_url too: what it accepts must round-trip into a Host header.
  auto where = server::auth::parse_jwks_url(in);
  if (auto* loc = std::get_if<server::auth::http_location>(&where)) {
    if (loc->host.empty() || loc->port == 0 || loc->target.empty() || loc->target[0] != '/')
      std::abort();
    (void)server::auth::host_header(*loc);
  }
}

// Client bytes as the socket delivers them, split at an arbitrary point.
void websocket_bytes(std::string_view in) {
  server::ws::parser p(4096);
  auto half = in.size() / 2;
  p.feed(in.substr(0, half));
  for (int i = 0; i < 64; ++i)
    if (p.next().kind == server::ws::event::need_more) break;
  p.feed(in.substr(half));
  for (int i = 0; i < 256 && !p.failed(); ++i) {
    auto ev = p.next();
    if (ev.kind == server::ws::event::need_more || ev.kind == server::ws::event::error) break;
  }
}

void tokens(std::string_view in) {
  server::auth::identity who;
  server::auth::verify(in, "fuzz-secret-0123456789", who,
                       std::chrono::system_clock::time_point(std::chrono::seconds(1800000000)));
}

// An identity provider's key set, then a token verified against it (kid, alg, ES256 signatures).
void jwks(std::string_view in) {
  auto cut = in.find('\n');
  auto parsed = server::auth::key_set::parse(in.substr(0, cut));
  auto* keys = std::get_if<server::auth::key_set>(&parsed);
  if (!keys || cut == std::string_view::npos) return;
  server::auth::verify_keys v;
  v.jwks = keys;
  v.issuer = "https://idp.example";
  v.audience = "muster";
  server::auth::identity who;
  server::auth::verify(in.substr(cut + 1), v, who,
                       std::chrono::system_clock::time_point(std::chrono::seconds(1800000000)),
                       std::chrono::seconds(30));
}

// A whole configuration file: the TOML parser, every section and key, then the cross-checks.
void config_file(std::string_view in) {
  server::config cfg;
  try {
    server::load_config_text(cfg, in, "fuzz.toml");
    server::validate(cfg);
  } catch (const server::config_error&) {
  }
}

// `--set section.key=value` overrides: every key's value parser.
void config_overrides(std::string_view in) {
  server::config cfg;
  try {
    server::apply_overrides(cfg, {std::string(in)});
  } catch (const server::config_error&) {
  }
}

void redis_payload(std::string_view in) {
  server::redis::parse_channel_payload(in);
}

// One reply read as each command and script reply the Redis engine expects, and as a push.
void read_redis_reply(const redisReply& r) {
  namespace replies = server::redis::replies;
  replies::cluster_slots(r);
  replies::published(r);
  replies::history(r);
  replies::presence(r);
  replies::entries(r);
  replies::listed_docs(r);
  replies::index_range(r);
  replies::read_push(r, "muster:");
  if (r.type != REDIS_REPLY_ARRAY) return;
  // As many keys or writes as the reply's shape suggests, so the decoders get past their
  // length checks.
  replies::docs(r, std::vector<std::string>(r.elements / 2, "k"));
  replies::commit(r, std::vector<std::string>(r.elements > 0 ? (r.elements - 1) / 2 : 0, "k"), 0);
  if (r.elements >= 3 && r.element[2]->type == REDIS_REPLY_INTEGER && r.element[2]->integer >= 0 &&
      static_cast<std::size_t>(r.element[2]->integer) <= r.elements - 3) {
    auto writes = static_cast<std::size_t>(r.element[2]->integer);
    replies::commit(r, std::vector<std::string>(writes, "k"), r.elements - 3 - writes);
  }
}

// Bytes from a Redis server as a connection reads them (hiredis' reader, split at an arbitrary
// point), each complete reply then read by the engine's decoders.
void redis_reply(std::string_view in) {
  server::redis::reply_reader reader;
  auto half = in.size() / 2;
  for (auto part : {in.substr(0, half), in.substr(half)}) {
    if (!reader.feed(part)) return;
    for (int i = 0; i < 256; ++i) {
      std::error_code ec;
      auto r = reader.next(ec);
      if (ec) return;
      if (!r) break;
      read_redis_reply(*r);
    }
  }
}

const target all[] = {
    {"command_frame",
     command_frame,
     {R"({"id":1,"op":"connect","name":"a","token":"x"})",
      R"({"id":2,"op":"subscribe","channel":"crisis.a","recover":{"offset":3,"epoch":"ab"}})",
      R"({"id":3,"op":"publish","channel":"c","data":{"text":"hi"},"idempotency_key":"k"})"},
     true},
    {"crisis_command",
     crisis_command,
     {R"({"id":1,"op":"alert.push","source":"x","url":"https://x.com/a/status/1","severity":"sev2","metrics":{"reach":5}})",
      R"({"id":2,"op":"guidance.post","channel":"c","kind":"update","title":"t","body":"b","ack_within_s":60})",
      R"({"id":3,"op":"alert.assign","channel":"triage","alert":"a-1","to":"amy"})",
      R"({"event_action":"trigger","dedup_key":"k","payload":{"summary":"s","source":"src","severity":"critical"}})",
      R"({"id":4,"op":"channel.create","channel":"d","title":"t","drill":true,"approval":{"required":true,"min_severity":"sev2"}})",
      R"({"id":5,"op":"alert.push","source":"x","url":"https://x.com/1","channel":"d"})",
      R"({"id":6,"op":"alert.propose","channel":"d","alert":"a-1","text":"t","url":"https://x.com/r","template":"n"})",
      R"({"id":7,"op":"alert.approve","channel":"d","alert":"a-1","proposal":"p-1","text":"x","comment":"c"})"},
     true},
    {"stored_records",
     stored_records,
     {R"({"id":"a-1","channel":"c","channels":["c"],"status":"claimed","holder":{"user":"u","name":"n"},"guidance":[{"id":"g","kind":"k","version":2}]})",
      R"({"id":"g-1","channel":"c","version":3,"history":[{"version":1,"at":1,"by":null,"changes":""}]})",
      R"({"id":"a-1","channel":"c","drill":true,"proposals":[{"id":"p-1","state":"approved","by":{"user":"u","name":"n"},"decided_by":null,"auto":true}]})",
      R"({"buckets":[[1000,3,500]],"first_ms":900,"armed":false,"recent":[{"id":"a","reach":9,"severity":"sev2","at":1}],"spikes":2})",
      // Found: a time beyond 2262 overflowed the clock's nanoseconds.
      R"({"id":"a-1","channel":"c","status":"new","last_seen":11767258000000,"claimed_at":-11767258000000})"},
     true},
    {"urls",
     urls,
     {"https://twitter.com/sarah_k/status/1001?s=20", "https://youtu.be/dQw4w9WgXcQ?si=x",
      "https://old.reddit.com/r/a/comments/b1/c/?utm_source=share",
      "https://sso.example.org:8443/realms/acme/protocol/openid-connect/certs",
      "http://[::1]:9000/jwks.json"}},
    {"websocket_bytes",
     websocket_bytes,
     {std::string_view("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11),
      std::string_view("\x01\x82\x00\x00\x00\x00hi\x80\x81\x00\x00\x00\x00!", 16)}},
    {"tokens", tokens, {"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhIn0.c2ln", "a.b.c"}},
    {"jwks",
     jwks,
     // A P-256 key (RFC 7515 A.3) and an ES256 token shape; an RSA key too short to use.
     {"{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k\",\"x\":"
      "\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\",\"y\":"
      "\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}\n"
      "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsifQ.eyJzdWIiOiJhIiwicm9sZSI6ImxlYWQifQ."
      "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q",
      "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}\na.b.c"}},
    {"config_file",
     config_file,
     {"[server]\nlisten = \"127.0.0.1:8080\"\nallowed_origins = [\"https://a.example\"]\n"
      "[auth]\nenabled = false\n",
      "[[route]]\nsources = [\"x\"]\nchannels = [\"press\"]\n[spike]\nfactor = 3.0\n"
      "[spike.channels.\"crisis.a\"]\nwindow_s = 60\n",
      "[escalation]\nsev1_claim_ttl_s = 1E32\n[redis]\ncommand_timeout_ms = -1e300\n"}},
    {"config_overrides",
     config_overrides,
     {"server.listen=\"127.0.0.1:8080\"", "crisis.claim_limit=5", "escalation.sev1_claim_ttl_s=0"}},
    {"redis_payload", redis_payload, {"12:ab12cd34:{\"event\":\"message\"}", "p:{}", "e:{}"}},
    {"http_body",
     http_body,
     {R"({"source":"x","url":"https://x.com/a/status/1","severity":"sev2","channel":"crisis.a","tags":["t"]})",
      R"({"event_action":"trigger","dedup_key":"k","payload":{"summary":"s","source":"src","severity":"error"},"links":[{"href":"https://x.com/1"}]})",
      R"({"event_action":"acknowledge","dedup_key":"k"})",
      R"({"source":"x","url":"https://x.com/a/status/1","channel":"press"})"},
     true},
    {"redis_reply",
     redis_reply,
     // Replies of each shape the engine reads: CLUSTER SLOTS, publish, history, read_docs,
     // commit (applied, refused), index_range, a message push, a notice, an error.
     {"*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$2\r\nid\r\n",
      "*2\r\n:45\r\n$8\r\n9f1c2a7e\r\n",
      "*6\r\n:45\r\n$8\r\n9f1c2a7e\r\n:44\r\n:44\r\n$4\r\n1000\r\n$2\r\n{}\r\n",
      "*4\r\n$2\r\n{}\r\n:3\r\n$0\r\n\r\n:0\r\n", "*5\r\n:1\r\n$2\r\nab\r\n:1\r\n:4\r\n:46\r\n",
      "*3\r\n:0\r\n$2\r\n{}\r\n:7\r\n",
      "*4\r\n$3\r\na-1\r\n$5\r\n1e+17\r\n$3\r\na-2\r\n$4\r\n-inf\r\n",
      "*3\r\n$8\r\nsmessage\r\n$10\r\nmuster:{c}\r\n$10\r\n3:ab:{\"x\"}\r\n",
      "*3\r\n$12\r\nsunsubscribe\r\n$10\r\nmuster:{c}\r\n:0\r\n",
      "-MOVED 3999 127.0.0.1:7002\r\n+OK\r\n:1\r\n",
      // Found: an array count of 2^31-1 (16 GiB asked of malloc); while writing this target:
      // a slot range from below 0, a score beyond 64 bits.
      "*2147483647\r\n", "*1\r\n*3\r\n:-5\r\n:3\r\n*2\r\n$1\r\nh\r\n:1\r\n",
      "*2\r\n$1\r\na\r\n$6\r\n1e+300\r\n"}},
    {"timeline_report",
     timeline_report,
     {R"({"event":"channel.created","channel":"c","offset":1,"ts":1000,"data":{"channel":{"channel":"c","title":"T","drill":true}}}
{"event":"alert.new","channel":"c","offset":2,"ts":2000,"data":{"alert":{"id":"a-1","channel":"c","severity":"sev2","first_seen":2000,"metrics":{"reach":5}}}}
{"event":"alert.claimed","channel":"c","offset":3,"ts":3000,"data":{"alert":{"id":"a-1","channel":"c","status":"claimed","holder":{"user":"u","name":"U"},"first_seen":2000,"claimed_at":3000},"by":{"user":"u","name":"U"}}}
{"event":"alert.proposed","channel":"c","offset":4,"ts":3500,"data":{"alert":{"id":"a-1","channel":"c"},"proposal":{"id":"p-1","state":"pending","at":3500,"by":{"user":"u","name":"U"}}}}
{"event":"channel.spike","channel":"c","offset":5,"ts":4000,"data":{"at":4000,"rate":12.5,"factor":4}})",
      R"({"event":"guidance.acked","channel":"c","offset":1,"ts":5,"data":{"guidance":"g","user":"u","version":1,"delay_ms":3}})"},
     true},
    {"replay_feed",
     replay_feed,
     {R"({"source":"x","url":"https://x.com/a/status/1","metrics":{"reach":5},"at":1000}
{"source":"x","url":"https://x.com/a/status/2","occurred_at":"2026-01-01T08:59:00.5+01:00"})",
      R"({"event":"alert.new","ts":5,"data":{"alert":{"source":"x","url":"https://x.com/1","first_seen":5}}}
{"event":"alert.updated","ts":9,"data":{"alert":{"source":"x","url":"https://x.com/1","last_seen":9,"later_texts":["b"]}}})"}},
};

}  // namespace

std::span<const target> targets() {
  return all;
}

const target* find_target(std::string_view name) {
  for (const auto& t : all)
    if (t.name == name) return &t;
  return nullptr;
}

std::vector<std::string> seeds_of(const target& t, const std::string& protocol_md) {
  std::vector<std::string> out(t.seeds.begin(), t.seeds.end());
  if (t.protocol_examples)
    for (auto& e : json_examples_of_file(protocol_md)) out.push_back(std::move(e));
  return out;
}

}  // namespace muster::fuzz
