#include "server/config.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

using namespace muster::server;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// Each test gets its own fresh directory, removed afterwards.
class config_file : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "muster-config-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  std::string write(const std::string& text, const std::string& name = "musterd.toml") {
    auto path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  // Loads `text` and returns the errors (empty when it loaded).
  std::vector<std::string> load_errors(config& cfg, const std::string& text) {
    path_ = write(text);
    try {
      load_config_file(cfg, path_);
    } catch (const config_error& e) {
      EXPECT_FALSE(e.errors.empty());
      if (!e.errors.empty()) {
        EXPECT_STREQ(e.what(), e.errors.front().c_str());
      }
      return e.errors;
    }
    return {};
  }

  fs::path dir_;
  std::string path_;
};

std::vector<std::string> env_errors(config& cfg, const std::map<std::string, std::string>& env) {
  try {
    apply_env(cfg, env);
  } catch (const config_error& e) {
    return e.errors;
  }
  return {};
}

std::vector<std::string> set_errors(config& cfg, const std::vector<std::string>& overrides) {
  try {
    apply_overrides(cfg, overrides);
  } catch (const config_error& e) {
    return e.errors;
  }
  return {};
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

// File errors come in table order (sorted by section and key), not file order: sort by line.
std::vector<std::string> by_line(std::vector<std::string> errors) {
  auto line = [](const std::string& e) {
    auto end = e.find(": ");
    auto colon = e.rfind(':', end - 1);
    return std::stoi(e.substr(colon + 1, end - colon - 1));
  };
  std::stable_sort(errors.begin(), errors.end(),
                   [&](const std::string& a, const std::string& b) { return line(a) < line(b); });
  return errors;
}
bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Defaults

TEST(config, defaults) {
  config c;
  EXPECT_EQ(c.listen, "127.0.0.1:8080");
  EXPECT_EQ(c.host(), "127.0.0.1");
  EXPECT_EQ(c.port(), 8080);
  EXPECT_EQ(c.threads, 0u);
  EXPECT_EQ(c.engine, "embedded");
  EXPECT_EQ(c.storage_path, "/var/lib/muster/muster.db");
  EXPECT_EQ(c.storage_synchronous, "normal");
  EXPECT_EQ(c.log_level, "info");
}

TEST(config, host_and_port_split_at_the_last_colon) {
  config c;
  c.listen = "[::1]:9001";
  EXPECT_EQ(c.host(), "[::1]");
  EXPECT_EQ(c.port(), 9001);
  c.listen = "0.0.0.0:0";
  EXPECT_EQ(c.host(), "0.0.0.0");
  EXPECT_EQ(c.port(), 0);
}

// ---------------------------------------------------------------------------------------------
// File

TEST_F(config_file, loads_every_section) {
  config c;
  auto errors = load_errors(c, R"(# musterd
[server]
listen = "0.0.0.0:9000"
threads = 4
drain_timeout_ms = 250
max_connections = 500

[limits]
max_message_bytes = 1024
max_subscriptions = 16
publish_rate = 2.5
publish_burst = 10
command_rate = 100
command_burst = 200
max_queue_bytes = 65536
idle_timeout_ms = 15000
handshake_timeout_ms = 2000

[history]
size = 50
ttl_s = 600

[engine]
type = "memory"

[log]
level = "debug"
)");
  ASSERT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
  EXPECT_EQ(c.listen, "0.0.0.0:9000");
  EXPECT_EQ(c.port(), 9000);
  EXPECT_EQ(c.threads, 4u);
  EXPECT_EQ(c.drain_timeout, 250ms);
  EXPECT_EQ(c.max_connections, 500u);
  EXPECT_EQ(c.max_message_bytes, 1024u);
  EXPECT_EQ(c.max_subscriptions, 16u);
  EXPECT_DOUBLE_EQ(c.publish_rate, 2.5);
  EXPECT_DOUBLE_EQ(c.publish_burst, 10);  // an integer is a valid number
  EXPECT_DOUBLE_EQ(c.command_rate, 100);
  EXPECT_DOUBLE_EQ(c.command_burst, 200);
  EXPECT_EQ(c.max_queue_bytes, 65536u);
  EXPECT_EQ(c.idle_timeout, 15000ms);
  EXPECT_EQ(c.handshake_timeout, 2000ms);
  EXPECT_EQ(c.history_size, 50u);
  EXPECT_EQ(c.history_ttl, 600s);
  EXPECT_EQ(c.engine, "memory");
  EXPECT_EQ(c.log_level, "debug");
}

TEST_F(config_file, keys_not_in_the_file_keep_their_values) {
  config c;
  c.threads = 3;
  auto errors = load_errors(c, "[log]\nlevel = \"warn\"\n");
  ASSERT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
  EXPECT_EQ(c.threads, 3u);
  EXPECT_EQ(c.listen, "127.0.0.1:8080");
  EXPECT_EQ(c.log_level, "warn");
}

TEST_F(config_file, empty_file_is_valid) {
  config c;
  EXPECT_TRUE(load_errors(c, "").empty());
  EXPECT_TRUE(load_errors(c, "# nothing\n").empty());
}

TEST_F(config_file, unknown_key_is_reported_with_file_and_line) {
  config c;
  auto errors = load_errors(c, "[server]\nthreads = 2\nlisten_addr = \"0.0.0.0:80\"\n");
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0], path_ + ":3: unknown key server.listen_addr");
}

