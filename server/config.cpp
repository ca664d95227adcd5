#include "server/config.hpp"

#include "protocol/codec.hpp"
#include "server/auth/jwks_url.hpp"
#include "server/auth/origin_policy.hpp"

#include <toml++/toml.h>

#include <boost/asio/ip/address.hpp>

#include <charconv>
#include <functional>
#include <optional>
#include <sstream>

extern char** environ;

namespace muster::server {

namespace {

// One configurable key: where it lives, and how a value (from any source) is applied.
struct key_spec {
  std::string_view section;
  std::string_view key;
  std::function<std::optional<std::string>(config&, const toml::node&)> apply;
};

std::optional<std::string> read_int(const toml::node& n, std::int64_t min, std::int64_t max,
                                    std::int64_t& out) {
  // Type first: value<int64_t>() of a float node casts it, undefined outside int64's range.
  if (!n.is_integer()) return "must be an integer";
  auto v = n.value<std::int64_t>();
  if (!v) return "must be an integer";
  if (*v < min || *v > max)
    return "must be between " + std::to_string(min) + " and " + std::to_string(max);
  out = *v;
  return std::nullopt;
}

std::optional<std::string> read_number(const toml::node& n, double min, double max, double& out) {
  auto v = n.value<double>();
  if (!(n.is_integer() || n.is_floating_point()) || !v) return "must be a number";
  if (!(*v >= min && *v <= max)) {  // also rejects NaN
    std::ostringstream os;
    os << "must be between " << min << " and " << max;
    return os.str();
  }
  out = *v;
  return std::nullopt;
}

template <class Int>
auto integer_key(Int config::*member, std::int64_t min, std::int64_t max) {
  return [=](config& c, const toml::node& n) -> std::optional<std::string> {
    std::int64_t v = 0;
    if (auto err = read_int(n, min, max, v)) return err;
    c.*member = static_cast<Int>(v);
    return std::nullopt;
  };
}

template <class Duration>
auto duration_key(Duration config::*member, std::int64_t min, std::int64_t max) {
  return [=](config& c, const toml::node& n) -> std::optional<std::string> {
    std::int64_t v = 0;
    if (auto err = read_int(n, min, max, v)) return err;
    c.*member = Duration(v);
    return std::nullopt;
  };
}

auto number_key(double config::*member, double min, double max) {
  return [=](config& c, const toml::node& n) { return read_number(n, min, max, c.*member); };
}

auto string_key(std::string config::*member, std::vector<std::string> allowed = {}) {
  return [=](config& c, const toml::node& n) -> std::optional<std::string> {
    auto v = n.value<std::string>();
    if (!n.is_string() || !v) return "must be a string";
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), *v) == allowed.end()) {
      std::string msg = "must be one of:";
      for (auto& a : allowed) msg += " " + a;
      return msg;
    }
    c.*member = *v;
    return std::nullopt;
  };
}

auto bool_key(bool config::*member) {
  return [=](config& c, const toml::node& n) -> std::optional<std::string> {
    auto v = n.value<bool>();
    if (!n.is_boolean() || !v) return "must be true or false";
    c.*member = *v;
    return std::nullopt;
  };
}

// [escalation] sevN_claim_ttl_s: 0 turns expiry off for that severity.
auto claim_ttl_key(crisis::severity sev) {
  return [=](config& c, const toml::node& n) -> std::optional<std::string> {
    std::int64_t v = 0;
    if (auto err = read_int(n, 0, 30LL * 86400, v)) return err;
    c.escalation.claim_ttl[sev] = std::chrono::seconds(v);
    return std::nullopt;
  };
}

// [escalation] sevN_escalate_after_s / sevN_respond_within_s.
auto escalation_key(crisis::severity sev, bool respond) {
  return [=](config& c, const toml::node& n) -> std::optional<std::string> {
    std::int64_t v = 0;
    if (auto err = read_int(n, 1, 30LL * 86400, v)) return err;
    (respond ? c.escalation.respond_within : c.escalation.escalate_after)[sev] =
        std::chrono::seconds(v);
    return std::nullopt;
  };
}

