// HTTP/1.1 framing at the edge: requests two parsers could frame differently are refused and
// the connection closed (RFC 9112 6.1/6.3: a smuggling risk behind proxies), oversized header
// blocks are answered, and every refusal carries the common headers.
#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include "tests/integration/server_process.hpp"

using namespace muster::test;
using namespace std::chrono_literals;
namespace net = boost::asio;

namespace {

// Writes `request` on a fresh connection and reads until the server closes it (bounded).
// `closed` says whether it did close within the time.
struct exchange {
  std::string received;
  bool closed = false;
};

exchange send_raw(std::uint16_t port, const std::string& request,
                  std::chrono::milliseconds timeout = 3s) {
  net::io_context ioc;
  net::ip::tcp::socket sock(ioc);
  sock.connect({net::ip::make_address("127.0.0.1"), port});
  boost::system::error_code ec;
  net::write(sock, net::buffer(request), ec);
  exchange out;
  sock.non_blocking(true);
  char buf[8192];
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto n = sock.read_some(net::buffer(buf), ec);
    if (ec == net::error::would_block) {
      std::this_thread::sleep_for(5ms);
      continue;
    }
    out.received.append(buf, n);
    if (ec) {
      out.closed = true;
      break;
    }
  }
  return out;
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

void expect_common_headers(const std::string& response) {
  EXPECT_NE(response.find("Server: musterd/"), std::string::npos) << response;
  EXPECT_NE(response.find("Cache-Control: no-store"), std::string::npos) << response;
  EXPECT_NE(response.find("Content-Type: "), std::string::npos) << response;
}

}  // namespace

TEST(http_framing, a_transfer_encoding_other_than_chunked_with_content_length_is_400_and_close) {
  server_process server;
  // Framed by Content-Length, a second request would hide in the body ("GET /healthz").
  std::string smuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  auto got = send_raw(server.port(),
                      "POST /api/v1/alerts HTTP/1.1\r\nHost: x\r\n"
                      "Transfer-Encoding: xchunked\r\nContent-Length: " +
                          std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled);
  EXPECT_EQ(got.received.rfind("HTTP/1.1 400 ", 0), 0u) << got.received;
  EXPECT_TRUE(got.closed) << "the connection must not be reused";
  EXPECT_EQ(count(got.received, "HTTP/1.1 "), 1) << "nothing was answered for the body";
  expect_common_headers(got.received);
}

TEST(http_framing, chunked_with_content_length_and_unknown_codings_are_refused) {
  server_process server;
  for (std::string te : {"Transfer-Encoding: chunked\r\nContent-Length: 5",
                         "Transfer-Encoding: gzip", "Transfer-Encoding: gzip, chunked",
                         "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked"}) {
    auto got = send_raw(server.port(),
                        "POST /api/v1/alerts HTTP/1.1\r\nHost: x\r\n" + te + "\r\n\r\n0\r\n\r\n");
    EXPECT_EQ(got.received.rfind("HTTP/1.1 400 ", 0), 0u) << te << "\n" << got.received;
    EXPECT_TRUE(got.closed) << te;
  }
}

TEST(http_framing, a_plain_chunked_request_is_served_and_the_connection_kept) {
  server_process server;
  auto got = send_raw(server.port(),
                      "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
                      "0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(count(got.received, "HTTP/1.1 200 OK"), 2) << got.received;
}

TEST(http_framing, a_header_block_over_16_kib_gets_431) {
  server_process server;
  auto got = send_raw(server.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
                                         std::string(17 * 1024, 'a') + "\r\n\r\n");
  EXPECT_EQ(got.received.rfind("HTTP/1.1 431 ", 0), 0u) << got.received.substr(0, 200);
  EXPECT_TRUE(got.closed);
  expect_common_headers(got.received);
}

TEST(http_framing, a_malformed_request_gets_400_not_silence) {
  server_process server;
  for (std::string bad : {"GARBAGE\r\n\r\n", "GET /healthz HTTP/9.9\r\n\r\n",
                          "GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n"}) {
    auto got = send_raw(server.port(), bad);
    EXPECT_EQ(got.received.rfind("HTTP/1.1 400 ", 0), 0u) << bad << "\n" << got.received;
    EXPECT_TRUE(got.closed) << bad;
    expect_common_headers(got.received);
  }
}

TEST(http_framing, the_413_carries_the_common_headers) {
  server_process server(auth_args());
  std::string body(1024 * 1024 + 10, 'x');
  auto got = send_raw(server.port(),
                      "POST /api/v1/alerts HTTP/1.1\r\nHost: x\r\nAuthorization: "
                      "Bearer " +
                          test_token("bot", "bot") +
                          "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_EQ(got.received.rfind("HTTP/1.1 413 ", 0), 0u) << got.received.substr(0, 300);
  expect_common_headers(got.received);
  EXPECT_NE(got.received.find("message_too_large"), std::string::npos);
}