TEST_F(config_file, key_in_unknown_section_is_reported) {
  config c;
  auto errors = load_errors(c, "\n[store]\npath = \"/tmp\"\n");
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0], path_ + ":3: unknown key store.path");
}

TEST_F(config_file, nested_table_is_an_unknown_key) {
  config c;
  auto errors = load_errors(c, "[server.tls]\ncert = \"x\"\n");
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_TRUE(starts_with(errors[0], path_ + ":")) << errors[0];
  EXPECT_TRUE(contains(errors[0], "unknown key server.tls")) << errors[0];
}

TEST_F(config_file, top_level_value_is_reported) {
  config c;
  auto errors = load_errors(c, "threads = 4\n");
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_TRUE(starts_with(errors[0], path_ + ":1: ")) << errors[0];
  EXPECT_TRUE(contains(errors[0], "must be a table")) << errors[0];
}

TEST_F(config_file, wrong_type_is_reported_with_line) {
  config c;
  auto errors = load_errors(c, "[server]\nthreads = \"four\"\n");
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0], path_ + ":2: server.threads must be an integer");
  EXPECT_EQ(c.threads, 0u) << "a rejected value is not applied";
}

TEST_F(config_file, float_for_integer_key_is_rejected) {
  config c;
  auto errors = load_errors(c, "[history]\nsize = 10.0\n");
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0], path_ + ":2: history.size must be an integer");
}

TEST_F(config_file, float_beyond_int64_for_integer_and_duration_keys_is_an_error) {
  // Found by fuzzing: toml++ would cast 1e32 to int64 (undefined) if asked for the value first.
  config c;
  auto errors = by_line(load_errors(c,
                                    "[redis]\ncommand_timeout_ms = 1E32\n[history]\nsize = "
                                    "-1e300\n[escalation]\nsev1_claim_ttl_s = 9e18\n"
                                    "sev2_escalate_after_s = inf\n"));
  ASSERT_EQ(errors.size(), 4u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0], path_ + ":2: redis.command_timeout_ms must be an integer");
  EXPECT_EQ(errors[1], path_ + ":4: history.size must be an integer");
  EXPECT_EQ(errors[2], path_ + ":6: escalation.sev1_claim_ttl_s must be an integer");
  EXPECT_EQ(errors[3], path_ + ":7: escalation.sev2_escalate_after_s must be an integer");
}

TEST_F(config_file, wrong_types_for_number_and_string_keys) {
  config c;
  auto errors = by_line(load_errors(
      c, "[limits]\npublish_rate = \"fast\"\n[log]\nlevel = 3\n[server]\nlisten = 8080\n"));
  ASSERT_EQ(errors.size(), 3u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0], path_ + ":2: limits.publish_rate must be a number");
  EXPECT_EQ(errors[1], path_ + ":4: log.level must be a string");
  EXPECT_TRUE(starts_with(errors[2], path_ + ":6: server.listen must be a string")) << errors[2];
}

TEST_F(config_file, out_of_range_is_reported_with_bounds) {
  config c;
  auto errors = load_errors(c, "[server]\nthreads = 1000\n");
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0], path_ + ":2: server.threads must be between 0 and 256");
  EXPECT_EQ(c.threads, 0u);
}

TEST_F(config_file, negative_values_are_out_of_range) {
  config c;
  auto errors =
      by_line(load_errors(c, "[server]\nmax_connections = -1\n[limits]\npublish_burst = -5.5\n"));
  ASSERT_EQ(errors.size(), 2u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0], path_ + ":2: server.max_connections must be between 1 and 1000000");
  EXPECT_TRUE(starts_with(errors[1], path_ + ":4: limits.publish_burst must be between 1 and "))
      << errors[1];
  EXPECT_EQ(c.max_connections, config{}.max_connections);
}

