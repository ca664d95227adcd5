#include "server/crisis/people.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>

#include "server/auth/roles.hpp"
#include "server/crisis/fan_in.hpp"
#include "server/crisis/keys.hpp"
#include "server/crisis/store.hpp"

namespace muster::server::crisis::people {

using protocol::errc;
using protocol::json_writer;

namespace {

const std::string& people_channel() {
  static const std::string name(keys::people_channel);
  return name;
}

void add_channel(std::vector<std::string>& channels, const std::string& channel) {
  auto it = std::find(channels.begin(), channels.end(), channel);
  if (it != channels.end()) channels.erase(it);  // the newest join goes last
  channels.push_back(channel);
  if (channels.size() > max_person_channels) channels.erase(channels.begin());
}

}  // namespace

bool tracker::seen(const actor& who, std::string_view channel, std::int64_t now, sighting& out) {
  std::lock_guard lock(mutex_);
  const auto& user = who.id.subject;
  auto it = pending_.find(user);
  if (it == pending_.end()) it = pending_.emplace(user, sighting{user, {}, {}, 0, {}}).first;
  auto& s = it->second;
  s.name = who.id.name;
  s.role = std::string(auth::role_name(who.id.role));
  s.at = std::max(s.at, now);
  if (!channel.empty()) add_channel(s.channels, std::string(channel));
  if (known_.count(user)) return false;
  if (known_.size() >= max_known) known_.clear();  // bounded: at worst some early writes
  known_.insert(user);
  out = std::move(s);
  pending_.erase(it);
  return true;
}

std::vector<sighting> tracker::take() {
  std::lock_guard lock(mutex_);
  std::vector<sighting> out;
  out.reserve(pending_.size());
  for (auto& [user, s] : pending_) out.push_back(std::move(s));
  pending_.clear();
  return out;
}

bool merge(person_record& rec, const sighting& s) {
  bool changed = rec.user.empty();
  if (changed) {
    rec.user = s.user;
    rec.first_seen = s.at;
  }
  if (rec.name != s.name || rec.role != s.role) changed = true;
  rec.name = s.name;
  rec.role = s.role;
  for (auto& c : s.channels) {
    if (std::find(rec.channels.begin(), rec.channels.end(), c) == rec.channels.end())
      changed = true;
    add_channel(rec.channels, c);
  }
  constexpr std::int64_t minute = 60'000;
  if (s.at >= rec.last_seen + minute) changed = true;
  rec.last_seen = std::max(rec.last_seen, s.at);
  return changed;
}

void record(context& ctx, const sighting& s, std::function<void()> then) {
  auto decide = [s](const std::vector<doc>& d) {
    person_record rec;
    if (d[0].version && !decode(d[0].value, rec)) rec = person_record{};
    if (!merge(rec, s)) return plan::finish(result::success("{}"));
    plan p;
    p.writes.push_back({d[0].key, d[0].version, encode(rec)});
    p.reply = [](const commit_result&) { return result::success("{}"); };
    return p;
  };
  ctx.st.modify(people_channel(), {keys::person(s.user)}, std::move(decide),
                [user = s.user, then](result r) {
                  if (!r.ok)
                    spdlog::warn("crisis: directory entry of {} not saved: {}", user, r.message);
                  if (then) then();
                });
}

void find(context& ctx, const std::string& user,
          std::function<void(std::optional<person_record>)> then, done_fn done) {
  ctx.st.read(
      people_channel(), {keys::person(user)}, "cannot read the directory",
      [then](std::vector<doc> d) {
        then(d[0].version ? decoded<person_record>(d[0].value) : std::nullopt);
      },
      std::move(done));
}

void joined(context& ctx, const std::string& channel, std::set<std::string> present,
            std::function<void(std::vector<person_record>)> then, done_fn done) {
  ctx.st.list(
      people_channel(), std::string(keys::person_prefix), "cannot read the directory",
      [channel, present = std::move(present), then](std::vector<doc> all) {
        std::vector<person_record> out;
        for (auto& d : all) {
          auto rec = decoded<person_record>(d.value);
          if (!rec || rec->role != auth::role_name(auth::role::ambassador)) continue;
          auto& ch = rec->channels;
          if (present.count(rec->user) || std::find(ch.begin(), ch.end(), channel) != ch.end())
            out.push_back(std::move(*rec));
        }
        then(std::move(out));
      },
      std::move(done));
}

namespace {

// One reservation of a claim against the cap: add the item if under it; at the cap, drop the
// items whose alerts no longer name the person as holder (a release that was not recorded),
// once, and try again.
class reservation : public std::enable_shared_from_this<reservation> {
 public:
  using then_fn = std::function<void(bool, std::size_t)>;
  reservation(context& ctx, std::string user, std::string item, std::size_t limit, then_fn then,
              done_fn done)
      : ctx_(ctx),
        user_(std::move(user)),
        item_(std::move(item)),
        limit_(limit),
        then_(std::move(then)),
        done_(std::move(done)) {}

