#pragma once
// The server's TLS settings as an OpenSSL context: a certificate chain and its key from PEM
// files, TLS 1.2 or 1.3 at least. Built off the I/O threads (start-up, SIGHUP), then shared
// read-only by every thread.
#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>

namespace muster::server {

struct tls_files {
  std::string cert_file;            // PEM: the certificate, then the chain above it
  std::string key_file;             // PEM: its private key
  std::string min_version = "1.2";  // "1.2" or "1.3"
};

/// Throws std::runtime_error naming the file and what OpenSSL found wrong with it.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const tls_files& files);

/// The context's certificate for the log: "CN=example.org, valid until Jan  1 00:00:00 2027 GMT".
std::string describe_certificate(boost::asio::ssl::context& ctx);

}  // namespace muster::server