TEST_F(config_file, range_bounds_are_inclusive) {
  config c;
  auto errors = load_errors(c, "[server]\nthreads = 256\n[history]\nsize = 0\nttl_s = 1\n");
  ASSERT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
  EXPECT_EQ(c.threads, 256u);
  EXPECT_EQ(c.history_size, 0u);
  EXPECT_EQ(c.history_ttl, 1s);
}

TEST_F(config_file, number_out_of_range_is_rejected) {
  config c;
  auto errors = by_line(load_errors(c, "[limits]\npublish_rate = 0.0\ncommand_rate = inf\n"));
  ASSERT_EQ(errors.size(), 2u) << ::testing::PrintToString(errors);
  EXPECT_TRUE(starts_with(errors[0], path_ + ":2: limits.publish_rate must be between "))
      << errors[0];
  EXPECT_TRUE(starts_with(errors[1], path_ + ":3: limits.command_rate must be between "))
      << errors[1];
  EXPECT_DOUBLE_EQ(c.publish_rate, config{}.publish_rate) << "a rejected value is not applied";
  EXPECT_DOUBLE_EQ(c.command_rate, config{}.command_rate);
}

TEST_F(config_file, nan_number_is_rejected) {
  config c;
  auto errors = load_errors(c, "[limits]\npublish_rate = nan\n");
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_FALSE(std::isnan(c.publish_rate));
}

TEST_F(config_file, enum_values_are_checked) {
  config c;
  auto errors =
      by_line(load_errors(c, "[engine]\ntype = \"cassandra\"\n[log]\nlevel = \"verbose\"\n"));
  ASSERT_EQ(errors.size(), 2u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0], path_ + ":2: engine.type must be one of: memory embedded redis");
  EXPECT_EQ(errors[1], path_ + ":4: log.level must be one of: trace debug info warn error off");
  EXPECT_EQ(c.log_level, "info");
}

TEST_F(config_file, storage_keys_are_read_and_checked) {
  config c;
  auto errors =
      load_errors(c,
                  "[storage]\npath = \"/data/m.db\"\nsynchronous = \"full\"\nmemory_events = 64\n"
                  "cache_mb = 8\n");
  ASSERT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
  EXPECT_EQ(c.storage_path, "/data/m.db");
  EXPECT_EQ(c.storage_synchronous, "full");
  EXPECT_EQ(c.storage_memory_events, 64u);
  EXPECT_EQ(c.storage_cache_mb, 8u);
  config d;
  auto bad =
      by_line(load_errors(d,
                          "[storage]\npath = \"\"\nsynchronous = \"sometimes\"\nmemory_events = 2\n"
                          "cache_mb = 0\n"));
  ASSERT_EQ(bad.size(), 4u) << ::testing::PrintToString(bad);
  EXPECT_EQ(bad[0], path_ + ":2: storage.path must be a non-empty file path");
  EXPECT_EQ(bad[1], path_ + ":3: storage.synchronous must be one of: normal full");
  EXPECT_NE(bad[2].find("storage.memory_events"), std::string::npos) << bad[2];
  EXPECT_NE(bad[3].find("storage.cache_mb"), std::string::npos) << bad[3];
}

TEST_F(config_file, bad_listen_values_are_rejected) {
  const std::vector<std::string> bad = {
      "localhost",        // no port
      ":8080",            // no host
      "localhost:",       // empty port
      "localhost:http",   // not a number
      "localhost:65536",  // too large
      "localhost:-1",     // negative
      "localhost:80x",    // trailing garbage
  };
  for (const auto& v : bad) {
    config c;
    auto errors = load_errors(c, "[server]\nlisten = \"" + v + "\"\n");
    ASSERT_EQ(errors.size(), 1u) << v << ": " << ::testing::PrintToString(errors);
    EXPECT_TRUE(starts_with(errors[0], path_ + ":2: server.listen ")) << v << ": " << errors[0];
    EXPECT_TRUE(contains(errors[0], "port")) << errors[0];
    EXPECT_EQ(c.listen, "127.0.0.1:8080") << v;
  }
}

TEST_F(config_file, good_listen_values_are_accepted) {
  for (std::string v : {"localhost:65535", "0.0.0.0:0", "[::]:8080", "example.org:443"}) {
    config c;
    auto errors = load_errors(c, "[server]\nlisten = \"" + v + "\"\n");
    EXPECT_TRUE(errors.empty()) << v << ": " << ::testing::PrintToString(errors);
    EXPECT_EQ(c.listen, v);
  }
}

