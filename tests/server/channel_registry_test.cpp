#include "server/channel_registry.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

using namespace muster::server;

namespace {

class fake_subscriber final : public subscriber {
 public:
  explicit fake_subscriber(std::set<std::string> presence_channels = {})
      : presence_channels_(std::move(presence_channels)) {}

  void on_event(std::string_view channel, const channel_event& ev) override {
    received.push_back({std::string(channel), ev.offset, ev.presence, ev.frame});
  }
  bool wants_presence(std::string_view channel) const {
    return presence_channels_.count(std::string(channel)) > 0;
  }

  struct entry {
    std::string channel;
    std::uint64_t offset;
    bool presence;
    std::shared_ptr<const std::string> frame;
  };
  std::vector<entry> received;

 private:
  std::set<std::string> presence_channels_;
};

channel_event message(std::uint64_t offset) {
  return {offset, std::make_shared<const std::string>("m" + std::to_string(offset)), false, {}};
}

channel_event join_event() {
  return {0, std::make_shared<const std::string>(R"({"event":"join"})"), true, {}};
}

}  // namespace

TEST(channel_registry, starts_empty) {
  channel_registry r;
  EXPECT_EQ(r.channels(), 0u);
  EXPECT_EQ(r.subscribers("room"), 0u);
  EXPECT_EQ(r.deliver("room", message(1)), 0u);
}

TEST(channel_registry, add_returns_true_only_for_the_first_subscriber) {
  channel_registry r;
  fake_subscriber a, b, c;
  EXPECT_TRUE(r.add("room", &a, a.wants_presence("room")));
  EXPECT_FALSE(r.add("room", &b, b.wants_presence("room")));
  EXPECT_FALSE(r.add("room", &c, c.wants_presence("room")));
  EXPECT_TRUE(r.add("other", &a, a.wants_presence("other")));
  EXPECT_EQ(r.subscribers("room"), 3u);
  EXPECT_EQ(r.subscribers("other"), 1u);
  EXPECT_EQ(r.channels(), 2u);
}

TEST(channel_registry, remove_returns_true_only_for_the_last_subscriber) {
  channel_registry r;
  fake_subscriber a, b, c;
  r.add("room", &a, a.wants_presence("room"));
  r.add("room", &b, b.wants_presence("room"));
  r.add("room", &c, c.wants_presence("room"));
  EXPECT_FALSE(r.remove("room", &b));
  EXPECT_FALSE(r.remove("room", &a));
  EXPECT_EQ(r.subscribers("room"), 1u);
  EXPECT_EQ(r.channels(), 1u);
  EXPECT_TRUE(r.remove("room", &c));
  EXPECT_EQ(r.subscribers("room"), 0u);
  EXPECT_EQ(r.channels(), 0u);
  // The channel can start over.
  EXPECT_TRUE(r.add("room", &b, b.wants_presence("room")));
}

TEST(channel_registry, remove_of_unknown_channel_or_subscriber_returns_false) {
  channel_registry r;
  fake_subscriber a, b;
  EXPECT_FALSE(r.remove("room", &a));
  r.add("room", &a, a.wants_presence("room"));
  EXPECT_FALSE(r.remove("room", &b));
  EXPECT_FALSE(r.remove("other", &a));
  EXPECT_EQ(r.subscribers("room"), 1u);
  EXPECT_TRUE(r.remove("room", &a));
  EXPECT_FALSE(r.remove("room", &a));
}

TEST(channel_registry, deliver_reaches_every_subscriber_of_the_channel_only) {
  channel_registry r;
  fake_subscriber a, b, outsider;
  r.add("room", &a, a.wants_presence("room"));
  r.add("room", &b, b.wants_presence("room"));
  r.add("other", &outsider, outsider.wants_presence("other"));
  auto ev = message(7);
  EXPECT_EQ(r.deliver("room", ev), 2u);
  for (auto* s : {&a, &b}) {
    ASSERT_EQ(s->received.size(), 1u);
    EXPECT_EQ(s->received[0].channel, "room");
    EXPECT_EQ(s->received[0].offset, 7u);
    EXPECT_EQ(s->received[0].frame, ev.frame) << "the frame is shared, not copied";
  }
  EXPECT_TRUE(outsider.received.empty());
}

