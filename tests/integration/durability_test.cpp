// The embedded engine's promise, proved with real processes: what musterd acknowledged is there
// after a clean restart and after kill -9, exactly once and in order; what fell due while it was
// down happens once when it is back.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "clients/lib/blocking_client.hpp"
#include "tests/integration/server_process.hpp"

using namespace muster;
using namespace muster::test;
using namespace std::chrono_literals;
namespace dom = simdjson::dom;

namespace {

class durability : public ::testing::Test {
 protected:
  durability() {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("muster-durability-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
  }
  ~durability() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // A node on this test's database (the embedded engine is the default).
  std::unique_ptr<server_process> start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "--set", "storage.path=\"" + (dir_ / "muster.db").string() + "\"",
        "--set", "limits.publish_rate=100000",
        "--set", "limits.publish_burst=100000",
        "--set", "limits.command_rate=100000",
        "--set", "limits.command_burst=100000"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto s = std::make_unique<server_process>(args);
    EXPECT_TRUE(eventually([&] {
      try {
        return http_get(s->port(), "/readyz").first == 200;
      } catch (const std::exception&) {
        return false;
      }
    })) << s->log();
    return s;
  }
  std::filesystem::path dir_;
};

std::string ok(client::blocking_client& c, std::string_view op, std::string_view fields) {
  auto r = c.call(op, fields);
  EXPECT_FALSE(r.is_error) << op << " " << fields << " -> " << r.raw;
  return r.result;
}

// Every event of `channel` as offset -> frame, paging with `history`.
std::map<std::uint64_t, std::string> stream_of(client::blocking_client& c,
                                               const std::string& channel) {
  std::map<std::uint64_t, std::string> out;
  dom::parser p;
  std::uint64_t since = 0;
  for (int page = 0; page < 200; ++page) {
    auto r = c.call("history", R"("channel":")" + channel + R"(","since":)" +
                                   std::to_string(since) + R"(,"limit":1000)");
    EXPECT_FALSE(r.is_error) << r.raw;
    dom::array pubs;
    if (p.parse(r.result).get_object()["publications"].get_array().get(pubs) || pubs.size() == 0)
      break;
    for (auto e : pubs) {
      std::uint64_t offset = 0;
      if (e["offset"].get_uint64().get(offset)) continue;
      out[offset] = simdjson::minify(e);
      since = std::max(since, offset);
    }
  }
  return out;
}

}  // namespace

TEST_F(durability, a_restart_keeps_streams_alerts_claims_guidance_timeline_and_stats) {
  std::map<std::string, std::string> before;
  std::string epoch;
  {
    auto s = start();
    auto c = connect_client(*s, "lea");
    for (int i = 1; i <= 5; ++i)
      ok(*c, "publish", R"("channel":"chat","data":)" + std::to_string(i));
    ok(*c, "channel.create", R"("channel":"crisis.r","title":"Recall")");
    for (int i = 1; i <= 3; ++i)
      ok(*c, "alert.push",
         R"("source":"x","url":"https://x.com/a/status/)" + std::to_string(i) + R"(")");
    auto list = ok(*c, "alert.list", R"("channel":"triage")");
    dom::parser p;
    std::string_view first;
    ASSERT_FALSE(p.parse(list)["alerts"].at(0)["id"].get_string().get(first));
    ok(*c, "alert.claim", R"("channel":"triage","alert":")" + std::string(first) + R"(")");
    auto posted =
        ok(*c, "guidance.post",
           R"("channel":"crisis.r","kind":"holding_statement","title":"Hold","body":"b")");
    std::string_view gid;
    ASSERT_FALSE(p.parse(posted)["guidance"]["id"].get_string().get(gid));
    ok(*c, "guidance.ack", R"("channel":"crisis.r","guidance":")" + std::string(gid) + R"(")");
    before["alerts"] = ok(*c, "alert.list", R"("channel":"triage")");
    before["status"] = ok(*c, "guidance.status",
                          R"("channel":"crisis.r","guidance":")" + std::string(gid) + R"(")");
    before["channels"] = ok(*c, "channel.list", "");
    before["timeline"] = http_get(s->port(), "/api/v1/channels/triage/timeline").second;
    before["crisis"] = http_get(s->port(), "/api/v1/channels/crisis.r/timeline").second;
    before["stats"] = http_get(s->port(), "/api/v1/stats").second;
    auto chat = stream_of(*c, "chat");
    ASSERT_EQ(chat.size(), 5u);
    std::string_view e;
    ASSERT_FALSE(p.parse(chat.begin()->second)["epoch"].get_string().get(e));
    epoch = e;
    c->close();
    EXPECT_EQ(s->stop(), 0) << s->log();
  }
  auto s = start();
  auto c = connect_client(*s, "lea");
  EXPECT_EQ(ok(*c, "alert.list", R"("channel":"triage")"), before["alerts"]);
  dom::parser p;
  std::string_view gid;
  ASSERT_FALSE(p.parse(before["status"])["guidance"]["id"].get_string().get(gid));
  EXPECT_EQ(
      ok(*c, "guidance.status", R"("channel":"crisis.r","guidance":")" + std::string(gid) + R"(")"),
      before["status"]);
  EXPECT_EQ(ok(*c, "channel.list", ""), before["channels"]);
  EXPECT_EQ(http_get(s->port(), "/api/v1/channels/triage/timeline").second, before["timeline"]);
  EXPECT_EQ(http_get(s->port(), "/api/v1/channels/crisis.r/timeline").second, before["crisis"]);
  EXPECT_EQ(http_get(s->port(), "/api/v1/stats").second, before["stats"]);
  // A client that had seen offset 3 before the restart gets exactly 4 and 5.
  auto sub =
      ok(*c, "subscribe", R"("channel":"chat","recover":{"offset":3,"epoch":")" + epoch + R"("})");
  EXPECT_NE(sub.find(R"("recovered":true)"), std::string::npos) << sub;
  EXPECT_NE(sub.find(R"("missed":2)"), std::string::npos) << sub;
  for (std::uint64_t want : {4u, 5u}) {
    auto ev = c->next_event(5s);
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->offset, want);
  }
  EXPECT_FALSE(c->next_event(200ms));
}