TEST_F(config_file, every_error_is_collected) {
  config c;
  auto errors = load_errors(c, R"([server]
threads = -3
bogus = 1
listen = "nope"

[history]
size = "big"
ttl_s = 3600
)");
  ASSERT_EQ(errors.size(), 4u) << ::testing::PrintToString(errors);
  std::vector<std::string> lines;
  for (const auto& e : by_line(errors)) lines.push_back(e.substr(0, e.find(": ")));
  EXPECT_EQ(lines,
            (std::vector<std::string>{path_ + ":2", path_ + ":3", path_ + ":4", path_ + ":7"}));
}

TEST_F(config_file, syntax_error_reports_its_line) {
  config c;
  auto errors =
      load_errors(c, "[server]\nthreads = 2\nlisten = = \"x\"\n[log]\nlevel = \"info\"\n");
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_TRUE(starts_with(errors[0], path_ + ":3: ")) << errors[0];
  EXPECT_GT(errors[0].size(), (path_ + ":3: ").size()) << "a description follows";
}

TEST_F(config_file, unterminated_string_reports_its_line) {
  config c;
  auto errors = load_errors(c, "[log]\n\n\nlevel = \"info\n");
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_TRUE(starts_with(errors[0], path_ + ":4: ")) << errors[0];
}

TEST_F(config_file, missing_file_is_a_config_error) {
  config c;
  auto path = (dir_ / "absent.toml").string();
  try {
    load_config_file(c, path);
    FAIL() << "no error for a missing file";
  } catch (const config_error& e) {
    ASSERT_EQ(e.errors.size(), 1u);
    EXPECT_TRUE(starts_with(e.errors[0], path + ":")) << e.errors[0];
  }
}

// ---------------------------------------------------------------------------------------------
// Environment

TEST(config_env, overrides_keys_by_section_and_name) {
  config c;
  auto errors = env_errors(c, {
                                  {"MUSTER_SERVER_LISTEN", "0.0.0.0:9000"},
                                  {"MUSTER_SERVER_THREADS", "4"},
                                  {"MUSTER_LIMITS_PUBLISH_RATE", "2.5"},
                                  {"MUSTER_LIMITS_MAX_MESSAGE_BYTES", "4096"},
                                  {"MUSTER_HISTORY_TTL_S", "60"},
                                  {"MUSTER_LOG_LEVEL", "debug"},
                              });
  ASSERT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
  EXPECT_EQ(c.listen, "0.0.0.0:9000");
  EXPECT_EQ(c.threads, 4u);
  EXPECT_DOUBLE_EQ(c.publish_rate, 2.5);
  EXPECT_EQ(c.max_message_bytes, 4096u);
  EXPECT_EQ(c.history_ttl, 60s);
  EXPECT_EQ(c.log_level, "debug");
}

TEST(config_env, quoted_string_value_is_accepted) {
  config c;
  auto errors = env_errors(c, {{"MUSTER_LOG_LEVEL", "\"warn\""}});
  ASSERT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
  EXPECT_EQ(c.log_level, "warn");
}

TEST(config_env, unrelated_variables_are_ignored) {
  config c;
  auto errors = env_errors(c, {{"PATH", "/bin"}, {"MUSTER", "x"}, {"SERVER_THREADS", "9"}});
  EXPECT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
  EXPECT_EQ(c.threads, 0u);
}

TEST(config_env, float_beyond_int64_is_an_error_naming_the_variable) {
  config c;
  auto errors = env_errors(c, {{"MUSTER_REDIS_COMMAND_TIMEOUT_MS", "1E32"}});
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_TRUE(contains(
      errors[0], "MUSTER_REDIS_COMMAND_TIMEOUT_MS: redis.command_timeout_ms must be an integer"))
      << errors[0];
}

TEST(config_env, bad_values_name_the_variable_and_are_all_collected) {
  config c;
  auto errors = env_errors(c, {
                                  {"MUSTER_SERVER_THREADS", "many"},
                                  {"MUSTER_SERVER_LISTEN", "nohost"},
                                  {"MUSTER_HISTORY_SIZE", "-1"},
                              });
  ASSERT_EQ(errors.size(), 3u) << ::testing::PrintToString(errors);
  std::string all;
  for (const auto& e : errors) all += e + "\n";
  EXPECT_TRUE(contains(all, "MUSTER_SERVER_THREADS: server.threads must be an integer")) << all;
  EXPECT_TRUE(contains(all, "MUSTER_SERVER_LISTEN: server.listen must")) << all;
  EXPECT_TRUE(contains(all, "MUSTER_HISTORY_SIZE: history.size must be between 0 and 1000000"))
      << all;
  EXPECT_EQ(c.threads, 0u);
}

