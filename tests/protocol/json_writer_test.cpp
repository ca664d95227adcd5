#include "protocol/json_writer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "protocol/codec.hpp"
#include "protocol/event_frame.hpp"

using namespace muster::protocol;

TEST(json_writer, places_commas_and_escapes) {
  json_writer w;
  w.begin_object().field("a", std::uint64_t{1}).field("s", "q\"\\\n\x01");
  w.key("arr").begin_array().int64(-2).boolean(true).null().raw("{\"x\":1}").end_array();
  w.key("empty").begin_object().end_object().key("strs").strings({"x", "y"});
  w.end_object();
  EXPECT_EQ(
      w.str(),
      R"({"a":1,"s":"q\"\\\n\u0001","arr":[-2,true,null,{"x":1}],"empty":{},"strs":["x","y"]})");
}

TEST(json_writer, appends_to_a_caller_string) {
  std::string out = "prefix:";
  json_writer w(out);
  w.begin_array().string("a").end_array();
  EXPECT_EQ(out, R"(prefix:["a"])");
}

TEST(event_frame, the_spliced_frame_is_byte_for_byte_the_encoded_event) {
  publication p{45,           "9f1c2a7e",         1767225600123,  "k3x9q2-0-1",
                "dis\"patch", R"({"text":"hi"})", "alert.claimed"};
  auto parts =
      make_event_frame("crisis:acme", p.event, p.ts_ms, p.sender_client, p.sender_name, p.data);
  // What a Redis script does: head .. offset .. middle .. epoch .. tail.
  std::string spliced =
      parts.head + "45" + std::string(event_frame_parts::middle) + "9f1c2a7e" + parts.tail;
  EXPECT_EQ(spliced, encode_message_event("crisis:acme", p));
  EXPECT_EQ(
      spliced,
      R"({"event":"alert.claimed","channel":"crisis:acme","offset":45,"epoch":"9f1c2a7e","ts":1767225600123,"sender":{"client":"k3x9q2-0-1","name":"dis\"patch"},"data":{"text":"hi"}})");
  EXPECT_EQ(parts.assemble(45, "9f1c2a7e"), spliced);
}

TEST(event_frame, empty_data_is_null) {
  auto parts = make_event_frame("c", "message", 1, "c1", "n", "");
  EXPECT_EQ(
      parts.assemble(1, "e"),
      R"({"event":"message","channel":"c","offset":1,"epoch":"e","ts":1,"sender":{"client":"c1","name":"n"},"data":null})");
}

TEST(json_writer, numbers_are_shortest_round_trip_and_never_invalid_json) {
  muster::protocol::json_writer w;
  w.begin_array().number(0.5).number(3.0).number(-1e21).number(1.0 / 3);
  w.number(std::numeric_limits<double>::quiet_NaN()).number(HUGE_VAL).end_array();
  EXPECT_EQ(w.str(), "[0.5,3,-1e+21,0.3333333333333333,null,null]");
}
