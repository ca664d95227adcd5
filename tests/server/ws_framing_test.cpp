#include "server/ws_framing.hpp"

#include <gtest/gtest.h>

using namespace muster::server;

namespace {

// A client frame: masked with a fixed non-zero key.
std::string client_frame(std::uint8_t first_byte, std::string_view payload, bool masked = true) {
  std::string f;
  f.push_back(static_cast<char>(first_byte));
  auto n = payload.size();
  std::uint8_t m = masked ? 0x80 : 0;
  if (n < 126) {
    f.push_back(static_cast<char>(m | n));
  } else if (n <= 0xffff) {
    f.push_back(static_cast<char>(m | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xff));
  } else {
    f.push_back(static_cast<char>(m | 127));
    for (int i = 7; i >= 0; --i)
      f.push_back(static_cast<char>((std::uint64_t(n) >> (8 * i)) & 0xff));
  }
  const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
  if (masked) f.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < n; ++i)
    f.push_back(masked ? static_cast<char>(payload[i] ^ key[i & 3]) : payload[i]);
  return f;
}

}  // namespace

TEST(ws_parser, text_message_in_one_frame) {
  ws::parser p(1024);
  p.feed(client_frame(0x81, R"({"id":1,"op":"ping"})"));
  auto e = p.next();
  ASSERT_EQ(e.kind, ws::event::message);
  EXPECT_TRUE(e.text);
  EXPECT_EQ(e.payload, R"({"id":1,"op":"ping"})");
  EXPECT_EQ(p.next().kind, ws::event::need_more);
}

TEST(ws_parser, bytes_arriving_one_at_a_time) {
  ws::parser p(1024);
  std::string payload(300, 'x');  // 16-bit length
  auto f = client_frame(0x81, payload);
  for (std::size_t i = 0; i + 1 < f.size(); ++i) {
    p.feed(f.substr(i, 1));
    ASSERT_EQ(p.next().kind, ws::event::need_more) << i;
  }
  p.feed(f.substr(f.size() - 1));
  auto e = p.next();
  ASSERT_EQ(e.kind, ws::event::message);
  EXPECT_EQ(e.payload, payload);
}

TEST(ws_parser, several_frames_in_one_read) {
  ws::parser p(1024);
  p.feed(client_frame(0x81, "a") + client_frame(0x89, "pi") + client_frame(0x81, "b"));
  auto a = p.next();
  ASSERT_EQ(a.kind, ws::event::message);
  EXPECT_EQ(a.payload, "a");
  auto ping = p.next();
  ASSERT_EQ(ping.kind, ws::event::ping);
  EXPECT_EQ(ping.payload, "pi");
  auto b = p.next();
  ASSERT_EQ(b.kind, ws::event::message);
  EXPECT_EQ(b.payload, "b");
}

TEST(ws_parser, fragmented_message_with_interleaved_ping) {
  ws::parser p(1024);
  p.feed(client_frame(0x01, "hel") + client_frame(0x89, "") + client_frame(0x00, "lo ") +
         client_frame(0x80, "world"));
  EXPECT_EQ(p.next().kind, ws::event::ping);
  auto e = p.next();
  ASSERT_EQ(e.kind, ws::event::message);
  EXPECT_EQ(e.payload, "hello world");
}

TEST(ws_parser, binary_message_is_reported_as_binary) {
  ws::parser p(1024);
  p.feed(client_frame(0x82, std::string("\x00\xff", 2)));
  auto e = p.next();
  ASSERT_EQ(e.kind, ws::event::message);
  EXPECT_FALSE(e.text);
}

TEST(ws_parser, close_with_code_and_reason) {
  ws::parser p(1024);
  p.feed(client_frame(0x88, std::string("\x03\xe8", 2) + "bye"));
  auto e = p.next();
  ASSERT_EQ(e.kind, ws::event::close);
  EXPECT_EQ(e.code, 1000);
  EXPECT_EQ(e.payload, "bye");
  ws::parser q(1024);
  q.feed(client_frame(0x88, ""));
  EXPECT_EQ(q.next().code, 1005);
}