TEST_F(config_file, env_overrides_the_file) {
  config c;
  auto errors = load_errors(c, "[server]\nthreads = 2\nmax_connections = 10\n");
  ASSERT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
  ASSERT_TRUE(env_errors(c, {{"MUSTER_SERVER_THREADS", "8"}}).empty());
  EXPECT_EQ(c.threads, 8u);
  EXPECT_EQ(c.max_connections, 10u);
}

TEST(config_env, process_env_reads_only_muster_variables) {
  ASSERT_EQ(::setenv("MUSTER_UNIT_TEST_VALUE", "a=b", 1), 0);
  ASSERT_EQ(::setenv("NOT_MUSTER_UNIT_TEST_VALUE", "x", 1), 0);
  auto env = process_env();
  ::unsetenv("MUSTER_UNIT_TEST_VALUE");
  ::unsetenv("NOT_MUSTER_UNIT_TEST_VALUE");
  ASSERT_TRUE(env.count("MUSTER_UNIT_TEST_VALUE"));
  EXPECT_EQ(env["MUSTER_UNIT_TEST_VALUE"], "a=b");
  EXPECT_FALSE(env.count("NOT_MUSTER_UNIT_TEST_VALUE"));
  for (const auto& [k, v] : env) EXPECT_TRUE(starts_with(k, "MUSTER_")) << k;
}

// ---------------------------------------------------------------------------------------------
// --set

TEST(config_set, overrides_keys) {
  config c;
  auto errors = set_errors(c, {"server.threads=8", "log.level=warn", "server.listen=[::1]:7000",
                               "limits.command_burst=12.5", "history.size=0"});
  ASSERT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
  EXPECT_EQ(c.threads, 8u);
  EXPECT_EQ(c.log_level, "warn");
  EXPECT_EQ(c.listen, "[::1]:7000");
  EXPECT_EQ(c.port(), 7000);
  EXPECT_DOUBLE_EQ(c.command_burst, 12.5);
  EXPECT_EQ(c.history_size, 0u);
}

TEST(config_set, later_overrides_win) {
  config c;
  ASSERT_TRUE(set_errors(c, {"server.threads=2", "server.threads=5"}).empty());
  EXPECT_EQ(c.threads, 5u);
}

TEST(config_set, value_may_contain_equals_and_dots) {
  config c;
  auto errors = set_errors(c, {"log.level=\"a=b.c\""});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(contains(errors[0], "log.level must be one of")) << errors[0];
}

TEST(config_set, allowed_origins_are_canonical_and_checked) {
  config c;
  EXPECT_TRUE(set_errors(c, {"server.allowed_origins=HTTPS://Console.Example.org:443, *"}).empty());
  EXPECT_EQ(c.allowed_origins, (std::vector<std::string>{"https://console.example.org", "*"}));
  EXPECT_TRUE(
      set_errors(c, {R"(server.allowed_origins=["http://a.example:8080", "https://b.example"])"})
          .empty());
  EXPECT_EQ(c.allowed_origins,
            (std::vector<std::string>{"http://a.example:8080", "https://b.example"}));
  auto errors = set_errors(
      c, {"server.allowed_origins=https://ok.example, ftp://x",
          "server.allowed_origins=https://x.example/path", "server.allowed_origins=[1]"});
  ASSERT_EQ(errors.size(), 3u) << ::testing::PrintToString(errors);
  EXPECT_TRUE(contains(errors[0], "server.allowed_origins entry \"ftp://x\" is not an origin"))
      << errors[0];
  EXPECT_TRUE(contains(errors[1], "entry \"https://x.example/path\" is not an origin"))
      << errors[1];
  EXPECT_TRUE(contains(errors[2], "server.allowed_origins must be an array of strings"))
      << errors[2];
}

TEST(config_set, unknown_key_is_reported) {
  config c;
  auto errors = set_errors(c, {"server.thread=8"});
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0], "--set server.thread=8: unknown key server.thread");
  errors = set_errors(c, {"nosuch.key=1"});
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0], "--set nosuch.key=1: unknown key nosuch.key");
}

