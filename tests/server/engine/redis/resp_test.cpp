#include "server/engine/redis/resp.hpp"

#include <gtest/gtest.h>

using namespace muster::server::redis;

TEST(resp, format_command_is_binary_safe) {
  EXPECT_EQ(format_command({"SET", "k", std::string_view("a\0b", 3)}),
            std::string("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na\0b\r\n", 29));
}

TEST(resp, reader_waits_for_complete_replies_fed_byte_by_byte) {
  reply_reader r;
  std::string bytes =
      "+OK\r\n:42\r\n$5\r\nhello\r\n*3\r\n$8\r\nsmessage\r\n$2\r\nch\r\n$3\r\nhey\r\n";
  std::vector<reply_ptr> got;
  for (char c : bytes) {
    ASSERT_TRUE(r.feed(std::string_view(&c, 1)));
    std::error_code ec;
    while (auto reply = r.next(ec)) got.push_back(std::move(reply));
    ASSERT_FALSE(ec);
  }
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(text(*got[0]), "OK");
  EXPECT_EQ(got[1]->integer, 42);
  EXPECT_EQ(text(*got[2]), "hello");
  EXPECT_FALSE(is_message_push(*got[0]));
  EXPECT_TRUE(is_message_push(*got[3]));
  EXPECT_EQ(text(*got[3]->element[2]), "hey");
}

TEST(resp, subscribe_confirmation_is_not_a_message_push) {
  reply_reader r;
  r.feed("*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
  std::error_code ec;
  auto reply = r.next(ec);
  ASSERT_TRUE(reply);
  EXPECT_FALSE(is_message_push(*reply));
}

TEST(resp, malformed_stream_is_an_error) {
  reply_reader r;
  r.feed("?what\r\n");
  std::error_code ec;
  EXPECT_FALSE(r.next(ec));
  EXPECT_TRUE(ec);
}

TEST(resp, key_slot_matches_redis_cluster) {
  EXPECT_EQ(key_slot("muster:{abc}"), 7638) << "CLUSTER KEYSLOT muster:{abc} on Redis 7";
  EXPECT_EQ(key_slot("muster:{abc}:m"), key_slot("abc"));
  EXPECT_EQ(key_slot("123456789"), 0x31c3 & 16383) << "the CRC16/XMODEM check value";
  EXPECT_EQ(key_slot("a{}b"), key_slot("a{}b")) << "empty tag: whole key";
}

TEST(resp, channel_payloads_carry_offset_and_epoch_outside_the_frame) {
  using muster::server::redis::parse_channel_payload;
  auto ev = parse_channel_payload(R"(45:9f1c2a7e:{"event":"message","epoch":"x:y"})");
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->offset, 45u);
  EXPECT_EQ(ev->epoch, "9f1c2a7e");
  EXPECT_EQ(ev->frame, R"({"event":"message","epoch":"x:y"})");
  auto join = parse_channel_payload(R"(p:{"event":"join"})");
  ASSERT_TRUE(join);
  EXPECT_EQ(join->offset, 0u);
  EXPECT_EQ(join->frame, R"({"event":"join"})");
  for (const char* bad : {"", "45", "45:e", "0:e:{}", "x5:e:{}", ":e:{}"})
    EXPECT_FALSE(parse_channel_payload(bad)) << bad;
}
