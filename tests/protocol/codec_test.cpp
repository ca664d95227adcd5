#include "protocol/codec.hpp"

#include "server/command_table.hpp"

#include <gtest/gtest.h>

using namespace muster::protocol;

namespace {

struct decoded {
  bool ok;
  command cmd;
  decode_failure failure;
};

decoded decode(std::string_view frame) {
  // The decoder as musterd runs it: with the server's command table.
  static decoder d(&muster::server::lookup_op, 1024);
  decoded r;
  r.ok = d.decode(frame, r.cmd, r.failure);
  return r;
}

}  // namespace

TEST(codec, decodes_connect) {
  auto r = decode(R"({"id":1,"op":"connect","name":"alice"})");
  ASSERT_TRUE(r.ok) << r.failure.message;
  EXPECT_EQ(r.cmd.op(), "connect");
  EXPECT_EQ(r.cmd.id, 1u);
  EXPECT_EQ(r.cmd.name, "alice");
}

TEST(codec, decodes_subscribe_with_recovery_position) {
  auto r = decode(
      R"({"op":"subscribe","id":7,"channel":"crisis:acme","recover":{"offset":42,"epoch":"ab12"}})");
  ASSERT_TRUE(r.ok) << r.failure.message;
  EXPECT_EQ(r.cmd.op(), "subscribe");
  EXPECT_EQ(r.cmd.channel, "crisis:acme");
  ASSERT_TRUE(r.cmd.recover);
  EXPECT_EQ(r.cmd.recover->offset, 42u);
  EXPECT_EQ(r.cmd.recover->epoch, "ab12");
}

TEST(codec, decodes_publish_and_minifies_data) {
  auto r = decode(
      "{\"id\":3,\"op\":\"publish\",\"channel\":\"c1\",\"data\":{ \"text\" :\n \"hi\\nthere\", "
      "\"n\": [1, 2] }}");
  ASSERT_TRUE(r.ok) << r.failure.message;
  EXPECT_EQ(r.cmd.data, R"({"text":"hi\nthere","n":[1,2]})");
  EXPECT_EQ(r.cmd.data.find('\n'), std::string::npos);
}

TEST(codec, decodes_scalar_data) {
  auto r = decode(R"({"id":3,"op":"publish","channel":"c1","data":"just text"})");
  ASSERT_TRUE(r.ok) << r.failure.message;
  EXPECT_EQ(r.cmd.data, R"("just text")");
}

TEST(codec, decodes_history_and_presence_and_ping) {
  auto h = decode(R"({"id":4,"op":"history","channel":"c","since":10,"limit":5})");
  ASSERT_TRUE(h.ok) << h.failure.message;
  EXPECT_EQ(*h.cmd.since, 10u);
  EXPECT_EQ(h.cmd.limit, 5u);
  auto p = decode(R"({"id":5,"op":"presence","channel":"c"})");
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.cmd.op(), "presence");
  auto u = decode(R"({"id":6,"op":"unsubscribe","channel":"c"})");
  ASSERT_TRUE(u.ok);
  EXPECT_EQ(u.cmd.op(), "unsubscribe");
  auto g = decode(R"({"id":8,"op":"ping"})");
  ASSERT_TRUE(g.ok);
  EXPECT_EQ(g.cmd.op(), "ping");
}

TEST(codec, ignores_unknown_fields) {
  auto r = decode(R"({"id":1,"op":"ping","future":{"x":[1,2,3]}})");
  EXPECT_TRUE(r.ok) << r.failure.message;
}

TEST(codec_errors, malformed_json) {
  for (const char* f : {"", "{", "nope", R"({"id":1,"op":"ping")", R"({"id":1,"op":"ping"} x)",
                        "[1,2]", "42", R"({"id":1,"op":"publish","channel":"c","data":{"a":}})"}) {
    auto r = decode(f);
    EXPECT_FALSE(r.ok) << f;
    EXPECT_EQ(r.failure.code, errc::bad_json) << f;
  }
}

TEST(codec_errors, unknown_op_keeps_id) {
  auto r = decode(R"({"id":9,"op":"explode"})");
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.failure.code, errc::unknown_op);
  EXPECT_EQ(r.failure.id, 9u);
}