TEST_F(durability, after_kill_9_every_acknowledged_publish_and_push_is_there_once_in_order) {
  constexpr int publishers = 4;
  struct acked {
    std::mutex m;
    std::map<std::string, std::map<std::uint64_t, std::string>> publishes;  // channel: offset->data
    std::set<std::string> alerts;
  } acks;
  std::map<std::string, std::map<std::uint64_t, std::string>> seen;  // by a live subscriber
  std::vector<std::string> keep_all = {"--set", "history.size=1000000"};
  auto s = start(keep_all);
  auto watcher = connect_client(*s, "watcher");
  for (int p = 0; p < publishers; ++p)
    ok(*watcher, "subscribe", R"("channel":"p)" + std::to_string(p) + R"(")");
  std::atomic<bool> go{true};
  std::vector<std::thread> threads;
  for (int p = 0; p < publishers; ++p)
    threads.emplace_back([&, p] {
      try {
        auto c = connect_client(*s, "pub" + std::to_string(p));
        std::string channel = "p" + std::to_string(p);
        for (int round = 0; round < 10000 && go; ++round) {
          std::vector<std::pair<std::string, std::uint64_t>> sent;
          for (int i = 0; i < 50; ++i) {
            auto data = "\"" + channel + "-" + std::to_string(round * 50 + i) + "\"";
            sent.emplace_back(data, c->send_command("publish", R"("channel":")" + channel +
                                                                   R"(","data":)" + data));
          }
          for (auto& [data, id] : sent) {
            auto r = c->wait_reply(id, 5s);
            if (r.is_error) continue;
            dom::parser parser;
            std::uint64_t offset = 0;
            if (parser.parse(r.result)["offset"].get_uint64().get(offset)) continue;
            std::lock_guard l(acks.m);
            acks.publishes[channel][offset] = data;
          }
        }
      } catch (const std::exception&) {
        // The server died under us: what was acknowledged so far is what counts.
      }
    });
  threads.emplace_back([&] {
    for (int i = 0; i < 100000 && go; ++i) {
      try {
        auto r = http_request(
            s->port(), "POST", "/api/v1/alerts",
            R"({"source":"x","url":"https://x.com/crash/status/)" + std::to_string(i) + R"("})");
        if (r.status != 202) continue;
        dom::parser parser;
        std::string_view id;
        if (parser.parse(r.body)["alert"]["id"].get_string().get(id)) continue;
        std::lock_guard l(acks.m);
        acks.alerts.emplace(id);
      } catch (const std::exception&) {
        return;
      }
    }
  });
  // Let them run flat out, then pull the plug.
  ASSERT_TRUE(eventually(
      [&] {
        std::lock_guard l(acks.m);
        return acks.alerts.size() > 20 && acks.publishes.size() == publishers &&
               acks.publishes["p0"].size() > 300;
      },
      20s));
  while (auto ev = watcher->next_event(1ms)) seen[ev->channel][ev->offset] = ev->raw;
  s->kill_hard();
  go = false;
  for (auto& t : threads) t.join();
  while (auto ev = watcher->next_event(10ms)) seen[ev->channel][ev->offset] = ev->raw;

  auto again = start(keep_all);
  auto c = connect_client(*again, "auditor");
  for (auto& [channel, published] : acks.publishes) {
    auto stored = stream_of(*c, channel);
    ASSERT_FALSE(stored.empty()) << channel;
    EXPECT_EQ(stored.begin()->first, 1u);
    EXPECT_EQ(stored.rbegin()->first, stored.size()) << channel << ": offsets without a hole";
    std::set<std::string> values;
    for (auto& [offset, frame] : stored) {
      dom::parser parser;
      std::string_view data;
      ASSERT_FALSE(parser.parse(frame)["data"].get_string().get(data)) << frame;
      EXPECT_TRUE(values.insert(std::string(data)).second) << data << " stored twice";
    }
    for (auto& [offset, data] : published) {
      ASSERT_TRUE(stored.count(offset)) << channel << " acknowledged offset " << offset << " lost";
      EXPECT_NE(stored[offset].find(data), std::string::npos)
          << channel << "@" << offset << " holds something else";
    }
    // What a subscriber received live is exactly what the server has after the crash.
    for (auto& [offset, raw] : seen[channel]) {
      ASSERT_TRUE(stored.count(offset)) << channel << "@" << offset << " seen live, then lost";
      EXPECT_EQ(stored[offset], raw);
    }
  }
  std::string listed = ok(*c, "alert.list", R"("channel":"triage","limit":10000)");
  for (auto& id : acks.alerts) EXPECT_NE(listed.find(id), std::string::npos) << id << " lost";
}

TEST_F(durability, an_escalation_due_while_the_server_was_down_fires_once_after_it_starts) {
  std::vector<std::string> fast = {"--set", "escalation.sev1_escalate_after_s=1", "--set",
                                   "crisis.scan_interval_ms=50"};
  auto pushed_at = std::chrono::steady_clock::now();
  {
    auto s = start(fast);
    auto c = connect_client(*s, "bot");
    ok(*c, "alert.push", R"("source":"x","url":"https://x.com/due/status/1","severity":"sev1")");
    c->close();
    EXPECT_EQ(s->stop(), 0);
  }
  ASSERT_LT(std::chrono::steady_clock::now() - pushed_at, 1s) << "stopped before it was due";
  std::this_thread::sleep_until(pushed_at + 1500ms);  // it falls due while nothing runs
  auto s = start(fast);
  auto c = connect_client(*s, "lea");
  auto count = [&](const std::string& channel) {
    int n = 0;
    for (auto& [offset, frame] : stream_of(*c, channel))
      n += frame.find(R"("event":"alert.escalated")") != std::string::npos;
    return n;
  };
  ASSERT_TRUE(eventually([&] { return count("triage") > 0; }, 5s)) << s->log();
  std::this_thread::sleep_for(300ms);  // several more scans: none may raise it again
  EXPECT_EQ(count("triage"), 1);
  EXPECT_EQ(count("leads"), 1);
}

namespace {
// A small tmpfs of the test's own, so that the disk can fill up on purpose.
struct small_disk {
  explicit small_disk(const std::filesystem::path& at) : path(at) {
    std::filesystem::create_directories(path);
    mounted =
        std::system(
            ("mount -t tmpfs -o size=4m tmpfs '" + path.string() + "' 2>/dev/null").c_str()) == 0;
  }
  ~small_disk() {
    if (mounted) (void)std::system(("umount -l '" + path.string() + "'").c_str());
  }
  bool remount(const std::string& how) {
    return std::system(("mount -o remount," + how + " '" + path.string() + "'").c_str()) == 0;
  }
  std::filesystem::path path;
  bool mounted = false;
};
}  // namespace

TEST_F(durability, an_unusable_storage_path_stops_start_up_with_a_clear_message) {
  // server_process reports a musterd that exits at start-up with its log.
  auto refusal = [](const std::string& path) -> std::string {
    try {
      server_process s({"--set", "storage.path=\"" + path + "\""});
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "started";
  };
  std::ofstream(dir_ / "not-a-dir") << "x";
  auto bad_dir = refusal((dir_ / "not-a-dir" / "m.db").string());
  EXPECT_NE(bad_dir.find("storage.path"), std::string::npos) << bad_dir;
  EXPECT_NE(bad_dir.find("not-a-dir"), std::string::npos) << bad_dir;
  std::ofstream(dir_ / "garbage.db") << std::string(8192, 'g');
  auto garbage = refusal((dir_ / "garbage.db").string());
  EXPECT_NE(garbage.find("garbage.db"), std::string::npos) << garbage;
  EXPECT_NE(garbage.find("not a database"), std::string::npos) << garbage;
  small_disk read_only(dir_ / "ro");
  if (!read_only.mounted || !read_only.remount("ro")) return;  // may not mount here
  auto on_ro = refusal((read_only.path / "m.db").string());
  EXPECT_NE(on_ro.find("storage.path"), std::string::npos) << on_ro;
  EXPECT_NE(on_ro.find("Read-only file system"), std::string::npos) << on_ro;
}

TEST_F(durability, a_backup_taken_while_the_server_writes_opens_as_a_consistent_copy) {
  auto s = start({"--set", "history.size=100000"});
  auto c = connect_client(*s, "writer");
  std::vector<std::uint64_t> ids;
  for (int i = 1; i <= 200; ++i)
    ids.push_back(c->send_command("publish", R"("channel":"b","data":)" + std::to_string(i)));
  for (auto id : ids) ASSERT_FALSE(c->wait_reply(id).is_error);
  std::atomic<bool> go{true};
  std::thread writer([&] {
    auto w = connect_client(*s, "busy");
    for (int i = 0; i < 100000 && go; ++i)
      w->call("publish", R"("channel":"busy","data":)" + std::to_string(i));
  });
  auto copy = (dir_ / "copy.db").string();
  std::string cmd = "timeout 60 " + std::string(MUSTER_CLI_PATH) + " admin backup --storage '" +
                    (dir_ / "muster.db").string() + "' '" + copy + "' > '" +
                    (dir_ / "backup.out").string() + "' 2>&1";
  int rc = std::system(cmd.c_str());
  go = false;
  writer.join();
  std::ifstream out(dir_ / "backup.out");
  std::string said((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  ASSERT_EQ(rc, 0) << said;
  EXPECT_NE(said.find("backed up"), std::string::npos) << said;
  auto original = stream_of(*c, "busy");
  c->close();
  s->stop();
  // The copy is a database musterd opens, holding a prefix of what was written: no hole.
  auto restored = std::make_unique<server_process>(std::vector<std::string>{
      "--set", "storage.path=\"" + copy + "\"", "--set", "history.size=100000"});
  auto r = connect_client(*restored, "reader");
  auto b = stream_of(*r, "b");
  EXPECT_EQ(b.size(), 200u) << "written before the backup began";
  auto busy = stream_of(*r, "busy");
  ASSERT_FALSE(busy.empty());
  EXPECT_EQ(busy.rbegin()->first, busy.size()) << "a prefix, offsets without a hole";
  for (auto& [offset, frame] : busy) EXPECT_EQ(frame, original[offset]);
}

TEST_F(durability, a_full_disk_refuses_writes_says_so_and_recovers) {
  small_disk disk(dir_ / "disk");
  if (!disk.mounted) GTEST_SKIP() << "this machine does not let the test mount a tmpfs";
  auto s = start({"--set", "storage.path=\"" + (disk.path / "muster.db").string() + "\"", "--set",
                  "history.size=100000"});
  auto c = connect_client(*s, "filler");
  std::string big = "\"" + std::string(16 * 1024, 'x') + "\"";
  std::map<std::uint64_t, std::string> acked;
  int refused = 0;
  for (int i = 0; i < 2000 && refused < 3; ++i) {
    auto r = c->call("publish", R"("channel":"full","data":)" + big);
    if (!r.is_error) {
      acked[std::stoull(r.result.substr(r.result.find(':') + 1))] = big;
    } else {
      EXPECT_EQ(r.error_code, "unavailable") << r.raw;
      ++refused;
    }
  }
  ASSERT_GT(refused, 0) << "4 MiB never filled up";
  EXPECT_EQ(http_get(s->port(), "/readyz").first, 503);
  EXPECT_NE(http_get(s->port(), "/metrics").second.find("muster_storage_up 0"), std::string::npos);
  EXPECT_NE(s->log().find("muster.db"), std::string::npos) << "the log names the file";
  ASSERT_TRUE(disk.remount("size=64m"));  // space again
  EXPECT_TRUE(
      eventually([&] { return !c->call("publish", R"("channel":"full","data":1)").is_error; }));
  EXPECT_EQ(http_get(s->port(), "/readyz").first, 200);
  // Nothing acknowledged was lost, nothing refused was stored.
  auto stored = stream_of(*c, "full");
  for (auto& [offset, data] : acked) EXPECT_TRUE(stored.count(offset)) << offset << " lost";
  EXPECT_EQ(stored.rbegin()->first, stored.size()) << "no hole where refusals were";
  c->close();
  s->stop();
}

TEST_F(durability, closed_alerts_are_kept_on_disk_only_and_still_answer_after_a_restart) {
  std::map<std::string, std::string> before;
  std::vector<std::string> ids;
  {
    auto s = start();
    auto c = connect_client(*s, "lea");
    for (int i = 1; i <= 12; ++i)
      ok(*c, "alert.push",
         R"("source":"x","url":"https://x.com/c/status/)" + std::to_string(i) + R"(")");
    dom::parser p;
    dom::array alerts;
    ASSERT_FALSE(
        p.parse(ok(*c, "alert.list", R"("channel":"triage")"))["alerts"].get_array().get(alerts));
    for (auto a : alerts) ids.emplace_back(std::string_view(a["id"].get_string()));
    ASSERT_EQ(ids.size(), 12u);
    for (std::size_t i = 0; i < 10; ++i)
      ok(*c, "alert.dismiss", R"("channel":"triage","alert":")" + ids[i] + R"(")");
    auto metrics = http_get(s->port(), "/metrics").second;
    EXPECT_NE(metrics.find("muster_storage_documents{where=\"disk\"} 10\n"), std::string::npos)
        << metrics;
    before["list"] = ok(*c, "alert.list", R"("channel":"triage")");
    before["get"] = ok(*c, "alert.get", R"("channel":"triage","alert":")" + ids[3] + R"(")");
    before["stats"] = http_get(s->port(), "/api/v1/stats").second;
    c->close();
    EXPECT_EQ(s->stop(), 0) << s->log();
  }
  auto s = start();
  auto metrics = http_get(s->port(), "/metrics").second;
  EXPECT_NE(metrics.find("muster_storage_documents{where=\"disk\"} 10\n"), std::string::npos)
      << "read back as keys only: " << metrics;
  auto c = connect_client(*s, "lea");
  EXPECT_EQ(ok(*c, "alert.list", R"("channel":"triage")"), before["list"]);
  EXPECT_EQ(ok(*c, "alert.get", R"("channel":"triage","alert":")" + ids[3] + R"(")"),
            before["get"]);
  EXPECT_NE(before["get"].find(R"("status":"dismissed")"), std::string::npos) << before["get"];
  EXPECT_EQ(http_get(s->port(), "/api/v1/stats").second, before["stats"]);
  // A closed alert is still refused as closed, with its state read from the file.
  auto again = c->call("alert.dismiss", R"("channel":"triage","alert":")" + ids[3] + R"(")");
  EXPECT_TRUE(again.is_error) << again.raw;
  ok(*c, "alert.resolve", R"("channel":"triage","alert":")" + ids[11] + R"(")");
  EXPECT_NE(
      http_get(s->port(), "/metrics").second.find("muster_storage_documents{where=\"disk\"} 11\n"),
      std::string::npos);
  c->close();
}

namespace {
// An ext4 image of the test's own on a loop device, mounted so that a file-system error turns it
// read-only (errors=remount-ro), as a failing disk would.
struct ext4_disk {
  ext4_disk(const std::filesystem::path& file, const std::filesystem::path& at)
      : image(file), path(at) {
    std::filesystem::create_directories(path);
    mounted = sh("truncate -s 64M '" + image.string() + "' && mkfs.ext4 -q -F '" + image.string() +
                 "' >/dev/null 2>&1") &&
              mount();
  }
  ~ext4_disk() {
    if (mounted)
      sh("umount '" + path.string() + "' 2>/dev/null || umount -l '" + path.string() + "'");
  }
  static bool sh(const std::string& cmd) { return std::system(cmd.c_str()) == 0; }
  bool mount() {
    return sh("mount -o loop,errors=remount-ro '" + image.string() + "' '" + path.string() +
              "' 2>/dev/null");
  }
  // What the kernel does on a metadata error: the file system goes read-only under open files.
  bool fail() {
    std::string dev;
    if (FILE* f = ::popen(("findmnt -n -o SOURCE '" + path.string() + "'").c_str(), "r")) {
      char buf[256] = {};
      if (std::fgets(buf, sizeof buf, f)) dev = buf;
      ::pclose(f);
    }
    while (!dev.empty() && (dev.back() == '\n' || dev.back() == ' ')) dev.pop_back();
    auto name = std::filesystem::path(dev).filename().string();
    std::ofstream trigger("/sys/fs/ext4/" + name + "/trigger_fs_error");
    trigger << "muster test\n";
    return !name.empty() && static_cast<bool>(trigger.flush());
  }
  // What an operator does before starting musterd again: unmount, check, mount.
  bool repair() {
    return sh("umount '" + path.string() + "'") &&
           std::system(("e2fsck -fy '" + image.string() + "' >/dev/null 2>&1").c_str()) != -1 &&
           mount();
  }
  std::filesystem::path image, path;
  bool mounted = false;
};
}  // namespace

TEST_F(durability, a_file_system_turned_read_only_refuses_writes_and_loses_nothing_acknowledged) {
  ext4_disk disk(dir_ / "ext4.img", dir_ / "ext4");
  if (!disk.mounted) GTEST_SKIP() << "this machine does not let the test mount an ext4 image";
  auto db = (disk.path / "muster.db").string();
  // full: acknowledged means on the device, so even a file system that fails keeps it.
  std::vector<std::string> on_disk = {"--set", "storage.path=\"" + db + "\"", "--set",
                                      "storage.synchronous=\"full\""};
  std::set<std::uint64_t> acked;
  {
    auto s = start(on_disk);
    auto c = connect_client(*s, "writer");
    for (int i = 1; i <= 50; ++i) {
      auto r = c->call("publish", R"("channel":"ro","data":)" + std::to_string(i));
      ASSERT_FALSE(r.is_error) << r.raw;
      acked.insert(std::stoull(r.result.substr(r.result.find(':') + 1)));
    }
    ok(*c, "alert.push", R"("source":"x","url":"https://x.com/ro/status/1")");
    ASSERT_TRUE(disk.fail());
    int refused = 0;
    for (int i = 0; i < 5; ++i) {
      auto r = c->call("publish", R"("channel":"ro","data":"late")");
      if (!r.is_error) continue;  // a write that was already stored when the error struck
      EXPECT_EQ(r.error_code, "unavailable") << r.raw;
      ++refused;
    }
    EXPECT_EQ(refused, 5);
    EXPECT_EQ(http_get(s->port(), "/readyz").first, 503);
    EXPECT_NE(http_get(s->port(), "/metrics").second.find("muster_storage_up 0"),
              std::string::npos);
    EXPECT_NE(s->log().find(db), std::string::npos) << "the log names the file: " << s->log();
    EXPECT_NE(s->log().find("disk I/O error"), std::string::npos) << "and SQLite's error";
    // Reading goes on: what was acknowledged is still served.
    auto seen = stream_of(*c, "ro");
    EXPECT_EQ(seen.size(), acked.size());
    c->close();
    EXPECT_EQ(s->stop(), 0) << "a clean stop even with a failed disk: " << s->log();
  }
  ASSERT_TRUE(disk.repair());
  auto s = start(on_disk);
  auto c = connect_client(*s, "reader");
  auto stored = stream_of(*c, "ro");
  std::set<std::uint64_t> offsets;
  for (auto& [offset, frame] : stored) offsets.insert(offset);
  EXPECT_EQ(offsets, acked) << "every acknowledged publish, nothing refused";
  EXPECT_NE(ok(*c, "alert.list", R"("channel":"triage")").find("x.com/ro/status/1"),
            std::string::npos);
  EXPECT_FALSE(c->call("publish", R"("channel":"ro","data":"again")").is_error);
  c->close();
}