TEST(channel_registry, deliver_keeps_event_order_per_subscriber) {
  channel_registry r;
  fake_subscriber a, b;
  r.add("room", &a, a.wants_presence("room"));
  r.add("room", &b, b.wants_presence("room"));
  for (std::uint64_t i = 1; i <= 5; ++i) r.deliver("room", message(i));
  for (auto* s : {&a, &b}) {
    ASSERT_EQ(s->received.size(), 5u);
    for (std::uint64_t i = 0; i < 5; ++i) EXPECT_EQ(s->received[i].offset, i + 1);
  }
}

TEST(channel_registry, removed_subscriber_no_longer_receives) {
  channel_registry r;
  fake_subscriber a, b, c;
  r.add("room", &a, a.wants_presence("room"));
  r.add("room", &b, b.wants_presence("room"));
  r.add("room", &c, c.wants_presence("room"));
  r.remove("room", &a);  // swaps c into a's slot
  EXPECT_EQ(r.deliver("room", message(1)), 2u);
  EXPECT_TRUE(a.received.empty());
  EXPECT_EQ(b.received.size(), 1u);
  EXPECT_EQ(c.received.size(), 1u);
  r.remove("room", &b);
  r.remove("room", &c);
  EXPECT_EQ(r.deliver("room", message(2)), 0u);
  EXPECT_EQ(b.received.size(), 1u);
  EXPECT_EQ(c.received.size(), 1u);
}

TEST(channel_registry, deliver_skips_presence_events_for_subscribers_that_do_not_want_them) {
  channel_registry r;
  fake_subscriber wants({"room"});
  fake_subscriber wants_elsewhere({"other"});
  fake_subscriber wants_none;
  r.add("room", &wants, wants.wants_presence("room"));
  r.add("room", &wants_elsewhere, wants_elsewhere.wants_presence("room"));
  r.add("room", &wants_none, wants_none.wants_presence("room"));

  EXPECT_EQ(r.deliver("room", join_event()), 1u);
  ASSERT_EQ(wants.received.size(), 1u);
  EXPECT_TRUE(wants.received[0].presence);
  EXPECT_TRUE(wants_elsewhere.received.empty()) << "presence preference is per channel";
  EXPECT_TRUE(wants_none.received.empty());

  // Stream events go to everyone regardless.
  EXPECT_EQ(r.deliver("room", message(1)), 3u);
  EXPECT_EQ(wants.received.size(), 2u);
  EXPECT_EQ(wants_elsewhere.received.size(), 1u);
  EXPECT_EQ(wants_none.received.size(), 1u);
}

TEST(channel_registry, presence_event_with_no_interested_subscriber_counts_zero) {
  channel_registry r;
  fake_subscriber a;
  r.add("room", &a, a.wants_presence("room"));
  EXPECT_EQ(r.deliver("room", join_event()), 0u);
  EXPECT_TRUE(a.received.empty());
}

TEST(channel_registry, channel_names_are_compared_exactly) {
  channel_registry r;
  fake_subscriber a;
  r.add("room", &a, a.wants_presence("room"));
  EXPECT_EQ(r.deliver("Room", message(1)), 0u);
  EXPECT_EQ(r.deliver("room ", message(1)), 0u);
  EXPECT_EQ(r.deliver(std::string_view("room:x").substr(0, 4), message(1)), 1u);
}

TEST(channel_registry, a_resubscription_keeps_its_join_leave_while_the_old_one_is_removed) {
  // unsubscribe + subscribe: the new registration (with join_leave) may come before the old one
  // (without) is removed; removing the old must not take the new one's presence events.
  channel_registry r;
  fake_subscriber a({"room"});
  r.add("room", &a, false);
  r.add("room", &a, true);
  EXPECT_FALSE(r.remove("room", &a, false));
  channel_event join{0, std::make_shared<const std::string>("join"), true, {}};
  EXPECT_EQ(r.deliver("room", join), 1u);
  EXPECT_TRUE(r.remove("room", &a, true));
}