// One key of [spike] or of [spike.channels."<name>"].
std::optional<std::string> set_spike_key(spike_override& o, std::string_view key,
                                         const toml::node& n) {
  std::int64_t i = 0;
  double d = 0;
  if (key == "enabled" || key == "raise_severity") {
    auto v = n.value<bool>();
    if (!n.is_boolean() || !v) return "must be true or false";
    (key == "enabled" ? o.enabled : o.raise_severity) = *v;
  } else if (key == "window_s") {
    if (auto e = read_int(n, 10, 86400, i)) return e;
    o.window = std::chrono::seconds(i);
  } else if (key == "baseline_s") {
    if (auto e = read_int(n, 60, 30LL * 86400, i)) return e;
    o.baseline = std::chrono::seconds(i);
  } else if (key == "factor") {
    if (auto e = read_number(n, 1.1, 1000, d)) return e;
    o.factor = d;
  } else if (key == "rearm_factor") {
    if (auto e = read_number(n, 1, 1000, d)) return e;
    o.rearm_factor = d;
  } else if (key == "min_alerts") {
    if (auto e = read_int(n, 1, 100000, i)) return e;
    o.min_alerts = static_cast<std::uint32_t>(i);
  } else {
    return "is not a spike setting";
  }
  return std::nullopt;
}

auto spike_key(std::string_view key) {
  return [=](config& c, const toml::node& n) { return set_spike_key(c.spike, key, n); };
}

auto channel_key(std::string config::*member) {
  return [=](config& c, const toml::node& n) -> std::optional<std::string> {
    auto v = n.value<std::string>();
    if (!n.is_string() || !v) return "must be a string";
    if (!protocol::valid_channel_name(*v)) return "must be a valid channel name";
    c.*member = *v;
    return std::nullopt;
  };
}