TEST(codec_errors, missing_and_mistyped_fields_name_the_field) {
  struct c {
    const char* frame;
    errc code;
    const char* word;
  } cases[] = {
      {R"({"id":1})", errc::bad_request, "op"},
      {R"({"op":"ping"})", errc::bad_request, "id"},
      {R"({"id":-1,"op":"ping"})", errc::bad_request, "id"},
      {R"({"id":"1","op":"ping"})", errc::bad_request, "id"},
      {R"({"id":1,"op":5})", errc::bad_request, "op"},
      {R"({"id":1,"op":"subscribe"})", errc::bad_request, "channel"},
      {R"({"id":1,"op":"subscribe","channel":7})", errc::bad_request, "channel"},
      {R"({"id":1,"op":"publish","channel":"c"})", errc::bad_request, "data"},
      {R"({"id":1,"op":"connect","name":5})", errc::bad_request, "name"},
      {R"({"id":1,"op":"subscribe","channel":"c","recover":5})", errc::bad_request, "recover"},
      {R"({"id":1,"op":"subscribe","channel":"c","recover":{"offset":1}})", errc::bad_request,
       "recover"},
      {R"({"id":1,"op":"subscribe","channel":"c","recover":{"offset":"x","epoch":"e"}})",
       errc::bad_request, "recover.offset"},
      {R"({"id":1,"op":"history","channel":"c","limit":0})", errc::bad_request, "limit"},
      {R"({"id":1,"op":"history","channel":"c","limit":5000})", errc::bad_request, "limit"},
      {R"({"id":1,"op":"history","channel":"c","since":-4})", errc::bad_request, "since"},
  };
  for (const auto& tc : cases) {
    auto r = decode(tc.frame);
    EXPECT_FALSE(r.ok) << tc.frame;
    EXPECT_EQ(r.failure.code, tc.code) << tc.frame << " -> " << r.failure.message;
    EXPECT_NE(r.failure.message.find(tc.word), std::string::npos)
        << tc.frame << " -> " << r.failure.message;
  }
}

TEST(codec_errors, bad_channel_names) {
  std::string too_long(129, 'a');
  for (std::string name : {std::string(""), std::string("-lead"), std::string("a b"),
                           std::string("a/b"), std::string("a{b}"), std::string("é"), too_long}) {
    std::string frame = R"({"id":1,"op":"subscribe","channel":)";
    append_json_string(frame, name);
    frame += "}";
    auto r = decode(frame);
    EXPECT_FALSE(r.ok) << name;
    if (!name.empty()) {
      EXPECT_EQ(r.failure.code, errc::bad_channel) << name;
    }
  }
  EXPECT_TRUE(valid_channel_name(std::string(128, 'a')));
  EXPECT_TRUE(valid_channel_name("crisis:acme-2026.v2@eu_1"));
}

TEST(codec_errors, oversized_data) {
  std::string frame =
      R"({"id":1,"op":"publish","channel":"c","data":")" + std::string(2000, 'x') + "\"}";
  auto r = decode(frame);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.failure.code, errc::message_too_large);
  EXPECT_EQ(r.failure.id, 1u);
}

TEST(codec, encodes_reply_error_and_events) {
  EXPECT_EQ(encode_reply(5, "{}"), R"({"id":5,"result":{}})");
  EXPECT_EQ(encode_error(5, errc::rate_limited, "slow \"down\""),
            R"({"id":5,"error":{"code":"rate_limited","message":"slow \"down\""}})");
  EXPECT_EQ(encode_error(std::nullopt, errc::bad_json, "x"),
            R"({"error":{"code":"bad_json","message":"x"}})");
  publication p{3, "e1", 1700000000000, "c9", "bo\tb", R"({"t":1})"};
  EXPECT_EQ(
      encode_message_event("ch", p),
      R"({"event":"message","channel":"ch","offset":3,"epoch":"e1","ts":1700000000000,"sender":{"client":"c9","name":"bo\tb"},"data":{"t":1}})");
  EXPECT_EQ(encode_presence_event(true, "ch", "c9", "bob", "u-bob"),
            R"({"event":"join","channel":"ch","client":"c9","name":"bob","user":"u-bob"})");
}