TEST(ws_parser_errors, each_protocol_violation_is_an_error_with_a_close_code) {
  struct tc {
    std::string bytes;
    std::uint16_t code;
  } cases[] = {
      {client_frame(0x81, "x", false), ws::close_protocol_error},  // unmasked
      {client_frame(0xc1, "x"), ws::close_protocol_error},         // RSV1 without extension
      {client_frame(0x83, "x"), ws::close_protocol_error},         // reserved data opcode
      {client_frame(0x8b, "x"), ws::close_protocol_error},         // reserved control opcode
      {client_frame(0x09, "x"), ws::close_protocol_error},         // fragmented ping
      {client_frame(0x89, std::string(126, 'p')), ws::close_protocol_error},  // long control frame
      {client_frame(0x80, "x"), ws::close_protocol_error},                    // continuation first
      {client_frame(0x01, "a") + client_frame(0x81, "b"),
       ws::close_protocol_error},                                   // new message mid-way
      {client_frame(0x81, "\xff\xfe"), ws::close_invalid_payload},  // bad UTF-8
      {client_frame(0x88, std::string("\x03\xed", 2)),
       ws::close_protocol_error},                              // close code 1005 on the wire
      {client_frame(0x88, "\x03"), ws::close_protocol_error},  // one-byte close payload
      {client_frame(0x81, std::string(2000, 'x')), ws::close_too_big},  // over the limit
  };
  for (const auto& c : cases) {
    ws::parser p(1024);
    p.feed(c.bytes);
    ws::event e;
    do e = p.next();
    while (e.kind == ws::event::message || e.kind == ws::event::ping);
    EXPECT_EQ(e.kind, ws::event::error) << testing::PrintToString(c.bytes);
    EXPECT_EQ(e.code, c.code) << e.what;
  }
}

TEST(ws_parser_errors, oversized_message_is_refused_before_its_payload_arrives) {
  ws::parser p(1024);
  auto f = client_frame(0x81, std::string(100000, 'x'));
  p.feed(f.substr(0, 14));  // just the header and mask
  auto e = p.next();
  EXPECT_EQ(e.kind, ws::event::error);
  EXPECT_EQ(e.code, ws::close_too_big);
}

TEST(ws_parser_errors, fragments_adding_up_past_the_limit) {
  ws::parser p(1024);
  p.feed(client_frame(0x01, std::string(600, 'a')) + client_frame(0x80, std::string(600, 'b')));
  EXPECT_EQ(p.next().code, ws::close_too_big);
}

TEST(ws_frames, server_frames_are_unmasked_with_minimal_lengths) {
  auto small = ws::frame(ws::opcode::text, "hi");
  EXPECT_EQ(small, std::string("\x81\x02hi", 4));
  EXPECT_EQ(ws::header_size(small), 2u);
  auto mid = ws::frame(ws::opcode::text, std::string(300, 'x'));
  EXPECT_EQ(mid.substr(0, 4), std::string("\x81\x7e\x01\x2c", 4));
  EXPECT_EQ(ws::header_size(mid), 4u);
  auto big = ws::frame(ws::opcode::text, std::string(70000, 'x'));
  EXPECT_EQ(big.substr(0, 2), std::string("\x81\x7f", 2));
  EXPECT_EQ(ws::header_size(big), 10u);
  EXPECT_EQ(big.size(), 70010u);
  auto c = ws::close_frame(4008, "slow consumer");
  EXPECT_EQ(c.substr(0, 4), std::string("\x88\x0f\x0f\xa8", 4));
}

TEST(ws_frames, accept_key_matches_rfc_example) {
  EXPECT_EQ(ws::accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(ws_parser, consecutive_messages_each_just_under_the_limit) {
  ws::parser p(1000);
  p.feed(client_frame(0x81, std::string(700, 'a')) + client_frame(0x81, std::string(700, 'b')));
  auto a = p.next();
  ASSERT_EQ(a.kind, ws::event::message);
  EXPECT_EQ(a.payload.size(), 700u);
  auto b = p.next();
  ASSERT_EQ(b.kind, ws::event::message) << b.what;
  EXPECT_EQ(b.payload, std::string(700, 'b'));
}

TEST(ws_parser, holds_nothing_once_a_message_is_consumed) {
  ws::parser p(100000);
  p.feed(client_frame(0x81, std::string(50000, 'a')));
  ASSERT_EQ(p.next().kind, ws::event::message);
  EXPECT_EQ(p.next().kind, ws::event::need_more);
  EXPECT_EQ(p.buffered(), 0u);
  p.shrink();
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(ws_parser_errors, failure_is_sticky) {
  ws::parser p(1024);
  p.feed(client_frame(0x81, "x", false));
  EXPECT_EQ(p.next().kind, ws::event::error);
  EXPECT_TRUE(p.failed());
}