// server.allowed_origins: an array of origins, or one string of them separated by commas.
std::optional<std::string> check_origins(config& c, const toml::node& n) {
  std::vector<std::string> items;
  if (auto s = n.value<std::string>(); n.is_string() && s) {
    std::string_view rest(*s);
    while (!rest.empty()) {
      auto comma = rest.find(',');
      auto item = rest.substr(0, comma);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      if (!item.empty()) items.emplace_back(item);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  } else if (const auto* arr = n.as_array()) {
    for (const auto& el : *arr) {
      auto v = el.value<std::string>();
      if (!el.is_string() || !v) return "must be an array of strings";
      items.push_back(*v);
    }
  } else {
    return "must be an array of strings";
  }
  std::vector<std::string> out;
  for (const auto& item : items) {
    if (item == "*") {
      out.push_back(item);
      continue;
    }
    auto canon = auth::canonical_origin(item);
    if (!canon) return "entry \"" + item + "\" is not an origin (scheme://host[:port] or \"*\")";
    out.push_back(*canon);
  }
  c.allowed_origins = std::move(out);
  return std::nullopt;
}

std::optional<std::string> check_listen(config& c, const toml::node& n) {
  auto v = n.value<std::string>();
  if (!n.is_string() || !v) return "must be a string \"host:port\"";
  auto colon = v->rfind(':');
  if (colon == std::string::npos || colon == 0) return "must be \"host:port\"";
  unsigned port = 0;
  auto ps = std::string_view(*v).substr(colon + 1);
  auto r = std::from_chars(ps.data(), ps.data() + ps.size(), port);
  if (r.ec != std::errc{} || r.ptr != ps.data() + ps.size() || port > 65535)
    return "port must be a number from 0 to 65535";
  c.listen = *v;
  return std::nullopt;
}

// "host:port" into `field`; `optional`: "" is allowed too (no such listener).
auto listen_key(std::string config::*field, bool optional = false) {
  return [field, optional](config& c, const toml::node& n) -> std::optional<std::string> {
    auto v = n.value<std::string>();
    if (optional && n.is_string() && v && v->empty()) {
      c.*field = "";
      return std::nullopt;
    }
    config probe;
    if (auto err = check_listen(probe, n)) return err;
    c.*field = probe.listen;
    return std::nullopt;
  };
}

const std::vector<key_spec>& schema() {
  static const std::vector<key_spec> keys = {
      {"server", "listen", check_listen},
      {"server", "threads", integer_key(&config::threads, 0, 256)},
      {"server", "drain_timeout_ms", duration_key(&config::drain_timeout, 0, 600000)},
      {"server", "max_connections", integer_key(&config::max_connections, 1, 1000000)},
      {"server", "web_root", string_key(&config::web_root)},
      {"server", "allowed_origins", check_origins},
      {"server", "internal_listen", listen_key(&config::internal_listen, true)},
      {"tls", "cert_file", string_key(&config::tls_cert_file)},
      {"tls", "key_file", string_key(&config::tls_key_file)},
      {"tls", "min_version", string_key(&config::tls_min_version, {"1.2", "1.3"})},
      {"tls", "allow_plain", bool_key(&config::tls_allow_plain)},
      {"limits", "max_message_bytes", integer_key(&config::max_message_bytes, 256, 16 << 20)},
      {"limits", "max_subscriptions", integer_key(&config::max_subscriptions, 1, 100000)},
      {"limits", "publish_rate", number_key(&config::publish_rate, 0.001, 1e9)},
      {"limits", "publish_burst", number_key(&config::publish_burst, 1, 1e9)},
      {"limits", "command_rate", number_key(&config::command_rate, 0.001, 1e9)},
      {"limits", "command_burst", number_key(&config::command_burst, 1, 1e9)},
      {"limits", "max_queue_bytes", integer_key(&config::max_queue_bytes, 1024, 1 << 30)},
      {"limits", "idle_timeout_ms", duration_key(&config::idle_timeout, 1000, 3600000)},
      {"limits", "handshake_timeout_ms", duration_key(&config::handshake_timeout, 100, 600000)},
      {"limits", "idempotency_window_s", duration_key(&config::idempotency_window, 1, 7LL * 86400)},
      {"history", "size", integer_key(&config::history_size, 0, 1000000)},
      {"history", "ttl_s", duration_key(&config::history_ttl, 1, 365LL * 86400)},
      {"engine", "type", string_key(&config::engine, {"memory", "embedded", "redis"})},
      {"storage", "path",
       [](config& c, const toml::node& n) -> std::optional<std::string> {
         auto v = n.value<std::string>();
         if (!n.is_string() || !v || v->empty()) return "must be a non-empty file path";
         c.storage_path = *v;
         return std::nullopt;
       }},
      {"storage", "synchronous", string_key(&config::storage_synchronous, {"normal", "full"})},
      {"storage", "memory_events", integer_key(&config::storage_memory_events, 16, 1000000)},
      {"storage", "cache_mb", integer_key(&config::storage_cache_mb, 1, 65536)},
      {"redis", "address",
       [](config& c, const toml::node& n) -> std::optional<std::string> {
         config probe;
         if (auto err = check_listen(probe, n)) return err;
         // An IP address: resolving a name would block an I/O thread.
         boost::system::error_code ec;
         boost::asio::ip::make_address(probe.host(), ec);
         if (ec) return "must be \"IP:port\" (an IP address, not a host name)";
         c.redis_address = probe.listen;
         return std::nullopt;
       }},
      {"redis", "password", string_key(&config::redis_password)},
      {"redis", "prefix",
       [](config& c, const toml::node& n) -> std::optional<std::string> {
         auto v = n.value<std::string>();
         if (!n.is_string() || !v) return "must be a string";
         // Braces would change which part of each key Redis Cluster hashes.
         if (v->find_first_of("{}") != std::string::npos) return "must not contain { or }";
         c.redis_prefix = *v;
         return std::nullopt;
       }},
      {"redis", "connect_timeout_ms", duration_key(&config::redis_connect_timeout, 10, 600000)},
      {"redis", "command_timeout_ms", duration_key(&config::redis_command_timeout, 10, 600000)},
      {"redis", "presence_ttl_s", duration_key(&config::presence_ttl, 1, 86400)},
      {"redis", "cluster",
       [](config& c, const toml::node& n) -> std::optional<std::string> {
         auto v = n.value<bool>();
         if (!n.is_boolean() || !v) return "must be true or false";
         c.redis_cluster = *v;
         return std::nullopt;
       }},
      {"log", "level",
       string_key(&config::log_level, {"trace", "debug", "info", "warn", "error", "off"})},
      {"log", "format", string_key(&config::log_format, {"text", "json"})},
      {"auth", "enabled", bool_key(&config::auth_enabled)},
      {"auth", "secret", string_key(&config::auth_secret)},
      {"auth", "leeway_s", duration_key(&config::auth_leeway, 0, 3600)},
      {"auth", "jwks_file", string_key(&config::auth_jwks_file)},
      {"auth", "jwks_url",
       [](config& c, const toml::node& n) -> std::optional<std::string> {
         auto v = n.value<std::string>();
         if (!n.is_string() || !v) return "must be a string";
         if (!v->empty()) {
           auto parsed = auth::parse_jwks_url(*v);
           if (auto* why = std::get_if<std::string>(&parsed)) return *why;
         }
         c.auth_jwks_url = *v;
         return std::nullopt;
       }},
      {"auth", "jwks_ca_file", string_key(&config::auth_jwks_ca_file)},
      {"auth", "jwks_refresh_s", duration_key(&config::auth_jwks_refresh, 1, 86400)},
      {"auth", "issuer", string_key(&config::auth_issuer)},
      {"auth", "audience", string_key(&config::auth_audience)},
      {"auth", "role_claim", string_key(&config::auth_role_claim)},
      {"auth", "name_claim", string_key(&config::auth_name_claim)},
      {"auth", "channels_claim", string_key(&config::auth_channels_claim)},
      {"crisis", "triage_channel", channel_key(&config::triage_channel)},
      {"crisis", "leads_channel", channel_key(&config::leads_channel)},
      {"crisis", "timeline_size", integer_key(&config::timeline_size, 100, 10000000)},
      {"crisis", "timeline_ttl_s", duration_key(&config::timeline_ttl, 60, 10LL * 365 * 86400)},
      {"crisis", "reminder_after_s", duration_key(&config::reminder_after, 1, 7LL * 86400)},
      {"crisis", "scan_interval_ms", duration_key(&config::scan_interval, 50, 60000)},
      {"crisis", "dedup_window_s", duration_key(&config::dedup_window, 1, 365LL * 86400)},
      {"crisis", "claim_limit", integer_key(&config::claim_limit, 0, 10000)},
      {"crisis", "activity_ttl_ms", duration_key(&config::activity_ttl, 500, 300000)},
      {"crisis", "approval_escalate_after_s",
       duration_key(&config::approval_escalate_after, 10, 7LL * 86400)},
      {"spike", "enabled", spike_key("enabled")},
      {"spike", "window_s", spike_key("window_s")},
      {"spike", "baseline_s", spike_key("baseline_s")},
      {"spike", "factor", spike_key("factor")},
      {"spike", "rearm_factor", spike_key("rearm_factor")},
      {"spike", "min_alerts", spike_key("min_alerts")},
      {"spike", "raise_severity", spike_key("raise_severity")},
      {"spike", "viral_reach_factor",
       [](config& c, const toml::node& n) -> std::optional<std::string> {
         double d = 0;
         if (auto e = read_number(n, 0, 1e6, d)) return e;
         if (d != 0 && d < 1.1) return "must be 0 (off) or at least 1.1";
         c.viral.factor = d;
         return std::nullopt;
       }},
      {"spike", "viral_min_reach",
       [](config& c, const toml::node& n) -> std::optional<std::string> {
         std::int64_t i = 0;
         if (auto e = read_int(n, 0, 1000000000000000LL, i)) return e;
         c.viral.min_reach = static_cast<std::uint64_t>(i);
         return std::nullopt;
       }},
      {"drill", "target_first_claim_s",
       [](config& c, const toml::node& n) -> std::optional<std::string> {
         std::int64_t i = 0;
         if (auto e = read_int(n, 1, 86400, i)) return e;
         c.drill.first_claim = std::chrono::seconds(i);
         return std::nullopt;
       }},
      {"drill", "target_answered_share",
       [](config& c, const toml::node& n) { return read_number(n, 0, 1, c.drill.answered_share); }},
      {"drill", "target_ack_share",
       [](config& c, const toml::node& n) { return read_number(n, 0, 1, c.drill.ack_share); }},
      {"escalation", "sev1_escalate_after_s", escalation_key(crisis::severity::sev1, false)},
      {"escalation", "sev2_escalate_after_s", escalation_key(crisis::severity::sev2, false)},
      {"escalation", "sev3_escalate_after_s", escalation_key(crisis::severity::sev3, false)},
      {"escalation", "sev4_escalate_after_s", escalation_key(crisis::severity::sev4, false)},
      {"escalation", "sev1_respond_within_s", escalation_key(crisis::severity::sev1, true)},
      {"escalation", "sev2_respond_within_s", escalation_key(crisis::severity::sev2, true)},
      {"escalation", "sev3_respond_within_s", escalation_key(crisis::severity::sev3, true)},
      {"escalation", "sev4_respond_within_s", escalation_key(crisis::severity::sev4, true)},
      {"escalation", "sev1_claim_ttl_s", claim_ttl_key(crisis::severity::sev1)},
      {"escalation", "sev2_claim_ttl_s", claim_ttl_key(crisis::severity::sev2)},
      {"escalation", "sev3_claim_ttl_s", claim_ttl_key(crisis::severity::sev3)},
      {"escalation", "sev4_claim_ttl_s", claim_ttl_key(crisis::severity::sev4)},
  };
  return keys;
}

const key_spec* find_key(std::string_view section, std::string_view key) {
  for (const auto& k : schema())
    if (k.section == section && k.key == key) return &k;
  return nullptr;
}

std::string where(const std::string& source, const toml::source_region& r) {
  return source + ":" + std::to_string(r.begin.line);
}

// One [[route]] table: sources, tags, keywords (string arrays), min_severity, channels.
void load_route(config& cfg, const toml::table& t, const std::string& at,
                std::vector<std::string>& errors) {
  crisis::route_rule rule;
  auto strings = [&](std::string_view key, std::vector<std::string>& out) {
    auto* n = t.get(key);
    if (!n) return;
    auto* arr = n->as_array();
    if (!arr) return errors.push_back(at + ": route." + std::string(key) + " must be an array");
    for (auto& e : *arr) {
      auto v = e.value<std::string>();
      if (!e.is_string() || !v || v->empty())
        return errors.push_back(at + ": route." + std::string(key) +
                                " must hold non-empty strings");
      out.push_back(*v);
    }
  };
  for (auto&& [k, v] : t) {
    auto key = k.str();
    if (key != "sources" && key != "tags" && key != "keywords" && key != "min_severity" &&
        key != "channels")
      errors.push_back(at + ": unknown key route." + std::string(key));
    (void)v;
  }
  strings("sources", rule.sources);
  strings("tags", rule.tags);
  strings("keywords", rule.keywords);
  strings("channels", rule.channels);
  if (rule.channels.empty()) errors.push_back(at + ": route.channels must name at least one");
  for (auto& ch : rule.channels)
    if (!protocol::valid_channel_name(ch))
      errors.push_back(at + ": route.channels: \"" + ch + "\" is not a valid channel name");
  if (auto* n = t.get("min_severity")) {
    auto v = n->value<std::string>();
    auto sev = v ? crisis::parse_severity(*v) : std::nullopt;
    if (!sev)
      errors.push_back(at + ": route.min_severity must be one of sev1 sev2 sev3 sev4");
    else
      rule.min_severity = sev;
  }
  cfg.routes.push_back(std::move(rule));
}

// [spike.channels."<name>"] tables: spike settings for one channel over [spike].
void load_spike_channels(config& cfg, const toml::node& node, const std::string& path,
                         std::vector<std::string>& errors) {
  auto* channels = node.as_table();
  if (!channels)
    return errors.push_back(
        where(path, node.source()) +
        ": spike.channels must be a table of tables ([spike.channels.\"<name>\"])");
  for (auto&& [name_key, settings] : *channels) {
    std::string name(name_key.str());
    auto at = where(path, settings.source());
    if (!protocol::valid_channel_name(name)) {
      errors.push_back(at + ": spike.channels: \"" + name + "\" is not a valid channel name");
      continue;
    }
    auto* t = settings.as_table();
    if (!t) {
      errors.push_back(at + ": spike.channels." + name + " must be a table");
      continue;
    }
    auto& o = cfg.spike_channels[name];
    o.where = at;
    for (auto&& [k, v] : *t) {
      std::string key(k.str());
      if (auto err = set_spike_key(o, key, v)) {
        errors.push_back(where(path, v.source()) + ": spike.channels." + name + "." + key + " " +
                         *err);
      }
    }
  }
}

// Turns a string from the environment or a flag into the TOML node the key expects,
// by parsing it as a TOML value first and falling back to a plain string.
toml::table parse_scalar(const std::string& text) {
  try {
    return toml::parse("v = " + text);
  } catch (const toml::parse_error&) {
    toml::table t;
    t.insert("v", text);
    return t;
  }
}

void apply_text(config& cfg, std::string_view section, std::string_view key,
                const std::string& text, const std::string& origin,
                std::vector<std::string>& errors) {
  const key_spec* spec = find_key(section, key);
  if (!spec) {
    errors.push_back(origin + ": unknown key " + std::string(section) + "." + std::string(key));
    return;
  }
  auto t = parse_scalar(text);
  auto err = spec->apply(cfg, *t.get("v"));
  if (err && !t.get("v")->is_string()) {
    // A string key given a value that reads as another TOML type (a numeric password, say):
    // take the text as it is.
    toml::table raw;
    raw.insert("v", text);
    if (!spec->apply(cfg, *raw.get("v"))) err.reset();
  }
  if (err)
    errors.push_back(origin + ": " + std::string(section) + "." + std::string(key) + " " + *err);
  else if (section == "spike")
    cfg.spike.where = origin;
}

}  // namespace