TEST(config_set, malformed_override_is_reported) {
  config c;
  auto errors = set_errors(c, {"server.threads", "threads=4", "=4", "server=x.y"});
  ASSERT_EQ(errors.size(), 4u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0], "--set server.threads: expected section.key=value");
  EXPECT_EQ(errors[1], "--set threads=4: expected section.key=value");
  EXPECT_EQ(errors[2], "--set =4: expected section.key=value");
  EXPECT_EQ(errors[3], "--set server=x.y: expected section.key=value");
}

TEST(config_set, bad_values_are_all_collected) {
  config c;
  auto errors =
      set_errors(c, {"server.threads=257", "log.level=loud", "server.threads=", "history.ttl_s=0",
                     "server.drain_timeout_ms=100"});
  ASSERT_EQ(errors.size(), 4u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0], "--set server.threads=257: server.threads must be between 0 and 256");
  EXPECT_TRUE(starts_with(errors[1], "--set log.level=loud: log.level must be one of"))
      << errors[1];
  EXPECT_EQ(errors[2], "--set server.threads=: server.threads must be an integer");
  EXPECT_EQ(errors[3], "--set history.ttl_s=0: history.ttl_s must be between 1 and 31536000");
  // Valid overrides among bad ones are still applied.
  EXPECT_EQ(c.drain_timeout, 100ms);
}

TEST(config_env, string_keys_take_values_that_look_like_other_types_as_text) {
  config c;
  apply_env(c, {{"MUSTER_REDIS_PASSWORD", "123456"}, {"MUSTER_REDIS_PREFIX", "true"}});
  EXPECT_EQ(c.redis_password, "123456");
  EXPECT_EQ(c.redis_prefix, "true");
  EXPECT_THROW(apply_env(c, {{"MUSTER_SERVER_THREADS", "two"}}), config_error)
      << "typed keys stay typed";
}

TEST(config_overrides, redis_address_must_be_an_ip) {
  config c;
  EXPECT_NO_THROW(apply_overrides(c, {"redis.address=\"10.0.0.5:6380\""}));
  EXPECT_EQ(c.redis_address, "10.0.0.5:6380");
  EXPECT_THROW(apply_overrides(c, {"redis.address=\"redis.internal:6379\""}), config_error);
}

// ---------------------------------------------------------------------------------------------
// Crisis workflow keys: [auth], [crisis], [escalation], [[route]]

TEST_F(config_file, auth_crisis_escalation_and_routes_load) {
  config c;
  auto errors = load_errors(c, R"(
[auth]
enabled = true
secret = "0123456789abcdef0123"
leeway_s = 5
[crisis]
triage_channel = "triage.main"
leads_channel = "leads.oncall"
timeline_size = 5000
reminder_after_s = 30
scan_interval_ms = 250
[escalation]
sev1_escalate_after_s = 60
sev4_respond_within_s = 7200
[[route]]
sources = ["x", "reddit"]
keywords = ["recall"]
min_severity = "sev2"
channels = ["crisis.recall", "leads.oncall"]
[[route]]
tags = ["exec"]
channels = ["crisis.exec"]
)");
  ASSERT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
  EXPECT_EQ(c.auth_secret, "0123456789abcdef0123");
  EXPECT_EQ(c.auth_leeway, std::chrono::seconds(5));
  EXPECT_EQ(c.triage_channel, "triage.main");
  EXPECT_EQ(c.leads_channel, "leads.oncall");
  EXPECT_EQ(c.timeline_size, 5000u);
  EXPECT_EQ(c.reminder_after, std::chrono::seconds(30));
  EXPECT_EQ(c.scan_interval, std::chrono::milliseconds(250));
  EXPECT_EQ(c.escalation.escalate_after[crisis::severity::sev1], std::chrono::seconds(60));
  EXPECT_EQ(c.escalation.escalate_after[crisis::severity::sev2], std::chrono::seconds(300));
  EXPECT_EQ(c.escalation.respond_within[crisis::severity::sev4], std::chrono::seconds(7200));
  ASSERT_EQ(c.routes.size(), 2u);
  EXPECT_EQ(c.routes[0].sources, (std::vector<std::string>{"x", "reddit"}));
  EXPECT_EQ(c.routes[0].keywords, (std::vector<std::string>{"recall"}));
  EXPECT_EQ(c.routes[0].min_severity, crisis::severity::sev2);
  EXPECT_EQ(c.routes[0].channels, (std::vector<std::string>{"crisis.recall", "leads.oncall"}));
  EXPECT_EQ(c.routes[1].tags, (std::vector<std::string>{"exec"}));
  EXPECT_NO_THROW(validate(c));
}