  void attempt() {
    held_it_ = false;
    auto self = shared_from_this();
    auto decide = [self](const std::vector<doc>& d) {
      held_record rec;
      if (d[0].version && !decode(d[0].value, rec)) rec = held_record{};
      rec.user = self->user_;
      auto& items = rec.alerts;
      self->held_ = items;
      if (std::find(items.begin(), items.end(), self->item_) != items.end())
        return self->decided(true);
      std::erase_if(items, [&](const std::string& i) { return self->stale_.count(i) > 0; });
      if (items.size() >= self->limit_) return self->decided(false);
      items.push_back(self->item_);
      self->held_ = items;
      plan p;
      p.writes.push_back({d[0].key, d[0].version, encode(rec)});
      p.reply = [self](const commit_result&) {
        self->held_it_ = true;
        return result::success("{}");
      };
      return p;
    };
    ctx_.st.modify(people_channel(), {keys::held(user_)}, std::move(decide), [self](result r) {
      if (!r.ok) return self->done_(std::move(r));
      if (self->held_it_) return self->then_(true, self->held_.size());
      if (self->checked_) return self->then_(false, self->held_.size());
      self->check();
    });
  }

 private:
  // The decision without a write: the item is held already (true), or the cap is reached.
  plan decided(bool held) {
    held_it_ = held;
    return plan::finish(result::success("{}"));
  }

  // Reads every held alert; those not claimed by the user any more are stale.
  void check() {
    checked_ = true;
    auto self = shared_from_this();
    auto put = fan_in<std::optional<std::string>>::start(
        held_.size(), [self](std::vector<std::optional<std::string>> stale) {
          for (auto& s : stale)
            if (s) self->stale_.insert(*s);
          self->attempt();
        });
    for (std::size_t i = 0; i < held_.size(); ++i) {
      auto target = keys::split_channel_item(held_[i]);
      if (!target) {
        put(i, held_[i]);
        continue;
      }
      ctx_.st.read(
          target->first, {keys::alert(target->second)}, "",
          [self, put, i, item = held_[i]](std::vector<doc> d) {
            auto rec = d[0].version ? decoded<alert_record>(d[0].value) : std::nullopt;
            bool holds =
                rec && rec->a.status == alert_status::claimed && rec->a.holder == self->user_;
            put(i, holds ? std::nullopt : std::optional<std::string>(item));
          },
          [put, i](result) { put(i, std::nullopt); });  // unreadable: still counted
    }
  }