config_error::config_error(std::vector<std::string> e)
    : std::runtime_error(e.empty() ? "configuration error" : e.front()), errors(std::move(e)) {}

std::string config::host_of(const std::string& host_port) {
  return host_port.substr(0, host_port.rfind(':'));
}
std::uint16_t config::port_of(const std::string& host_port) {
  return static_cast<std::uint16_t>(std::stoul(host_port.substr(host_port.rfind(':') + 1)));
}
std::string config::host() const {
  return host_of(listen);
}
std::uint16_t config::port() const {
  return port_of(listen);
}

namespace {

// Every section and key of a parsed file; problems are collected, named by `path:line`.
void load_table(config& cfg, const toml::table& root, const std::string& path) {
  std::vector<std::string> errors;
  for (auto&& [section_key, section_node] : root) {
    std::string section(section_key.str());
    if (section == "route") {
      auto* arr = section_node.as_array();
      if (!arr) {
        errors.push_back(where(path, section_node.source()) +
                         ": route must be an array of tables ([[route]])");
        continue;
      }
      cfg.routes.clear();
      for (auto& e : *arr) {
        if (auto* t = e.as_table())
          load_route(cfg, *t, where(path, e.source()), errors);
        else
          errors.push_back(where(path, e.source()) + ": each route must be a table ([[route]])");
      }
      continue;
    }
    auto* table = section_node.as_table();
    if (!table) {
      errors.push_back(where(path, section_node.source()) + ": " + section + " must be a table ([" +
                       section + "])");
      continue;
    }
    bool known_section = false;
    for (const auto& k : schema()) known_section |= k.section == section;
    if (!known_section && table->empty()) {
      errors.push_back(where(path, section_node.source()) + ": unknown section [" + section + "]");
      continue;
    }
    if (section == "spike") {
      cfg.spike.where = where(path, section_node.source());
      if (auto* channels = table->get("channels"))
        load_spike_channels(cfg, *channels, path, errors);
    }
    for (auto&& [key_name, value] : *table) {
      std::string key(key_name.str());
      if (section == "spike" && key == "channels") continue;
      const key_spec* spec = find_key(section, key);
      if (!spec) {
        errors.push_back(where(path, value.source()) + ": unknown key " + section + "." + key);
        continue;
      }
      if (auto err = spec->apply(cfg, value))
        errors.push_back(where(path, value.source()) + ": " + section + "." + key + " " + *err);
    }
  }
  if (!errors.empty()) throw config_error(std::move(errors));
}

config_error parse_failure(const std::string& path, const toml::parse_error& e) {
  return config_error(
      {path + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description())});
}

}  // namespace