TEST(codec, encoded_event_round_trips_through_decoder_data) {
  std::string s;
  append_json_string(s, std::string("\x01\x1f quote\" back\\ é", 14));
  auto r = decode(std::string(R"({"id":1,"op":"publish","channel":"c","data":)") + s + "}");
  ASSERT_TRUE(r.ok) << r.failure.message << " " << s;
}

TEST(codec, error_category_names) {
  for (errc e : all_errors) {
    std::error_code ec = e;
    EXPECT_EQ(ec.message(), wire_name(e));
    EXPECT_STREQ(ec.category().name(), "muster.protocol");
  }
}

TEST(codec, connect_needs_no_name_when_the_token_came_with_the_upgrade) {
  // With ?token= the identity is known; without auth the server names the client itself.
  auto r = decode(R"({"id":1,"op":"connect"})");
  ASSERT_TRUE(r.ok) << r.failure.message;
  EXPECT_EQ(r.cmd.op(), "connect");
  EXPECT_TRUE(r.cmd.name.empty());
}

TEST(codec, crisis_commands_keep_the_frame_and_check_a_given_channel) {
  auto r = decode(R"({"id":4,"op":"alert.claim","channel":"crisis.a","alert":"a-1"})");
  ASSERT_TRUE(r.ok) << r.failure.message;
  EXPECT_EQ(r.cmd.op(), "alert.claim");
  EXPECT_EQ(r.cmd.frame, R"({"id":4,"op":"alert.claim","channel":"crisis.a","alert":"a-1"})");
  auto star = decode(R"({"id":5,"op":"guidance.post","channel":"*","kind":"update"})");
  EXPECT_TRUE(star.ok) << "\"*\" means every crisis channel";
  auto bad = decode(R"({"id":6,"op":"alert.claim","channel":"no spaces"})");
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(bad.failure.code, errc::bad_channel);
  auto unknown = decode(R"({"id":7,"op":"alert.explode"})");
  EXPECT_FALSE(unknown.ok);
  EXPECT_EQ(unknown.failure.code, errc::unknown_op);
}

TEST(codec_errors, a_malformed_value_nobody_reads_still_makes_the_frame_bad_json) {
  // Found by an independent client: these were executed because the decoder skipped them.
  for (const char* f :
       {R"({"id":31,"op":"ping","x":tru})", R"({"id":31,"op":"ping","x":[1,2,]})",
        R"({"id":31,"op":"ping","x":"\q"})", R"({"id":31,"op":"ping","x":-})",
        R"({"id":31,"op":"ping","x":{"a" 1}})",
        R"({"id":31,"op":"subscribe","channel":"c","recover":{"offset":1,"epoch":"e","z":nul}})",
        R"({"id":31,"op":"ping","x":123456789012345678901234567890})"}) {
    auto r = decode(f);
    EXPECT_FALSE(r.ok) << f;
    EXPECT_EQ(r.failure.code, errc::bad_json) << f;
    EXPECT_EQ(r.failure.message, "frame is not valid JSON") << f;
    EXPECT_EQ(r.failure.id, 31u) << "the id came before the problem: " << f;
  }
}

TEST(codec_errors, malformed_numbers_in_known_fields_are_syntax_errors) {
  for (const char* f :
       {R"({"id":01,"op":"ping"})", R"({"id":0x10,"op":"ping"})", R"({"id":-01,"op":"ping"})",
        R"({"id":1,"op":"history","channel":"c","limit":1.})",
        R"({"id":1,"op":"history","channel":"c","since":+3})"}) {
    auto r = decode(f);
    EXPECT_FALSE(r.ok) << f;
    EXPECT_EQ(r.failure.code, errc::bad_json) << f << " -> " << r.failure.message;
  }
  // Well-formed numbers of the wrong kind stay type errors.
  for (const char* f :
       {R"({"id":-1,"op":"ping"})", R"({"id":1.5,"op":"ping"})", R"({"id":1e2,"op":"ping"})"}) {
    auto r = decode(f);
    EXPECT_EQ(r.failure.code, errc::bad_request) << f;
    EXPECT_EQ(r.failure.message, "id must be a non-negative integer") << f;
  }
}

