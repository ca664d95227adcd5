#include "server/ws_framing.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <simdjson.h>

#include <cstring>

namespace muster::server::ws {

void parser::feed(std::string_view bytes) {
  // Compact before growing so a long-lived connection never accumulates consumed bytes.
  if (pos_ > 0 && pos_ == in_.size()) {
    in_.clear();
    pos_ = 0;
  } else if (pos_ > 4096 && pos_ * 2 > in_.size()) {
    in_.erase(0, pos_);
    pos_ = 0;
  }
  in_.append(bytes.data(), bytes.size());
}

void parser::shrink() {
  if (pos_ == in_.size()) {
    std::string().swap(in_);
    pos_ = 0;
  }
  if (!in_message_) std::string().swap(message_);
  if (control_.capacity() > 128) std::string().swap(control_);
}

event parser::fail(std::uint16_t code, const char* what) {
  failed_ = true;
  event e;
  e.kind = event::error;
  e.code = code;
  e.what = what;
  return e;
}

event parser::next() {
  if (failed_) return fail(close_protocol_error, "connection already failed");
  // The previous message's view is no longer needed: reuse its storage.
  if (!in_message_) message_.clear();
  for (;;) {
    std::string_view buf(in_.data() + pos_, in_.size() - pos_);
    if (buf.size() < 2) return {};
    auto b0 = static_cast<std::uint8_t>(buf[0]), b1 = static_cast<std::uint8_t>(buf[1]);
    bool fin = b0 & 0x80;
    auto op = static_cast<opcode>(b0 & 0x0f);
    if (b0 & 0x70)
      return fail(close_protocol_error, "reserved bits set (no extension was negotiated)");
    if (!(b1 & 0x80)) return fail(close_protocol_error, "client frames must be masked");
    std::uint64_t len = b1 & 0x7f;
    std::size_t hdr = 2;
    if (len == 126) {
      if (buf.size() < 4) return {};
      len = (std::uint64_t(std::uint8_t(buf[2])) << 8) | std::uint8_t(buf[3]);
      hdr = 4;
      if (len < 126) return fail(close_protocol_error, "length not minimally encoded");
    } else if (len == 127) {
      if (buf.size() < 10) return {};
      len = 0;
      for (int i = 2; i < 10; ++i) len = (len << 8) | std::uint8_t(buf[i]);
      hdr = 10;
      if (len >> 63) return fail(close_protocol_error, "length has its top bit set");
      if (len <= 0xffff) return fail(close_protocol_error, "length not minimally encoded");
    }
    bool control = static_cast<std::uint8_t>(op) & 0x8;
    if (control) {
      if (!fin) return fail(close_protocol_error, "fragmented control frame");
      if (len > 125) return fail(close_protocol_error, "control frame longer than 125 bytes");
      if (op != opcode::close && op != opcode::ping && op != opcode::pong)
        return fail(close_protocol_error, "unknown control opcode");
    } else {
      if (op != opcode::continuation && op != opcode::text && op != opcode::binary)
        return fail(close_protocol_error, "unknown data opcode");
      if (op == opcode::continuation && !in_message_)
        return fail(close_protocol_error, "continuation without a message");
      if (op != opcode::continuation && in_message_)
        return fail(close_protocol_error, "new message inside a fragmented one");
      // Checked before the payload arrives: an oversized message is refused without buffering it.
      std::size_t so_far = op == opcode::continuation ? message_.size() : 0;
      if (so_far + len > max_) return fail(close_too_big, "message larger than the limit");
    }
    if (buf.size() < hdr + 4 + len) return {};
    unsigned char mask[4];
    std::memcpy(mask, buf.data() + hdr, 4);
    const char* payload = buf.data() + hdr + 4;
    pos_ += hdr + 4 + static_cast<std::size_t>(len);

    std::string& dst = control ? control_ : message_;
    if (control) dst.clear();
    if (!control && op != opcode::continuation) {
      in_message_ = true;
      message_text_ = op == opcode::text;
      message_.clear();
    }
    auto start = dst.size();
    dst.append(payload, static_cast<std::size_t>(len));
    for (std::size_t i = 0; i < len; ++i)
      dst[start + i] = static_cast<char>(dst[start + i] ^ mask[i & 3]);

    event e;
    if (control) {
      if (op == opcode::ping) {
        e.kind = event::ping;
        e.payload = control_;
      } else if (op == opcode::pong) {
        e.kind = event::pong;
        e.payload = control_;
      } else {
        e.kind = event::close;
        e.code = 1005;
        if (control_.size() == 1) return fail(close_protocol_error, "close payload of one byte");
        if (control_.size() >= 2) {
          e.code = static_cast<std::uint16_t>((std::uint8_t(control_[0]) << 8) |
                                              std::uint8_t(control_[1]));
          bool valid = (e.code >= 1000 && e.code <= 1003) || (e.code >= 1007 && e.code <= 1011) ||
                       (e.code >= 3000 && e.code <= 4999);
          if (!valid) return fail(close_protocol_error, "invalid close code");
          e.payload = std::string_view(control_).substr(2);
          if (!simdjson::validate_utf8(e.payload.data(), e.payload.size()))
            return fail(close_invalid_payload, "close reason is not UTF-8");
        }
      }
      return e;
    }
    if (!fin) continue;  // more fragments to come
    in_message_ = false;
    if (message_text_ && !simdjson::validate_utf8(message_.data(), message_.size()))
      return fail(close_invalid_payload, "text message is not valid UTF-8");
    e.kind = event::message;
    e.text = message_text_;
    e.payload = message_;
    return e;
  }
}

std::string frame(opcode op, std::string_view payload) {
  std::string out;
  auto n = payload.size();
  out.reserve(n + 10);
  out.push_back(static_cast<char>(0x80 | static_cast<std::uint8_t>(op)));
  if (n < 126) {
    out.push_back(static_cast<char>(n));
  } else if (n <= 0xffff) {
    out.push_back(static_cast<char>(126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xff));
  } else {
    out.push_back(static_cast<char>(127));
    for (int i = 7; i >= 0; --i)
      out.push_back(static_cast<char>((std::uint64_t(n) >> (8 * i)) & 0xff));
  }
  out.append(payload);
  return out;
}

std::string close_frame(std::uint16_t code, std::string_view reason) {
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xff));
  payload.append(reason.substr(0, 123));
  return frame(opcode::close, payload);
}

std::size_t header_size(std::string_view framed) noexcept {
  if (framed.size() < 2) return framed.size();
  auto l = static_cast<std::uint8_t>(framed[1]) & 0x7f;
  return l < 126 ? 2 : l == 126 ? 4 : 10;
}

std::string accept_key(std::string_view key) {
  static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string s(key);
  s += guid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), digest);
  unsigned char out[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
}

}  // namespace muster::server::ws