void load_config_file(config& cfg, const std::string& path) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw parse_failure(path, e);
  }
  load_table(cfg, root, path);
}

void load_config_text(config& cfg, std::string_view text, const std::string& path) {
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    throw parse_failure(path, e);
  }
  load_table(cfg, root, path);
}

void apply_env(config& cfg, const std::map<std::string, std::string>& env) {
  std::vector<std::string> errors;
  for (const auto& k : schema()) {
    std::string name = "MUSTER_";
    for (char c : std::string(k.section) + "_" + std::string(k.key))
      name.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    auto it = env.find(name);
    if (it != env.end()) apply_text(cfg, k.section, k.key, it->second, name, errors);
  }
  if (!errors.empty()) throw config_error(std::move(errors));
}

void apply_overrides(config& cfg, const std::vector<std::string>& overrides) {
  std::vector<std::string> errors;
  for (const auto& o : overrides) {
    auto eq = o.find('=');
    auto dot = o.find('.');
    if (eq == std::string::npos || dot == std::string::npos || dot > eq) {
      errors.push_back("--set " + o + ": expected section.key=value");
      continue;
    }
    apply_text(cfg, std::string_view(o).substr(0, dot),
               std::string_view(o).substr(dot + 1, eq - dot - 1), o.substr(eq + 1), "--set " + o,
               errors);
  }
  if (!errors.empty()) throw config_error(std::move(errors));
}

