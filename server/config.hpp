#pragma once
// musterd configuration: defaults, TOML file, MUSTER_* environment overrides and
// command-line overrides, validated key by key. Loaded once at start-up (exceptions allowed).
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "server/crisis/options.hpp"

namespace muster::server {

/// Spike settings as given: each present key overrides the defaults (or, per channel, [spike]).
struct spike_override {
  std::optional<bool> enabled, raise_severity;
  std::optional<std::chrono::seconds> window, baseline;
  std::optional<double> factor, rearm_factor;
  std::optional<std::uint32_t> min_alerts;
  std::string where;  // where the last key was set ("file:line", a variable), for errors
  void apply_to(crisis::spike_settings& s) const;
};

struct config {
  // [server]
  std::string listen = "127.0.0.1:8080";
  unsigned threads = 0;  // 0: one per core
  std::chrono::milliseconds drain_timeout{5000};
  std::size_t max_connections = 18000;
  std::string web_root;  // the console's files; "" = the ones this build ships, "none" = off
  /// Browser origins besides the console's own that may use /ws and /api (canonical; "*": any).
  std::vector<std::string> allowed_origins;
  /// A second, plain listener for /healthz, /readyz and /metrics only ("" = none); with it,
  /// /metrics is served there and no longer on the main listener.
  std::string internal_listen;
  // [tls] (both files set: the main listener speaks TLS)
  std::string tls_cert_file;  // PEM: the certificate, then its chain
  std::string tls_key_file;   // PEM: its private key
  std::string tls_min_version = "1.2";
  bool tls_allow_plain = false;  // also plain HTTP/WebSocket on the TLS port (detected)
  // [limits]
  std::size_t max_message_bytes = 64 * 1024;
  std::size_t max_subscriptions = 128;
  double publish_rate = 1000;
  double publish_burst = 5000;
  double command_rate = 2000;
  double command_burst = 10000;
  std::size_t max_queue_bytes = 1024 * 1024;
  std::chrono::milliseconds idle_timeout{30000};
  std::chrono::milliseconds handshake_timeout{10000};
  std::chrono::seconds idempotency_window{600};
  // [history]
  std::size_t history_size = 1000;
  std::chrono::seconds history_ttl{86400};
  // [engine]
  std::string engine = "embedded";
  // [storage] (engine.type = "embedded")
  std::string storage_path = "/var/lib/muster/muster.db";
  std::string storage_synchronous = "normal";
  std::size_t storage_memory_events = 1024;
  std::size_t storage_cache_mb = 8;
  // [redis]
  std::string redis_address = "127.0.0.1:6379";
  std::string redis_password;
  std::string redis_prefix = "muster:";
  std::chrono::milliseconds redis_connect_timeout{2000};
  std::chrono::milliseconds redis_command_timeout{2000};
  std::chrono::seconds presence_ttl{30};
  bool redis_cluster = false;
  // [log]
  std::string log_level = "info";
  std::string log_format = "text";  // text, or json: one JSON object per line
  // [auth]
  bool auth_enabled = true;
  std::string auth_secret;  // HS256 key; required while auth is enabled
  std::chrono::seconds auth_leeway{30};
  std::string auth_jwks_file;     // an identity provider's keys (RS256, ES256); "" = none
  std::string auth_jwks_url;      // or where the provider publishes them (fetched)
  std::string auth_jwks_ca_file;  // CAs trusted for auth.jwks_url ("" = the system's)
  std::chrono::seconds auth_jwks_refresh{300};
  std::string auth_issuer;               // required "iss" ("" = not checked)
  std::string auth_audience;             // required "aud" ("" = not checked)
  std::string auth_role_claim = "role";  // claim names, or dotted paths into nested claims
  std::string auth_name_claim = "name";
  std::string auth_channels_claim = "channels";
  // [crisis]
  std::string triage_channel = "triage";
  std::string leads_channel = "leads";
  std::size_t timeline_size = 100000;
  std::chrono::seconds timeline_ttl{90LL * 86400};
  std::chrono::seconds reminder_after{600};
  std::chrono::milliseconds scan_interval{1000};
  std::chrono::seconds dedup_window{86400};
  std::size_t claim_limit = 10;
  std::chrono::milliseconds activity_ttl{15000};
  std::chrono::seconds approval_escalate_after{300};
  // [spike]
  spike_override spike;
  std::map<std::string, spike_override> spike_channels;  // [spike.channels."<name>"]
  crisis::viral_policy viral{10.0, 10000};
  // [drill]
  crisis::drill_targets drill;
  // [escalation]
  crisis::escalation_policy escalation = default_escalation();
  // [[route]]
  std::vector<crisis::route_rule> routes;

  /// The part of the configuration the crisis layer is given.
  crisis::options crisis_options() const;
  std::string host() const;
  std::uint16_t port() const;
  /// The parts of a checked "host:port" (server.listen, server.internal_listen).
  static std::string host_of(const std::string& host_port);
  static std::uint16_t port_of(const std::string& host_port);
  bool tls() const { return !tls_cert_file.empty(); }
  static crisis::escalation_policy default_escalation();
};

/// Thrown by the loaders; `errors` lists every problem found, one per line ("file:line: key: why").
struct config_error : std::runtime_error {
  std::vector<std::string> errors;
  explicit config_error(std::vector<std::string> e);
};

/// Applies the TOML file at `path` over `cfg`. Unknown keys and bad values are errors.
void load_config_file(config& cfg, const std::string& path);
/// As load_config_file, for TOML text (`path` names it in messages).
void load_config_text(config& cfg, std::string_view text, const std::string& path);
/// Applies MUSTER_<SECTION>_<KEY> variables from `env` (e.g. MUSTER_SERVER_LISTEN).
void apply_env(config& cfg, const std::map<std::string, std::string>& env);
/// Applies "section.key=value" overrides (from --set).
void apply_overrides(config& cfg, const std::vector<std::string>& overrides);
/// Checks what no single key can: auth needs a secret of at least 16 bytes unless disabled;
/// spike settings agree with each other (rearm below factor, baseline at least the window).
void validate(const config& cfg);
/// Reads the process environment into a map, for apply_env.
std::map<std::string, std::string> process_env();

}  // namespace muster::server
