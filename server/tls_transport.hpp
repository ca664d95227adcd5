#pragma once
// A connection's TLS stream, and for a WebSocket the buffer its reads decrypt into (a plain
// connection reads into its thread's shared buffer instead: asynchronous TLS reads need a
// buffer of their own). Its session's I/O thread only.
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <array>

namespace muster::server {

using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

struct tls_transport {
  explicit tls_transport(tls_stream&& s) : stream(std::move(s)) {}
  tls_stream stream;
  // Small: Asio's TLS stream already buffers whole records (about 70 KiB per connection).
  std::array<char, 4 * 1024> buffer;
};

}  // namespace muster::server