void spike_override::apply_to(crisis::spike_settings& s) const {
  if (enabled) s.enabled = *enabled;
  if (raise_severity) s.raise_severity = *raise_severity;
  if (window) s.policy.window = *window;
  if (baseline) s.policy.baseline = *baseline;
  if (factor) s.policy.factor = *factor;
  if (rearm_factor) s.policy.rearm_factor = *rearm_factor;
  if (min_alerts) s.policy.min_alerts = *min_alerts;
}

namespace {
crisis::spike_settings resolve_spike(const config& c, const std::string& channel) {
  crisis::spike_settings s;
  c.spike.apply_to(s);
  if (auto it = c.spike_channels.find(channel); it != c.spike_channels.end())
    it->second.apply_to(s);
  return s;
}
}  // namespace

crisis::options config::crisis_options() const {
  crisis::options o;
  o.spike = resolve_spike(*this, "");
  for (const auto& [name, ov] : spike_channels) o.spike_channels[name] = resolve_spike(*this, name);
  o.viral = viral;
  o.approval_escalate_after = approval_escalate_after;
  o.drill = drill;
  o.triage_channel = triage_channel;
  o.leads_channel = leads_channel;
  o.timeline_size = timeline_size;
  o.timeline_ttl = timeline_ttl;
  o.auth_leeway_s = auth_leeway.count();
  o.reminder_after = reminder_after;
  o.escalation = escalation;
  o.routes = routes;
  o.idempotency_window = idempotency_window;
  o.dedup_window = dedup_window;
  o.claim_limit = claim_limit;
  o.activity_ttl = activity_ttl;
  return o;
}

