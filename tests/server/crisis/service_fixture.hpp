#pragma once
// The crisis service on the memory engine with an injected clock, and helpers to run commands
// and read what they appended: shared by the crisis layer's unit tests.

#include <gtest/gtest.h>

#include <simdjson.h>
#include "server/crisis/service.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/codec.hpp"
#include "server/command_table.hpp"
#include "server/config.hpp"
#include "server/crisis/keys.hpp"
#include "server/crisis/records.hpp"
#include "server/engine/memory_engine.hpp"
#include "server/metrics.hpp"

using namespace muster::server;
using muster::protocol::errc;
using muster::protocol::wire_name;
using muster::server::crisis::actor;
using muster::server::crisis::result;
using muster::server::crisis::route_rule;
using muster::server::crisis::service;
using muster::server::crisis::severity;
using muster::server::crisis::time_point;
using namespace std::chrono_literals;
namespace dom = simdjson::dom;

namespace crisis_test {

const time_point t0 = time_point{} + 1'800'000'000s;

inline std::int64_t ms(time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

inline bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// A parsed JSON text read through JSON pointers; a missing value reads as a visible sentinel.
class json {
 public:
  explicit json(std::string source) : text_(std::move(source)) {
    valid_ = !parser_.parse(text_).get(root_);
  }
  json(const json&) = delete;
  json& operator=(const json&) = delete;

  bool valid() const { return valid_; }
  bool has(std::string_view ptr) const {
    dom::element e;
    return valid_ && !root_.at_pointer(ptr).get(e);
  }
  bool is_null(std::string_view ptr) const {
    dom::element e;
    return valid_ && !root_.at_pointer(ptr).get(e) && e.is_null();
  }
  std::string str(std::string_view ptr) const {
    std::string_view v;
    if (!valid_ || root_.at_pointer(ptr).get_string().get(v))
      return "<no string at " + std::string(ptr) + ">";
    return std::string(v);
  }
  std::int64_t num(std::string_view ptr) const {
    std::int64_t v;
    if (!valid_ || root_.at_pointer(ptr).get_int64().get(v))
      return std::numeric_limits<std::int64_t>::min();
    return v;
  }
  std::optional<bool> flag(std::string_view ptr) const {
    bool v;
    if (!valid_ || root_.at_pointer(ptr).get_bool().get(v)) return std::nullopt;
    return v;
  }
  std::size_t size(std::string_view ptr) const {
    dom::array a;
    if (!valid_ || root_.at_pointer(ptr).get_array().get(a))
      return std::numeric_limits<std::size_t>::max();
    return a.size();
  }
  /// The string at `field` (a pointer inside each item) of every item of the array at `ptr`.
  std::vector<std::string> column(std::string_view ptr, std::string_view field) const {
    std::vector<std::string> out;
    dom::array a;
    if (!valid_ || root_.at_pointer(ptr).get_array().get(a)) return out;
    for (auto item : a) {
      std::string_view v;
      out.emplace_back(item.at_pointer(field).get_string().get(v) ? "<none>" : std::string(v));
    }
    return out;
  }
  std::vector<std::string> strs(std::string_view ptr) const { return column(ptr, ""); }

 private:
  std::string text_;
  dom::parser parser_;
  dom::element root_;
  bool valid_ = false;
};

inline actor make_actor(std::string subject, std::string name, auth::role r, std::string client,
                        std::vector<std::string> allow = {}) {
  actor a;
  a.id.subject = std::move(subject);
  a.id.name = std::move(name);
  a.id.role = r;
  a.id.channels = std::move(allow);
  a.client = std::move(client);
  return a;
}

// {"id":1,"op":<op>,<k>:<v>...} with string values only.
inline std::string cmd(std::string_view op,
                       std::initializer_list<std::pair<std::string_view, std::string_view>> kv) {
  std::string out = "{\"id\":1,\"op\":";
  muster::protocol::append_json_string(out, op);
  for (const auto& [k, v] : kv) {
    out += ',';
    muster::protocol::append_json_string(out, k);
    out += ':';
    muster::protocol::append_json_string(out, v);
  }
  return out + '}';
}

// A native alert.push frame; `extra` is spliced in as more fields (",\"tags\":[...]").
inline std::string alert_frame(std::string_view url, std::string_view sev = "sev3",
                               std::string_view source = "x", std::string_view extra = "") {
  std::string out = "{\"id\":1,\"op\":\"alert.push\",\"source\":\"" + std::string(source) +
                    "\",\"url\":\"" + std::string(url) + "\",\"severity\":\"" + std::string(sev) +
                    "\"";
  out += extra;
  return out + '}';
}

struct stream_event {
  std::string name;
  std::uint64_t offset = 0;
  std::string frame;
};

class crisis_service : public ::testing::Test {
 protected:
  /// `history`: events a channel's stream keeps when nothing else is set ([history].size).
  explicit crisis_service(std::size_t history = 1000) : history_size_(history) {
    opts_.triage_channel = "triage";
    opts_.leads_channel = "leads";
    opts_.reminder_after = 600s;
    opts_.escalation.escalate_after = {{severity::sev1, 60s},
                                       {severity::sev2, 300s},
                                       {severity::sev3, 900s},
                                       {severity::sev4, 3600s}};
    opts_.escalation.respond_within = {{severity::sev1, 600s},
                                       {severity::sev2, 1200s},
                                       {severity::sev3, 3600s},
                                       {severity::sev4, 14400s}};
    // Everyone has connected once: the directory knows them (assignments need it).
    for (const auto* a : {&ana_, &ben_, &cara_, &lea_, &bot_, &admin_}) svc_.seen(*a);
  }

  service::clock_fn clock() {
    return [this] { return now_; };
  }

  result run_on(service& s, std::string_view op, const std::string& frame, const actor& who) {
    std::optional<result> out;
    EXPECT_NE(frame.find("\"op\":\"" + std::string(op) + "\""), std::string::npos) << frame;
    run_crisis_frame(s, frame, who, [&out](result r) { out = std::move(r); });
    if (!out) {
      ADD_FAILURE() << op << " did not complete synchronously";
      return result::failure(errc::internal, "no reply");
    }
    return std::move(*out);
  }
  result run(std::string_view op, const std::string& frame, const actor& who) {
    return run_on(svc_, op, frame, who);
  }
  result http(std::string_view body, const actor& who) {
    std::optional<result> out;
    svc_.push_http(body, "", who, [&out](result r) { out = std::move(r); });
    if (!out) {
      ADD_FAILURE() << "push_http did not complete synchronously";
      return result::failure(errc::internal, "no reply");
    }
    return std::move(*out);
  }
  // An alert command on alert `id` in `channel`.
  result act(std::string_view op, const std::string& id, const actor& who,
             std::string_view channel = "triage") {
    return run(op, cmd(op, {{"channel", channel}, {"alert", id}}), who);
  }
  // Pushes a new alert and returns its id.
  std::string push_new(std::string_view url, std::string_view sev = "sev3") {
    auto r = run("alert.push", alert_frame(url, sev), bot_);
    EXPECT_TRUE(r.ok) << r.message;
    json j(r.json);
    EXPECT_EQ(j.flag("/deduplicated"), false) << r.json;
    return j.str("/alert/id");
  }
  bool scan_with(service& s) {
    bool finished = false, more = false;
    s.scan([&](bool left) { finished = true, more = left; });
    EXPECT_TRUE(finished) << "scan did not complete synchronously";
    return more;
  }
  bool scan() { return scan_with(svc_); }

  std::vector<stream_event> events(std::string_view channel) {
    std::vector<stream_event> out;
    engine_.history(channel, history_query{std::uint64_t{0}, 1000},
                    [&out](std::error_code ec, history_result h) {
                      EXPECT_FALSE(ec);
                      for (auto& p : h.publications) {
                        json j(*p.frame);
                        out.push_back({j.str("/event"), p.offset, *p.frame});
                      }
                    });
    return out;
  }
  std::vector<std::string> event_names(std::string_view channel) {
    std::vector<std::string> out;
    for (auto& e : events(channel)) out.push_back(e.name);
    return out;
  }
  std::size_t count(std::string_view channel, std::string_view name) {
    std::size_t n = 0;
    for (auto& e : events(channel)) n += e.name == name;
    return n;
  }
  // The frames of every `name` event in `channel`, oldest first.
  std::vector<std::string> frames(std::string_view channel, std::string_view name) {
    std::vector<std::string> out;
    for (auto& e : events(channel))
      if (e.name == name) out.push_back(e.frame);
    return out;
  }
  std::size_t index_size(std::string_view index) {
    std::size_t n = 0;
    engine_.index_range(std::string(index), std::numeric_limits<std::int64_t>::max(), 10000,
                        [&n](std::error_code, std::vector<std::pair<std::string, std::int64_t>> v) {
                          n = v.size();
                        });
    return n;
  }
  void create_channel(std::string_view name, std::string_view title = "Crisis") {
    auto r =
        run("channel.create", cmd("channel.create", {{"channel", name}, {"title", title}}), lea_);
    ASSERT_TRUE(r.ok) << r.message;
  }
  std::string post_guidance(std::string_view channel, std::string_view kind,
                            std::string_view title = "Holding line") {
    auto r =
        run("guidance.post",
            cmd("guidance.post",
                {{"channel", channel}, {"kind", kind}, {"title", title}, {"body", "Say this."}}),
            lea_);
    EXPECT_TRUE(r.ok) << r.message;
    return json(r.json).str("/guidance/id");
  }

  time_point now_ = t0;
  muster::server::crisis::options opts_;
  metrics metrics_{1};
  std::size_t history_size_;
  memory_engine engine_{memory_engine::options{history_size_}, [this] { return now_; }};
  service svc_{engine_, opts_, metrics_, [this] { return now_; }};

  actor ana_ = make_actor("amb-a", "Ana", auth::role::ambassador, "c-ana");
  actor ben_ = make_actor("amb-b", "Ben", auth::role::ambassador, "c-ben");
  actor cara_ = make_actor("amb-c", "Cara", auth::role::ambassador, "c-cara");
  actor lea_ = make_actor("lead-1", "Lea", auth::role::lead, "c-lea");
  actor bot_ = make_actor("bot-1", "Scout", auth::role::bot, "c-bot");
  actor admin_ = make_actor("admin-1", "Ada", auth::role::admin, "");
};

}  // namespace crisis_test