  context& ctx_;
  std::string user_, item_;
  std::size_t limit_;
  then_fn then_;
  done_fn done_;
  std::vector<std::string> held_;
  std::set<std::string> stale_;
  bool checked_ = false;
  bool held_it_ = false;  // the last attempt ended with the item among the held claims
};

}  // namespace

void reserve(context& ctx, const std::string& user, const std::string& item, std::size_t limit,
             std::function<void(bool added, std::size_t held)> then, done_fn done) {
  std::make_shared<reservation>(ctx, user, item, limit, std::move(then), std::move(done))
      ->attempt();
}

void hold(context& ctx, const std::string& user, const std::string& item, bool add) {
  auto decide = [user, item, add](const std::vector<doc>& d) {
    held_record rec;
    if (d[0].version && !decode(d[0].value, rec)) rec = held_record{};
    rec.user = user;
    auto it = std::find(rec.alerts.begin(), rec.alerts.end(), item);
    if (add == (it != rec.alerts.end())) return plan::finish(result::success("{}"));
    if (add)
      rec.alerts.push_back(item);
    else
      rec.alerts.erase(it);
    plan p;
    p.writes.push_back({d[0].key, d[0].version, rec.alerts.empty() ? "" : encode(rec)});
    p.reply = [](const commit_result&) { return result::success("{}"); };
    return p;
  };
  ctx.st.modify(people_channel(), {keys::held(user)}, std::move(decide), [user, item](result r) {
    if (!r.ok)
      spdlog::warn("crisis: held claims of {} not updated ({}): {}", user, item, r.message);
  });
}

void list(context& ctx, request& r, done_fn done) {
  auto limit = r.cmd.limit.value_or(1000);
  ctx.st.list(
      people_channel(), std::string(keys::person_prefix), "cannot read the directory",
      [done, limit, who = r.who](std::vector<doc> all) {
        json_writer w;
        w.begin_object().key("people").begin_array();
        std::size_t n = 0;
        for (auto& d : all) {
          auto rec = decoded<person_record>(d.value);
          if (!rec || n++ >= limit) continue;
          // Only the channels the asking lead may see.
          std::erase_if(rec->channels, [&](const std::string& c) { return !who.id.may_access(c); });
          w.raw(encode(*rec));
        }
        w.end_array().field("total", static_cast<std::uint64_t>(n));
        done(result::success(w.field("truncated", n > limit).end_object().take()));
      },
      done);
}

namespace {

// One member with their directory record (if any) and whether a connection of theirs is in the
// channel now.
void write_member(json_writer& w, const member_record& m, const std::optional<person_record>& p,
                  bool online) {
  w.begin_object().field("user", m.user);
  w.field("name", p ? p->name : m.name).field("since", m.since);
  w.field("role", p ? std::string_view(p->role) : std::string_view("ambassador"));
  w.field("last_seen", p ? p->last_seen : std::int64_t{0}).field("online", online).end_object();
}

}  // namespace

void members(context& ctx, request& r, done_fn done) {
  auto channel = r.channel;
  ctx.st.list(
      channel, std::string(keys::member_prefix), "",
      [&ctx, channel, done](std::vector<doc> found) {
        auto rows = std::make_shared<std::vector<member_record>>();
        std::vector<std::string> people_keys;
        for (auto& d : found)
          if (auto m = decoded<member_record>(d.value)) {
            people_keys.push_back(keys::person(m->user));
            rows->push_back(std::move(*m));
          }
        if (rows->empty()) return done(result::success("{\"members\":[]}"));
        ctx.st.read(
            people_channel(), std::move(people_keys), "cannot read the directory",
            [&ctx, channel, rows, done](std::vector<doc> records) {
              // Presence and members meet on the user id.
              ctx.presence.presence(channel, [rows, records = std::move(records), done](
                                                 std::error_code ec, std::vector<client_info> in) {
                std::set<std::string> online;
                if (!ec)
                  for (auto& c : in) online.insert(c.user);
                json_writer w;
                w.begin_object().key("members").begin_array();
                for (std::size_t i = 0; i < rows->size(); ++i) {
                  const auto& m = (*rows)[i];
                  auto p =
                      records[i].version ? decoded<person_record>(records[i].value) : std::nullopt;
                  write_member(w, m, p, online.count(m.user) > 0);
                }
                done(result::success(w.end_array().end_object().take()));
              });
            },
            done);
      },
      done);
}

}  // namespace muster::server::crisis::people