crisis::escalation_policy config::default_escalation() {
  using crisis::severity;
  using std::chrono::seconds;
  crisis::escalation_policy p;
  p.escalate_after = {{severity::sev1, seconds(120)},
                      {severity::sev2, seconds(300)},
                      {severity::sev3, seconds(900)},
                      {severity::sev4, seconds(3600)}};
  p.respond_within = {{severity::sev1, seconds(600)},
                      {severity::sev2, seconds(1200)},
                      {severity::sev3, seconds(3600)},
                      {severity::sev4, seconds(14400)}};
  p.claim_ttl = {{severity::sev1, seconds(1200)},
                 {severity::sev2, seconds(2400)},
                 {severity::sev3, seconds(7200)},
                 {severity::sev4, seconds(28800)}};
  return p;
}

void validate(const config& cfg) {
  std::vector<std::string> errors;
  auto check = [&](const std::string& channel, const spike_override& o, std::string_view name) {
    auto s = resolve_spike(cfg, channel);
    auto at = o.where.empty() ? std::string("spike") : o.where;
    if (s.policy.rearm_factor >= s.policy.factor)
      errors.push_back(at + ": " + std::string(name) + " rearm_factor must be below factor");
    if (s.policy.baseline < s.policy.window)
      errors.push_back(at + ": " + std::string(name) + " baseline_s must be at least window_s");
    // The detector keeps ten buckets per window over window + baseline, in one document.
    if (s.policy.baseline > s.policy.window * 1000)
      errors.push_back(at + ": " + std::string(name) +
                       " baseline_s must be at most 1000 times window_s");
  };
  check("", cfg.spike, "spike");
  for (const auto& [name, ov] : cfg.spike_channels) check(name, ov, "spike.channels." + name);
  if (cfg.tls_cert_file.empty() != cfg.tls_key_file.empty())
    errors.push_back("tls: cert_file and key_file go together (both set: TLS; neither: plain)");
  if (cfg.tls_allow_plain && cfg.tls_cert_file.empty())
    errors.push_back("tls.allow_plain needs tls.cert_file and tls.key_file");
  if (!cfg.internal_listen.empty() && cfg.internal_listen == cfg.listen && cfg.port() != 0)
    errors.push_back("server.internal_listen must differ from server.listen");
  if (!cfg.auth_jwks_file.empty() && !cfg.auth_jwks_url.empty())
    errors.push_back("auth: jwks_file or jwks_url, not both");
  if (!errors.empty()) throw config_error(std::move(errors));
  // A provider's key set alone is enough; a secret, when given, must be a real one.
  bool provider = !cfg.auth_jwks_file.empty() || !cfg.auth_jwks_url.empty();
  if (cfg.auth_enabled && (!provider || !cfg.auth_secret.empty()) && cfg.auth_secret.size() < 16)
    throw config_error(
        {"auth.secret must be at least 16 bytes while auth is enabled (set "
         "MUSTER_AUTH_SECRET, or auth.jwks_file or auth.jwks_url for an identity provider's keys, "
         "or "
         "auth.enabled = false to run without auth)"});
}

std::map<std::string, std::string> process_env() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string_view::npos && kv.starts_with("MUSTER_"))
      env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

}  // namespace muster::server