TEST(codec_errors, messages_tell_truncated_from_non_object_from_trailing_content) {
  struct c {
    const char* frame;
    const char* message;
  } cases[] = {
      {R"({"id":1,"op":"ping")", "frame is not valid JSON"},
      {R"({"id":1,"op":)", "frame is not valid JSON"},
      {"", "frame is not valid JSON"},
      {"   ", "frame is not valid JSON"},
      {"nope", "frame is not valid JSON"},
      {"[1,2]", "frame must be a JSON object"},
      {"42", "frame must be a JSON object"},
      {R"("text")", "frame must be a JSON object"},
      {R"({"id":1,"op":"ping"} x)", "trailing content after the JSON object"},
      {R"({"id":1,"op":"ping"}{"id":2,"op":"ping"})", "trailing content after the JSON object"},
      {R"({"id":1,"op":"ping"}})", "trailing content after the JSON object"},
      {"{\"id\":1,\"op\":\"ping\"}  \n", nullptr},  // whitespace after the object is fine
      {R"({"id":5,"op":"publish","channel":"c","data":{"a":}})", "data is not valid JSON"},
  };
  for (const auto& tc : cases) {
    auto r = decode(tc.frame);
    if (!tc.message) {
      EXPECT_TRUE(r.ok) << tc.frame << " -> " << r.failure.message;
      continue;
    }
    EXPECT_FALSE(r.ok) << tc.frame;
    EXPECT_EQ(r.failure.code, errc::bad_json) << tc.frame;
    EXPECT_EQ(r.failure.message, tc.message) << tc.frame;
  }
}

TEST(codec_errors, limit_ranges_belong_to_the_command) {
  // history: 1-1000; alert.list: 1-10000 (PROTOCOL.md 15.7); ops without a range: 1-1000.
  EXPECT_TRUE(decode(R"({"id":1,"op":"alert.list","channel":"c","limit":10000})").ok);
  auto over = decode(R"({"id":1,"op":"alert.list","channel":"c","limit":10001})");
  EXPECT_EQ(over.failure.message, "limit must be between 1 and 10000");
  EXPECT_EQ(decode(R"({"id":1,"op":"history","channel":"c","limit":1001})").failure.message,
            "limit must be between 1 and 1000");
  EXPECT_EQ(decode(R"({"id":1,"op":"ping","limit":0})").failure.code, errc::bad_request);
  auto ok = decode(R"({"id":1,"op":"alert.list","channel":"c","limit":5000})");
  ASSERT_TRUE(ok.ok);
  EXPECT_EQ(ok.cmd.limit, 5000u);
  // The first problem in document order is reported, whichever command sets the range.
  EXPECT_EQ(decode(R"({"limit":0,"id":"x","op":"history","channel":"c"})").failure.message,
            "limit must be between 1 and 1000");
  EXPECT_EQ(decode(R"({"id":"x","limit":0,"op":"history","channel":"c"})").failure.message,
            "id must be a non-negative integer");
}

TEST(codec_errors, a_crisis_command_without_a_channel_still_checks_a_given_one) {
  // PROTOCOL.md 13.1 step 1: for every crisis op, a given, non-empty, non-"*" channel is valid.
  EXPECT_EQ(decode(R"({"id":1,"op":"alert.push","channel":"no spaces"})").failure.code,
            errc::bad_channel);
  EXPECT_EQ(decode(R"({"id":1,"op":"channel.list","channel":"-x"})").failure.code,
            errc::bad_channel);
  EXPECT_TRUE(decode(R"({"id":1,"op":"ping","channel":"no spaces"})").ok) << "v1 ops ignore it";
}

TEST(codec, an_idempotency_key_is_a_string_of_at_most_128_bytes) {
  auto ok = decode(R"({"id":1,"op":"publish","channel":"c","data":1,"idempotency_key":"k-1"})");
  ASSERT_TRUE(ok.ok) << ok.failure.message;
  EXPECT_EQ(ok.cmd.idempotency_key, "k-1");
  auto num = decode(R"({"id":1,"op":"publish","channel":"c","data":1,"idempotency_key":5})");
  EXPECT_EQ(num.failure.message, "idempotency_key must be a string");
  auto longer = decode(R"({"id":1,"op":"publish","channel":"c","data":1,"idempotency_key":")" +
                       std::string(129, 'k') + "\"}");
  EXPECT_EQ(longer.failure.message, "idempotency_key must be at most 128 bytes");
}