TEST_F(config_file, bad_routes_and_crisis_keys_name_what_is_wrong) {
  config c;
  auto errors = by_line(load_errors(c, R"([[route]]
sources = "x"
channels = ["ok"]
[[route]]
min_severity = "sev9"
channels = ["bad channel"]
[[route]]
keywords = ["x"]
colour = "red"
[crisis]
triage_channel = "no spaces allowed"
[escalation]
sev2_escalate_after_s = 0
)"));
  ASSERT_EQ(errors.size(), 7u) << ::testing::PrintToString(errors);
  EXPECT_TRUE(contains(errors[0], "route.sources must be an array")) << errors[0];
  EXPECT_TRUE(contains(errors[1], "route.channels: \"bad channel\" is not a valid channel name"))
      << errors[1];
  EXPECT_TRUE(contains(errors[2], "route.min_severity must be one of")) << errors[2];
  EXPECT_TRUE(contains(errors[3], "unknown key route.colour")) << errors[3];
  EXPECT_TRUE(contains(errors[4], "route.channels must name at least one")) << errors[4];
  EXPECT_TRUE(contains(errors[5], "crisis.triage_channel must be a valid channel name"))
      << errors[5];
  EXPECT_TRUE(contains(errors[6], "escalation.sev2_escalate_after_s must be between")) << errors[6];
}

TEST(config_auth, auth_needs_a_secret_unless_explicitly_disabled) {
  config c;
  EXPECT_TRUE(c.auth_enabled);  // on by default
  EXPECT_THROW(validate(c), config_error);
  apply_env(c, {{"MUSTER_AUTH_SECRET", "short"}});
  EXPECT_THROW(validate(c), config_error);
  apply_env(c, {{"MUSTER_AUTH_SECRET", "a-long-enough-secret"}});
  EXPECT_NO_THROW(validate(c));
  config off;
  apply_overrides(off, {"auth.enabled=false"});
  EXPECT_NO_THROW(validate(off));
  // Numeric-looking secrets stay text.
  config num;
  apply_env(num, {{"MUSTER_AUTH_SECRET", "12345678901234567890"}});
  EXPECT_EQ(num.auth_secret, "12345678901234567890");
}

TEST_F(config_file, spike_settings_load_with_per_channel_overrides) {
  config c;
  ASSERT_TRUE(load_errors(c, R"([spike]
window_s = 300
factor = 4
raise_severity = true
viral_reach_factor = 8.5
viral_min_reach = 5000
[spike.channels."crisis.recall"]
window_s = 60
min_alerts = 3
[spike.channels.quiet]
enabled = false
[crisis]
approval_escalate_after_s = 120
[drill]
target_first_claim_s = 90
target_answered_share = 0.75
)")
                  .empty());
  apply_overrides(c, {"auth.enabled=false", "spike.rearm_factor=2"});
  EXPECT_NO_THROW(validate(c));
  auto o = c.crisis_options();
  EXPECT_EQ(o.spike.policy.window, std::chrono::seconds(300));
  EXPECT_EQ(o.spike.policy.factor, 4.0);
  EXPECT_EQ(o.spike.policy.rearm_factor, 2.0);
  EXPECT_TRUE(o.spike.raise_severity);
  const auto& recall = o.spike_for("crisis.recall");
  EXPECT_EQ(recall.policy.window, std::chrono::seconds(60)) << "its own";
  EXPECT_EQ(recall.policy.min_alerts, 3u);
  EXPECT_EQ(recall.policy.factor, 4.0) << "the rest from [spike]";
  EXPECT_EQ(recall.policy.rearm_factor, 2.0) << "including what --set changed";
  EXPECT_FALSE(o.spike_for("quiet").enabled);
  EXPECT_TRUE(o.spike_for("elsewhere").enabled);
  EXPECT_EQ(o.viral.factor, 8.5);
  EXPECT_EQ(o.viral.min_reach, 5000u);
  EXPECT_EQ(o.approval_escalate_after, std::chrono::seconds(120));
  EXPECT_EQ(o.drill.first_claim, std::chrono::seconds(90));
  EXPECT_EQ(o.drill.answered_share, 0.75);
}

TEST_F(config_file, spike_settings_out_of_range_name_file_and_line) {
  config c;
  auto errors = by_line(load_errors(c, R"([spike]
window_s = 5
factor = 0.5
viral_reach_factor = 1.01
colour = 1
[spike.channels."bad name"]
factor = 2
[spike.channels.ok]
min_alerts = -1
baseline_s = "long"
)"));
  ASSERT_EQ(errors.size(), 7u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0], path_ + ":2: spike.window_s must be between 10 and 86400");
  EXPECT_EQ(errors[1], path_ + ":3: spike.factor must be between 1.1 and 1000");
  EXPECT_EQ(errors[2], path_ + ":4: spike.viral_reach_factor must be 0 (off) or at least 1.1");
  EXPECT_EQ(errors[3], path_ + ":5: unknown key spike.colour");
  EXPECT_TRUE(contains(errors[4], ":6: spike.channels: \"bad name\" is not a valid channel name"))
      << errors[4];
  EXPECT_EQ(errors[5], path_ + ":9: spike.channels.ok.min_alerts must be between 1 and 100000");
  EXPECT_EQ(errors[6], path_ + ":10: spike.channels.ok.baseline_s must be an integer");
}

TEST_F(config_file, spike_settings_that_disagree_are_a_start_up_error_at_their_line) {
  config c;
  ASSERT_TRUE(load_errors(c, R"([auth]
enabled = false
[spike]
factor = 2
rearm_factor = 2.5
[spike.channels.fast]
factor = 3
window_s = 7200
baseline_s = 3600
[spike.channels.fine]
factor = 3
window_s = 10
baseline_s = 20000
)")
                  .empty());
  try {
    validate(c);
    FAIL() << "accepted";
  } catch (const config_error& e) {
    ASSERT_EQ(e.errors.size(), 3u) << ::testing::PrintToString(e.errors);
    EXPECT_EQ(e.errors[0], path_ + ":3: spike rearm_factor must be below factor");
    EXPECT_EQ(e.errors[1], path_ + ":6: spike.channels.fast baseline_s must be at least window_s");
    EXPECT_EQ(e.errors[2],
              path_ + ":10: spike.channels.fine baseline_s must be at most 1000 times window_s");
  }
}

TEST_F(config_file, spike_channels_must_be_tables_and_the_other_new_keys_have_ranges) {
  config c;
  auto errors = by_line(load_errors(c, R"([spike]
viral_min_reach = -1
channels = 3
[crisis]
approval_escalate_after_s = 5
[drill]
target_answered_share = 1.5
)"));
  ASSERT_EQ(errors.size(), 4u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0], path_ + ":2: spike.viral_min_reach must be between 0 and 1000000000000000");
  EXPECT_TRUE(contains(errors[1], ":3: spike.channels must be a table of tables")) << errors[1];
  EXPECT_EQ(errors[2],
            path_ + ":5: crisis.approval_escalate_after_s must be between 10 and 604800");
  EXPECT_EQ(errors[3], path_ + ":7: drill.target_answered_share must be between 0 and 1");
}

TEST(config_tls, files_go_together_and_versions_and_listeners_are_checked) {
  config c;
  apply_overrides(c, {"auth.enabled=false"});
  EXPECT_TRUE(set_errors(c, {"tls.cert_file=/etc/muster/tls/fullchain.pem",
                             "tls.key_file=/etc/muster/tls/privkey.pem", "tls.min_version=1.3",
                             "server.internal_listen=127.0.0.1:9100"})
                  .empty());
  EXPECT_TRUE(c.tls());
  EXPECT_EQ(c.tls_min_version, "1.3");
  EXPECT_EQ(config::host_of(c.internal_listen), "127.0.0.1");
  EXPECT_EQ(config::port_of(c.internal_listen), 9100);
  EXPECT_NO_THROW(validate(c));
  auto errors =
      set_errors(c, {"tls.min_version=1.1", "server.internal_listen=9100", "tls.allow_plain=yes"});
  ASSERT_EQ(errors.size(), 3u) << ::testing::PrintToString(errors);
  EXPECT_TRUE(contains(errors[0], "tls.min_version")) << errors[0];
  EXPECT_TRUE(contains(errors[1], "host:port")) << errors[1];
  EXPECT_TRUE(contains(errors[2], "true or false")) << errors[2];
  config no_key;
  apply_overrides(no_key, {"auth.enabled=false", "tls.cert_file=/x.pem"});
  EXPECT_THROW(validate(no_key), config_error);
  config plain_only;
  apply_overrides(plain_only, {"auth.enabled=false", "tls.allow_plain=true"});
  EXPECT_THROW(validate(plain_only), config_error);
  config same;
  apply_overrides(same, {"auth.enabled=false", "server.listen=127.0.0.1:8080",
                         "server.internal_listen=127.0.0.1:8080"});
  EXPECT_THROW(validate(same), config_error);
  apply_overrides(same, {"server.internal_listen=\"\""});
  EXPECT_NO_THROW(validate(same)) << "an empty internal_listen: none";
}
